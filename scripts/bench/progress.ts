/** What a bench run is doing now, and the small statistics every scenario reports. */

/** What the run is doing now, said on stderr (a long run is not silent, and a stall says where). */
export let stage = 'starting';
let sayProgress = (now: string): void => console.error(`[bench] ${now}`);
/** Where progress is said (the smoke test keeps it quiet). */
export function onProgress(say: (now: string) => void): void {
  sayProgress = say;
}
export function progress(now: string): void {
  stage = now;
  sayProgress(now);
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
export const round = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;
