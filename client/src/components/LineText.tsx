import type { ViewLine } from '../core/line-store.js';

/** One line's text: ANSI spans as styled spans (never innerHTML); group markers as headers. */
export function LineText({
  line,
  folded,
  onToggle,
}: {
  line: ViewLine;
  folded?: boolean;
  onToggle?: () => void;
}) {
  if (line.line.startsWith('::group::')) {
    return (
      <button className="group" onClick={onToggle} aria-expanded={!folded}>
        {folded ? '▸' : '▾'} {line.line.slice('::group::'.length)}
      </button>
    );
  }
  if (line.line.startsWith('::endgroup::')) return <span className="group-end" />;
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
