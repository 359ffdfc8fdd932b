import type { ViewLine } from '../core/line-store.js';
import { span } from './format.js';
import type { GroupInfo } from './groups.js';

/** `::error::msg`, `::warning file=a.ts,line=3::msg` (GitHub Actions' workflow commands). */
export const ANNOTATION = /^::(error|warning)( [^:]*)?::(.*)$/;

/**
 * One line's text: ANSI spans as styled spans (never innerHTML); group markers as headers;
 * `::error::` and `::warning::` lines as annotations.
 */
export function LineText({
  line,
  folded,
  group,
  onToggle,
}: {
  line: ViewLine;
  folded?: boolean;
  group?: GroupInfo | undefined;
  onToggle?: () => void;
}) {
  if (line.line.startsWith('::group::')) {
    return (
      <button className="group" onClick={onToggle} aria-expanded={!folded}>
        {folded ? '▸' : '▾'} {line.line.slice('::group::'.length)}
        {group && (
          <span className="group-meta">
            {' '}
            · {group.lines} line{group.lines === 1 ? '' : 's'}
            {group.endTs !== null
              ? ` · ${span(Math.round((group.endTs - group.startTs) / 1000))}`
              : ' · running'}
          </span>
        )}
      </button>
    );
  }
  if (line.line.startsWith('::endgroup::')) return <span className="group-end" />;
  const annotation = ANNOTATION.exec(line.line);
  if (annotation) {
    const kind = annotation[1] === 'error' ? 'error' : 'warning';
    return (
      <span className={`annotation annotation-${kind}`}>
        <strong>{kind === 'error' ? 'Error' : 'Warning'}:</strong> {annotation[3]}
        {annotation[2] ? <span className="annotation-where"> ({annotation[2].trim()})</span> : null}
      </span>
    );
  }
  return (
    <span className="text">
      {line.spans.map((s, i) => (
        <span
          key={i}
          style={{
            color: s.fg ?? undefined,
            background: s.bg ?? undefined,
            fontWeight: s.bold ? 700 : undefined,
            fontStyle: s.italic ? 'italic' : undefined,
            textDecoration: s.underline ? 'underline' : undefined,
          }}
        >
          {s.text}
        </span>
      ))}
    </span>
  );
}
