/**
 * `neetodeploy logs -a APP [--tail]`: past lines, then (with --tail) new ones as they come.
 * The server sends NDJSON; we print Heroku-style lines, or the JSON objects with --json.
 * Ctrl-C ends it with exit code 0. A followed stream that breaks (the keys-service restarts, a
 * proxy drops it) is opened again with backoff from the last line's time (log-cursor.ts), with
 * one line on stderr when it breaks and one when it is back.
 */
import readline from 'node:readline';
import type { IncomingMessage } from 'node:http';
import { formatLogLine, logLineSchema } from '@neetodeploy/contract';
import type { LogLineBody, LogsQuery } from '@neetodeploy/contract';
import type { ApiClient } from '../api.js';
import { withAppHint } from '../app-errors.js';
import type { Deps, CommandResult } from '../deps.js';
import { ApiError, CliError, ConnectionError, UsageError } from '../errors.js';
import { write } from '../io.js';
import { LogCursor } from '../log-cursor.js';
import { stderrPaint } from '../terminal.js';
import { checkApp, checkLogLines, checkProcessOrInstance } from '../validate.js';

export interface LogsOptions {
  readonly app: string;
  readonly tail?: boolean;
  readonly num?: string;
  readonly process?: string;
  readonly since?: string;
  readonly json?: boolean;
}

/** Waits between reconnection attempts: doubling from the first, then the last one repeated. */
export const RECONNECT_DELAYS_MS = [250, 500, 1000, 2000, 4000] as const;
/** The API's bound on `tail`: on reconnecting, every line since the cursor is wanted. */
const MAX_TAIL = 10_000;

interface StreamContext {
  readonly options: LogsOptions;
  /** `-p web.1`: the API filters by type, the instance is kept here. */
  readonly instance: string | undefined;
  readonly cursor: LogCursor;
  readonly deps: Deps;
  readonly signal: AbortSignal;
}

/** Prints a response's lines until it ends; rejects when it breaks (not on our own abort). */
async function printStream(res: IncomingMessage, ctx: StreamContext): Promise<void> {
  const { options, instance, cursor, deps } = ctx;
  const lines = readline.createInterface({ input: res, crlfDelay: Infinity });
  for await (const raw of lines) {
    if (raw === '') continue;
    let parsed: LogLineBody;
    try {
      parsed = logLineSchema.parse(JSON.parse(raw));
    } catch {
      if (options.json && instance === undefined) await write(deps.io.stdout, `${raw}\n`);
      continue;
    }
    if (!cursor.accept(parsed)) continue;
    if (instance !== undefined && parsed.process !== instance) continue;
    await write(deps.io.stdout, options.json ? `${raw}\n` : `${formatLogLine(parsed)}\n`);
  }
}

/** Whether a failure to (re)open the stream may pass: the API away or briefly failing. */
function isTransient(err: unknown): boolean {
  if (err instanceof ApiError) return err.status >= 500 || err.status === 429;
  return err instanceof ConnectionError;
}

/** When a response was sent, by the server's clock (else ours), as an ISO time. */
function serverNow(res: IncomingMessage): string {
  const date = Date.parse(res.headers.date ?? '');
  return new Date(Number.isNaN(date) ? Date.now() : date).toISOString();
}

/**
 * Follows the stream, reopening it when it ends or breaks, until Ctrl-C (resolves) or an
 * error that retrying cannot fix (rejects).
 */
async function follow(
  client: ApiClient,
  first: IncomingMessage,
  query: LogsQuery,
  ctx: StreamContext,
): Promise<void> {
  const { deps, cursor, signal } = ctx;
  const paint = stderrPaint(deps.io);
  let res: IncomingMessage | undefined = first;
  // Before any line came, resume from when the stream started (nothing older is missing).
  const started = serverNow(first);
  for (let attempt = 0; !signal.aborted;) {
    if (res !== undefined) {
      await printStream(res, ctx).catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException).code === 'EPIPE') throw err;
      });
      if (signal.aborted) return;
      await write(deps.io.stderr, `${paint.hint('log stream interrupted, reconnecting...')}\n`);
      res = undefined;
    }
    await deps.io.sleep(
      RECONNECT_DELAYS_MS[Math.min(attempt, RECONNECT_DELAYS_MS.length - 1)] ?? 1000,
      signal,
    );
    attempt += 1;
    cursor.resume();
    try {
      res = await client.logs(
        ctx.options.app,
        { ...query, follow: true, tail: MAX_TAIL, since: cursor.since ?? started },
        signal,
      );
    } catch (err) {
      if (signal.aborted) return;
      if (!isTransient(err)) throw err;
      continue;
    }
    attempt = 0;
    await write(deps.io.stderr, `${paint.hint('log stream resumed')}\n`);
  }
}

export async function runLogs(options: LogsOptions, deps: Deps): CommandResult {
  checkApp(options.app);
  const tail = options.num !== undefined ? checkLogLines(options.num) : undefined;
  if (options.since !== undefined && !/^(\d+[smhd]|\d{4}-\d{2}-\d{2}T.+)$/.test(options.since)) {
    throw new UsageError('--since takes a duration such as 10m, 2h, 1d or an ISO 8601 time');
  }
  // `-p web.1`: the API filters by process type; the instance is filtered here (as Heroku does).
  const selector =
    options.process !== undefined ? checkProcessOrInstance(options.process) : undefined;
  const instance = selector?.includes('.') ? selector : undefined;
  const processType =
    instance !== undefined ? instance.slice(0, instance.lastIndexOf('.')) : selector;
  const { client } = await deps.api.session();
  const abort = new AbortController();
  const stopListening = deps.io.onInterrupt(() => abort.abort());
  // `logs | head -1`: a reader that went away ends us quietly, like Ctrl-C, not with a trace.
  let stdoutClosed = false;
  deps.io.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') return;
    stdoutClosed = true;
    abort.abort();
  });
  const query: LogsQuery = {
    ...(tail !== undefined ? { tail } : {}),
    // Left out rather than false: the server's default, and the query the CLI always sent.
    ...(options.tail ? { follow: true } : {}),
    ...(processType !== undefined ? { process: processType } : {}),
    ...(options.since !== undefined ? { since: options.since } : {}),
  };
  const ctx: StreamContext = {
    options,
    instance,
    cursor: new LogCursor(),
    deps,
    signal: abort.signal,
  };
  try {
    const res = await withAppHint(client, options.app, () =>
      client.logs(options.app, query, abort.signal),
    );
    if (options.tail) {
      await follow(client, res, query, ctx);
      return;
    }
    try {
      await printStream(res, ctx);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EPIPE') return;
      if (!abort.signal.aborted)
        throw new CliError(`the log stream broke: ${(err as Error).message}`);
    }
  } catch (err) {
    if (abort.signal.aborted) return;
    if ((err as NodeJS.ErrnoException).code === 'EPIPE' || stdoutClosed) return;
    throw err;
  } finally {
    stopListening();
    abort.abort();
  }
}
