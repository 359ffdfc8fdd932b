/**
 * Titles read across a room: jobs of one matrix share a long start ("Matrix job 59 (node 20,
 * ubuntu)…") and differ at the end, so cutting the end hides what tells them apart. The shared
 * start is said once and each title shows what is its own.
 */

/** Shorter than this, a shared start is not worth taking out. */
const MIN_PREFIX = 8;

/**
 * The start all `titles` share, cut back to the end of a word (so "Build web" and "Build
 * worker" share "Build ", not "Build w"); '' for fewer than two titles or a short one.
 */
export function sharedStart(titles: readonly string[]): string {
  if (titles.length < 2) return '';
  let prefix = titles[0]!;
  for (const title of titles.slice(1)) {
    let i = 0;
    while (i < prefix.length && i < title.length && prefix[i] === title[i]) i++;
    prefix = prefix.slice(0, i);
  }
  // Never a whole title: each keeps something of its own.
  if (titles.some((t) => t.length === prefix.length)) prefix = prefix.slice(0, -1);
  const wordEnd = Math.max(prefix.lastIndexOf(' '), prefix.lastIndexOf('/'), prefix.lastIndexOf('('));
  prefix = wordEnd >= 0 ? prefix.slice(0, wordEnd + 1) : '';
  return prefix.trim().length >= MIN_PREFIX ? prefix : '';
}

/** `title` without `start`, marked as shortened. */
export function ownPart(title: string, start: string): string {
  return start && title.startsWith(start) ? `…${title.slice(start.length)}` : title;
}
