/**
 * Everything a command does with the user's terminal and machine, behind one interface so tests
 * drive commands with fake streams. `main.ts` builds the real one from `process`.
 */
import type { Readable, Writable } from 'node:stream';

export interface TerminalSize {
  readonly cols: number;
  readonly rows: number;
}

export interface Io {
  readonly stdin: Readable;
  /** Data (what a script would capture). */
  readonly stdout: Writable;
  /** Progress, prompts and errors. */
  readonly stderr: Writable;
  readonly stdinIsTTY: boolean;
  readonly stdoutIsTTY: boolean;
  /**
   * Spinners on stderr (a terminal that redraws lines; see terminal.ts). Unset: none, as for a
   * pipe.
   */
  readonly showProgress?: boolean;
  /** Colour in what goes to stderr (`NO_COLOR`, `FORCE_COLOR`, a terminal). Unset: none. */
  readonly stderrColor?: boolean;
  /** `$TERM` for remote ptys. */
  readonly term: string;
  /** No-op when stdin is not a terminal. */
  setRawMode(raw: boolean): void;
  terminalSize(): TerminalSize | undefined;
  /** Calls `listener` on terminal resizes (SIGWINCH); returns the unsubscribe function. */
  onResize(listener: () => void): () => void;
  /** Calls `listener` on Ctrl-C (SIGINT) instead of dying; returns the unsubscribe function. */
  onInterrupt(listener: () => void): () => void;
  /** False without a display (SSH session, CI): login then only prints the URL. */
  readonly canOpenBrowser: boolean;
  openBrowser(url: string): Promise<void>;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  readonly hostname: string;
}

/** Rejects with the signal's reason when aborted. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason as Error);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Writes and resolves once the stream accepted it (keeps output ordered and bounded). */
export function write(stream: Writable, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(text, (err) => (err ? reject(err) : resolve()));
  });
}
