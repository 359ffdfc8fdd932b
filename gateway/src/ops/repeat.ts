/**
 * Runs an async task every `intervalMs`, counted from the end of the previous run, so runs never
 * overlap however slow Redis is. The timer does not keep the process alive. `stop()` cancels the
 * next run and resolves once a run under way has finished.
 *
 * The gateway's one idiom for periodic work that waits on anything (the reaper, the library
 * keeper, cluster health, the index prune). Only synchronous ticks use `setInterval` (the
 * heartbeat, token expiry): they cannot overlap. The liveness probe keeps its own timer, because
 * a command timed out elsewhere starts a probe at once.
 */
export interface Repeating {
  /** True once stop() was called (a long run can check it to end early). */
  readonly stopped: boolean;
  stop(): Promise<void>;
}

export function repeatAfterEach(
  intervalMs: number,
  task: () => Promise<void>,
  { runNow = false }: { runNow?: boolean } = {},
): Repeating {
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  const state = {
    stopped: false,
    async stop(): Promise<void> {
      state.stopped = true;
      if (timer) clearTimeout(timer);
      await running;
    },
  };
  const schedule = (): void => {
    timer = setTimeout(tick, intervalMs);
    timer.unref();
  };
  const tick = (): void => {
    if (state.stopped) return;
    // A task logs its own failures; a rejection left over is not a reason to stop repeating.
    running = task()
      .catch(() => undefined)
      .finally(() => {
        running = null;
        if (!state.stopped) schedule();
      });
  };
  if (runNow) tick();
  else schedule();
  return state;
}
