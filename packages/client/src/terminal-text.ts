/**
 * What a terminal does to a line besides colours (the ANSI SGR codes anser reads): a backspace
 * takes back the character before it (`a\bb` shows `b`, man pages' `_\bx` shows `x`), and OSC 8
 * hyperlinks (`ESC ] 8 ; ; <url> ST text ESC ] 8 ; ; ST`, as ls, gcc and cargo print them) make
 * their text a link. Other OSC sequences (window titles) are dropped, never shown as text.
 */

export interface Hyperlink {
  /** Character range [start, end) in the text without escape sequences. */
  start: number;
  end: number;
  href: string;
}

/** Applies each backspace to the character before it (none at the start of the line). */
export function applyBackspaces(text: string): string {
  if (!text.includes('\b')) return text;
  const out: string[] = [];
  for (const char of text) {
    if (char === '\b') out.pop();
    else out.push(char);
  }
  return out.join('');
}

// ESC ] … terminated by BEL or ESC \ (ST).
// eslint-disable-next-line no-control-regex -- terminal escape sequences are control characters
const OSC = /\u001b\](\d*);([^\u0007\u001b]*?)(?:\u0007|\u001b\\)/g;
// SGR and other CSI sequences: no width, kept for anser but not counted as text.
// eslint-disable-next-line no-control-regex -- terminal escape sequences are control characters
const CSI = /\u001b\[[0-?]*[ -/]*[@-~]/g;

/** Only links a browser should follow from a log: no javascript:, data: or file: URLs. */
export function safeHref(url: string): string | null {
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'http:' || parsed.protocol === 'https:' ? parsed.href : null;
  } catch {
    return null;
  }
}

/**
 * The line without OSC sequences (SGR codes stay, for anser), and where its OSC 8 links are,
 * counted in the characters that remain once the SGR codes are gone too.
 */
export function extractHyperlinks(text: string): { text: string; links: Hyperlink[] } {
  if (!text.includes('\u001b]')) return { text, links: [] };
  const links: Hyperlink[] = [];
  let open: { start: number; href: string | null } | null = null;
  let visible = 0; // characters of text so far, escapes not counted
  let kept = '';
  let from = 0;
  for (const match of text.matchAll(OSC)) {
    const before = text.slice(from, match.index);
    kept += before;
    visible += before.replace(CSI, '').length;
    from = match.index + match[0].length;
    if (match[1] !== '8') continue; // a window title or the like: dropped
    const url = match[2]!.slice(match[2]!.indexOf(';') + 1);
    if (open && open.href && visible > open.start)
      links.push({ start: open.start, end: visible, href: open.href });
    open = url === '' ? null : { start: visible, href: safeHref(url) };
  }
  const rest = text.slice(from);
  kept += rest;
  if (open && open.href) {
    const end = visible + rest.replace(CSI, '').length;
    if (end > open.start) links.push({ start: open.start, end, href: open.href });
  }
  return { text: kept, links };
}

/** Plain http(s) URLs in text, for lines whose tools printed them without OSC 8. */
export const PLAIN_URL = /\bhttps?:\/\/[^\s<>"'`]+[^\s<>"'`.,;:!?)\]}]/g;
