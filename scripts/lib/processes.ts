/** Processes a script or test started, seen from outside. */
import { readFileSync } from 'node:fs';

/**
 * Running: signalable and not a zombie (an orphan's exit is reaped by PID 1, which in a sandbox
 * may never do it, so a dead process can stay signalable).
 */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc (not Linux): signalable is all we can know
  }
}
