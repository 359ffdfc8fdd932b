import type { CSSProperties, ReactNode } from 'react';
import { type StyledSpan, type ViewLine, PLAIN_URL, safeHref } from '../../../packages/client/src/index.js';
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
  mark,
  onToggle,
}: {
  line: ViewLine;
  folded?: boolean;
  group?: GroupInfo | undefined;
  /** Text to mark wherever it occurs (a search); only what matches is highlighted, not the line. */
  mark?: string | undefined;
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
        <span key={i} style={spanStyle(s)}>
          {s.href ? (
            <a href={s.href} target="_blank" rel="noopener noreferrer">
              {mark ? withMarks(s.text, mark) : s.text}
            </a>
          ) : (
            withUrls(s.text, mark)
          )}
        </span>
      ))}
    </span>
  );
}

/** `text` with its plain http(s) URLs as links (tools that print them without OSC 8). */
function withUrls(text: string, mark: string | undefined): ReactNode {
  if (!text.includes('http')) return mark ? withMarks(text, mark) : text;
  const parts: ReactNode[] = [];
  let from = 0;
  for (const match of text.matchAll(PLAIN_URL)) {
    const href = safeHref(match[0]);
    if (!href) continue;
    if (match.index > from)
      parts.push(mark ? withMarks(text.slice(from, match.index), mark) : text.slice(from, match.index));
    parts.push(
      <a key={match.index} href={href} target="_blank" rel="noopener noreferrer">
        {mark ? withMarks(match[0], mark) : match[0]}
      </a>,
    );
    from = match.index + match[0].length;
  }
  if (from === 0) return mark ? withMarks(text, mark) : text;
  if (from < text.length) parts.push(mark ? withMarks(text.slice(from), mark) : text.slice(from));
  return parts;
}

/** `text` with every case-insensitive occurrence of `needle` in a <mark> (the search's hits). */
function withMarks(text: string, needle: string): ReactNode {
  const lower = text.toLowerCase();
  const find = needle.toLowerCase();
  if (!find || !lower.includes(find)) return text;
  const parts: ReactNode[] = [];
  let from = 0;
  for (let at = lower.indexOf(find); at >= 0; at = lower.indexOf(find, from)) {
    if (at > from) parts.push(text.slice(from, at));
    parts.push(
      <mark key={at} className="hit">
        {text.slice(at, at + find.length)}
      </mark>,
    );
    from = at + find.length;
  }
  if (from < text.length) parts.push(text.slice(from));
  return parts;
}

/** A span's ANSI styling as CSS: the tool's own colours, on stdout and stderr alike. */
function spanStyle(s: StyledSpan): CSSProperties {
  const decorations = [s.underline && 'underline', s.strikethrough && 'line-through'].filter(Boolean);
  return {
    color: s.fg ?? undefined, // a reversed span's colours were swapped when it was parsed
    background: s.bg ?? undefined,
    fontWeight: s.bold ? 700 : undefined,
    fontStyle: s.italic ? 'italic' : undefined,
    textDecoration: decorations.length > 0 ? decorations.join(' ') : undefined,
    opacity: s.dim ? 0.6 : undefined,
  };
}
