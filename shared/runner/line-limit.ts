/**
 * The 16 KiB line limit of docs/architecture.md, applied before a line leaves the runner so that a
 * megabyte line is not shipped to Redis only to be cut there. The Lua library applies the same
 * rule again (it is the authority); a line this function returns passes through it unchanged.
 */
export const MAX_LINE_BYTES = 16_384;

/**
 * Cuts `line` on a character boundary so that, with ` [truncated N bytes]` appended, it fits in
 * MAX_LINE_BYTES. `droppedBytes` counts bytes the caller already discarded (a line splitter that
 * keeps only the head of a huge line); N includes them.
 */
export function limitLine(line: string, droppedBytes = 0): string {
  const bytes = Buffer.from(line, 'utf8');
  const total = bytes.length + droppedBytes;
  if (total <= MAX_LINE_BYTES) return line;
  let keep = MAX_LINE_BYTES - ` [truncated ${total} bytes]`.length;
  keep = Math.min(keep, bytes.length);
  // step back over UTF-8 continuation bytes (10xxxxxx) so that no character is split
  while (keep > 0 && keep < bytes.length && ((bytes[keep] ?? 0) & 0xc0) === 0x80) keep--;
  return `${bytes.subarray(0, keep).toString('utf8')} [truncated ${total - keep} bytes]`;
}
