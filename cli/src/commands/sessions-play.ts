/**
 * `neetodeploy sessions:play ID [--speed N]`: replays a recorded session in this terminal with
 * its original timing divided by N (`--speed 0` or `--no-wait`: all at once). Output events go
 * to stdout, the console's stderr (`e`) to stderr; input and resizes are not replayed (a pty's
 * echo is already in the output). Ctrl-C stops with 130.
 */
import readline from 'node:readline';
import { isSessionId } from '@neetodeploy/contract';
import type { CommandResult, Deps } from '../deps.js';
import { ApiError, CliError, UsageError } from '../errors.js';
import { quoteShort } from '../format.js';
import { write } from '../io.js';

export interface SessionsPlayOptions {
  readonly id: string;
  readonly speed?: string;
  /** Commander's `--no-wait`: false means print at once. */
  readonly wait?: boolean;
}

/** Exit code after Ctrl-C, as a shell reports a process SIGINT ended. */
const INTERRUPTED = 130;
const MAX_SPEED = 1000;

/** One parsed line of the recording: the header, an event, or something we skip. */
type CastLine =
  | { readonly kind: 'header' }
  | {
      readonly kind: 'event';
      readonly interval: number;
      readonly code: string;
      readonly data: string;
    }
  | { readonly kind: 'other' };

/** asciicast v3: a header object, then `[interval, code, data]` arrays; `#` lines are comments. */
export function parseCastLine(line: string): CastLine {
  if (line === '' || line.startsWith('#')) return { kind: 'other' };
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { kind: 'other' };
  }
  if (Array.isArray(value)) {
    const [interval, code, data] = value as unknown[];
    if (typeof interval === 'number' && typeof code === 'string' && typeof data === 'string') {
      return { kind: 'event', interval: Math.max(0, interval), code, data };
    }
    return { kind: 'other' };
  }
  return value !== null && typeof value === 'object' ? { kind: 'header' } : { kind: 'other' };
}

function checkSpeed(options: SessionsPlayOptions): number {
  if (options.wait === false) return 0;
  if (options.speed === undefined) return 1;
  const speed = Number(options.speed);
  if (!/^\d+(\.\d+)?$/.test(options.speed) || !(speed >= 0 && speed <= MAX_SPEED)) {
    throw new UsageError(
      `--speed: ${quoteShort(options.speed)} is not a number from 0 (no waiting) to ${MAX_SPEED}`,
    );
  }
  return speed;
}

/** What an `x`, `m` or `d` event says, for stderr; undefined for events that print nothing. */
function note(code: string, data: string): string | undefined {
  if (code === 'x') {
    if (/^\d+$/.test(data)) return `session ended with exit code ${data}`;
    if (data.startsWith('SIG')) return `session ended by ${data}`;
    return 'session ended without an exit status';
  }
  if (code === 'm' && data !== '') return data;
  if (code === 'd') {
    try {
      const span = JSON.parse(data) as { bytes?: unknown; stream?: unknown };
      if (typeof span.bytes === 'number') {
        const what = span.stream === 'i' ? 'input' : span.stream === 'e' ? 'stderr' : 'output';
        return `${span.bytes} bytes of ${what} not recorded (over the recording limit)`;
      }
    } catch {
      return undefined;
    }
  }
  return undefined;
}

export async function runSessionsPlay(options: SessionsPlayOptions, deps: Deps): CommandResult {
  if (!isSessionId(options.id)) {
    throw new UsageError(
      `ID: ${quoteShort(options.id)} is not a session id (a UUID from \`neetodeploy sessions -a APP\`)`,
    );
  }
  const speed = checkSpeed(options);
  const { client } = await deps.api.session();
  const abort = new AbortController();
  const stopListening = deps.io.onInterrupt(() => abort.abort());
  let stdoutClosed = false;
  deps.io.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') return;
    stdoutClosed = true;
    abort.abort();
  });
  try {
    const res = await client.sessionRecording(options.id, abort.signal).catch((err: unknown) => {
      if (err instanceof ApiError && err.status === 404) {
        throw err.withMessage(
          `no recording of session ${options.id}: list the recorded ones with \`neetodeploy sessions -a APP\``,
        );
      }
      throw err;
    });
    const lines = readline.createInterface({ input: res, crlfDelay: Infinity });
    const started = performance.now();
    // Due times add up from the start, so that rounding in each sleep does not drift.
    let due = 0;
    try {
      for await (const line of lines) {
        if (abort.signal.aborted) break;
        const parsed = parseCastLine(line);
        if (parsed.kind !== 'event') continue;
        if (speed > 0) {
          due += (parsed.interval * 1000) / speed;
          const wait = due - (performance.now() - started);
          if (wait > 1) await deps.io.sleep(wait, abort.signal);
        }
        if (parsed.code === 'o') await write(deps.io.stdout, parsed.data);
        else if (parsed.code === 'e') await write(deps.io.stderr, parsed.data);
        else {
          const text = note(parsed.code, parsed.data);
          if (text !== undefined) await write(deps.io.stderr, `\r\n[${text}]\r\n`);
        }
      }
    } catch (err) {
      if (abort.signal.aborted) return stdoutClosed ? undefined : INTERRUPTED;
      if ((err as NodeJS.ErrnoException).code === 'EPIPE') return undefined;
      throw new CliError(
        `the recording stream broke: ${(err as Error).message}: run the command again`,
      );
    }
    if (abort.signal.aborted) return stdoutClosed ? undefined : INTERRUPTED;
    return undefined;
  } catch (err) {
    if (abort.signal.aborted) return stdoutClosed ? undefined : INTERRUPTED;
    throw err;
  } finally {
    stopListening();
    abort.abort();
  }
}
