/**
 * The 16 standard ANSI colours as anser reports them (its xterm-like RGB triples), mapped to a
 * palette that reads on the log's dark background: every colour here is at least 4.5:1 against
 * #0d1117 (anser's blue, 0,0,187, is 1.55:1 there; its red 2.81:1). Black, which would vanish,
 * becomes a grey. 256-colour and true-colour values are passed through as the program chose them.
 */
const DARK_BACKGROUND: Record<string, string> = {
  '0, 0, 0': '#8b949e', // black
  '187, 0, 0': '#ff7b72', // red
  '0, 187, 0': '#3fb950', // green
  '187, 187, 0': '#d29922', // yellow
  '0, 0, 187': '#79c0ff', // blue
  '187, 0, 187': '#d2a8ff', // magenta
  '0, 187, 187': '#39c5cf', // cyan
  '255, 255, 255': '#e6edf3', // white
  '85, 85, 85': '#8b949e', // bright black
  '255, 85, 85': '#ffa198', // bright red
  '0, 255, 0': '#56d364', // bright green
  '255, 255, 85': '#e3b341', // bright yellow
  '85, 85, 255': '#a5d6ff', // bright blue
  '255, 85, 255': '#e2c5ff', // bright magenta
  '85, 255, 255': '#56d4dd', // bright cyan
};

/** A foreground colour for the dark log background, from anser's `fg` (`"r, g, b"`). */
export function foreground(rgb: string): string {
  return DARK_BACKGROUND[rgb] ?? `rgb(${rgb})`;
}

/** Background colours keep their hue but are darkened enough for the palette's text on them. */
export function background(rgb: string): string {
  return `rgb(${rgb} / 0.35)`.replace(/, /g, ' ');
}

/** The log's own colours (the dashboard's client/src/styles/viewer.css `.viewer`): what reversed text without colours swaps. */
export const LOG_TEXT = '#e6edf3';
export const LOG_BACKGROUND = '#0d1117';

/**
 * A reversed span's colours. anser swaps them itself, defaulting a missing foreground to white
 * and a missing background to black (`isInverted`): on this dark log those defaults become the
 * log's own colours, and the former foreground, now a background, keeps its full palette colour.
 */
export function reversed(anserFg: string | null, anserBg: string | null): { fg: string; bg: string } {
  return {
    fg: !anserFg || anserFg === '0, 0, 0' ? LOG_BACKGROUND : `rgb(${anserFg})`,
    bg: !anserBg || anserBg.replace(/ /g, '') === '255,255,255' ? LOG_TEXT : foreground(anserBg),
  };
}
