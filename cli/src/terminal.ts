/**
 * Colour and progress on the user's terminal, both on stderr only and only when it is one: a
 * pipe or a file never gets an escape code or a spinner frame. Colour follows no-color.org
 * (`NO_COLOR` set and not empty: none, whatever else is set), then `FORCE_COLOR` (set, not `0`
 * or `false`: colour even into a pipe), then whether stderr is a terminal that is not `dumb`.
 * Loaded at start-up (main.ts), so it imports nothing.
 */
import type { Io } from './io.js';

export interface ColorEnv {
  readonly NO_COLOR?: string | undefined;
  readonly FORCE_COLOR?: string | undefined;
  readonly TERM?: string | undefined;
}

/** Whether text for a stream (a terminal when `isTTY`) may carry colour under `env`. */
export function colorEnabled(isTTY: boolean, env: ColorEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '') {
    return env.FORCE_COLOR !== '0' && env.FORCE_COLOR !== 'false';
  }
  return isTTY && env.TERM !== 'dumb';
}

/** Whether a spinner may redraw its line: a terminal that understands `\r` and erase-line. */
export function progressEnabled(isTTY: boolean, env: ColorEnv): boolean {
  return isTTY && env.TERM !== 'dumb';
}

export interface Paint {
  /** The `neetodeploy:` prefix of an error line. */
  error(text: string): string;
  /** What to do next, notes: less prominent than the data around them. */
  hint(text: string): string;
}

const sgr =
  (on: number, off: number) =>
  (text: string): string =>
    `\x1b[${on}m${text}\x1b[${off}m`;

const PLAIN: Paint = { error: (t) => t, hint: (t) => t };
const COLORED: Paint = { error: sgr(31, 39), hint: sgr(2, 22) };

/** How to paint text written to `io.stderr`. */
export function stderrPaint(io: Pick<Io, 'stderrColor'>): Paint {
  return io.stderrColor === true ? COLORED : PLAIN;
}

export interface Spinner {
  /** Stops and erases the spinner's line; idempotent. */
  stop(): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
/** Shorter waits show nothing: a spinner that flashes for a moment is noise. */
export const SPINNER_DELAY_MS = 500;
const FRAME_MS = 80;

/**
 * Shows `text` behind a spinner on stderr once `delayMs` passed, until `stop()`; does nothing
 * unless `io.showProgress`. The line is redrawn with `\r` and erased on stop, so whatever is
 * printed next starts on a clean line. Timers are unref'd: a forgotten spinner keeps no process
 * alive.
 */
export function startSpinner(
  io: Pick<Io, 'stderr' | 'showProgress' | 'terminalSize'>,
  text: string,
  options: { delayMs?: number } = {},
): Spinner {
  if (io.showProgress !== true) return { stop: () => undefined };
  const cols = io.terminalSize()?.cols ?? 80;
  // A line that wraps cannot be erased with \r: keep it within the terminal's width.
  const shown = text.length > cols - 3 ? `${text.slice(0, Math.max(0, cols - 4))}…` : text;
  let frame = 0;
  let drawn = false;
  let interval: NodeJS.Timeout | undefined;
  const draw = (): void => {
    drawn = true;
    io.stderr.write(`\r${FRAMES[frame++ % FRAMES.length]} ${shown}\x1b[K`);
  };
  const delay = setTimeout(() => {
    draw();
    interval = setInterval(draw, FRAME_MS);
    interval.unref();
  }, options.delayMs ?? SPINNER_DELAY_MS);
  delay.unref();
  let stopped = false;
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      clearTimeout(delay);
      if (interval) clearInterval(interval);
      if (drawn) io.stderr.write('\r\x1b[K');
    },
  };
}

/** Runs `work` with a spinner showing `text` (see {@link startSpinner}); stops it however it ends. */
export async function withSpinner<T>(
  io: Pick<Io, 'stderr' | 'showProgress' | 'terminalSize'>,
  text: string,
  work: () => Promise<T>,
): Promise<T> {
  const spinner = startSpinner(io, text);
  try {
    return await work();
  } finally {
    spinner.stop();
  }
}
