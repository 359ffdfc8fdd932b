/** Foldable `::group::` … `::endgroup::` sections of a job's output. */
import type { ViewLine } from '../core/line-store.js';

/** The lines left when the folded groups' bodies are taken out (their headers stay). */
export function withoutFoldedGroups(
  lines: readonly ViewLine[],
  folded: ReadonlySet<number>,
): readonly ViewLine[] {
  if (folded.size === 0) return lines;
  const visible: ViewLine[] = [];
  let hiding = false;
  for (const line of lines) {
    if (hiding) {
      if (line.line.startsWith('::endgroup::')) hiding = false;
      continue;
    }
    visible.push(line);
    if (line.line.startsWith('::group::') && folded.has(line.seq)) hiding = true;
  }
  return visible;
}
