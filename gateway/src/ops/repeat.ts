/**
 * Runs an async task every `intervalMs`, counted from the end of the previous run, so runs never
 * overlap however slow Redis is. The timer does not keep the process alive. `stop()` cancels the
 * next run and resolves once a run under way has finished.
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
    running = task().finally(() => {
      running = null;
      if (!state.stopped) schedule();
    });
  };
  if (runNow) tick();
  else schedule();
  return state;
}
