/**
 * Foldable `::group::` … `::endgroup::` sections of a job's output, as GitHub Actions shows them:
 * nesting tracked, a finished group collapsed unless it holds an error, the end markers never
 * shown as rows, each header with its line count and duration.
 */
import type { ViewLine } from '../../../packages/client/src/index.js';

export interface GroupInfo {
  /** Seq of the `::group::` line. */
  header: number;
  title: string;
  /** Seq of its `::endgroup::`, or null while it is still open. */
  end: number | null;
  /** Lines inside (nested groups' lines included, markers not). */
  lines: number;
  startTs: number;
  endTs: number | null;
  /** A stderr or `::error::` line inside: shown open, so a failure is never hidden. */
  hasError: boolean;
  /** Headers of the groups around it, outermost first. */
  parents: number[];
}

const isStart = (l: ViewLine) => l.line.startsWith('::group::');
const isEnd = (l: ViewLine) => l.line.startsWith('::endgroup::');
const isError = (l: ViewLine) => l.stream === 'stderr' || l.line.startsWith('::error');

/** Every group in `lines`, by the seq of its header. */
export function groupsOf(lines: readonly ViewLine[]): Map<number, GroupInfo> {
  const groups = new Map<number, GroupInfo>();
  const open: GroupInfo[] = [];
  for (const line of lines) {
    if (isStart(line)) {
      const group: GroupInfo = {
        header: line.seq,
        title: line.line.slice('::group::'.length),
        end: null,
        lines: 0,
        startTs: line.ts,
        endTs: null,
        hasError: false,
        parents: open.map((g) => g.header),
      };
      for (const outer of open) outer.lines++;
      groups.set(line.seq, group);
      open.push(group);
    } else if (isEnd(line)) {
      const group = open.pop();
      if (group) {
        group.end = line.seq;
        group.endTs = line.ts;
      }
    } else {
      for (const g of open) {
        g.lines++;
        if (isError(line)) g.hasError = true;
      }
    }
  }
  return groups;
}

/** Open unless the reader chose otherwise: a running group, or a finished one holding an error. */
export const openByDefault = (group: GroupInfo): boolean => group.end === null || group.hasError;

/**
 * The lines shown: a closed group's body is taken out (its header stays), end markers never
 * show, and nesting is respected (an inner end does not end the outer group).
 */
export function visibleLines(
  lines: readonly ViewLine[],
  isOpen: (header: number) => boolean,
): readonly ViewLine[] {
  const visible: ViewLine[] = [];
  /** For each enclosing group: whether it is open. */
  const stack: boolean[] = [];
  let hiddenDepth = 0; // enclosing groups that are closed
  for (const line of lines) {
    if (isEnd(line)) {
      if (stack.pop() === false) hiddenDepth--;
      continue;
    }
    if (hiddenDepth === 0) visible.push(line);
    if (isStart(line)) {
      const open = isOpen(line.seq);
      stack.push(open);
      if (!open) hiddenDepth++;
    }
  }
  return visible;
}

/** The headers of the groups that hold `seq` (to open them for a permalink or a search hit). */
export function groupsHolding(groups: Map<number, GroupInfo>, seq: number): number[] {
  const holding: number[] = [];
  for (const g of groups.values())
    if (g.header < seq && (g.end === null || g.end > seq)) holding.push(g.header);
  return holding;
}
