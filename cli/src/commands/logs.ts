/**
 * `neetodeploy logs -a APP [--tail]`: past lines, then (with --tail) new ones as they come.
 * The server sends NDJSON; we print Heroku-style lines, or the JSON objects with --json.
 * Ctrl-C ends it with exit code 0.
 */
import readline from 'node:readline';
import { formatLogLine, logLineSchema } from '@neetodeploy/contract';
import type { LogLineBody } from '@neetodeploy/contract';
import { withAppHint } from '../app-errors.js';
import type { Deps, CommandResult } from '../deps.js';
import { CliError, UsageError } from '../errors.js';
import { write } from '../io.js';
import { checkApp, checkLogLines, checkProcessOrInstance } from '../validate.js';

export interface LogsOptions {
  readonly app: string;
  readonly tail?: boolean;
  readonly num?: string;
  readonly process?: string;
  readonly since?: string;
  readonly json?: boolean;
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
  try {
    const res = await withAppHint(client, options.app, () =>
      client.logs(
        options.app,
        {
          ...(tail !== undefined ? { tail } : {}),
          // Left out rather than false: the server's default, and the query the CLI always sent.
          ...(options.tail ? { follow: true } : {}),
          ...(processType !== undefined ? { process: processType } : {}),
          ...(options.since !== undefined ? { since: options.since } : {}),
        },
        abort.signal,
      ),
    );
    let ended = false;
    res.once('end', () => (ended = true));
    const lines = readline.createInterface({ input: res, crlfDelay: Infinity });
    try {
      for await (const raw of lines) {
        if (raw === '') continue;
        let parsed: LogLineBody;
        try {
          parsed = logLineSchema.parse(JSON.parse(raw));
        } catch {
          if (options.json && instance === undefined) await write(deps.io.stdout, `${raw}\n`);
          continue;
        }
        if (instance !== undefined && parsed.process !== instance) continue;
        await write(deps.io.stdout, options.json ? `${raw}\n` : `${formatLogLine(parsed)}\n`);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EPIPE') return;
      if (!abort.signal.aborted)
        throw new CliError(`the log stream broke: ${(err as Error).message}`);
    }
    if (!abort.signal.aborted && options.tail && !ended) {
      throw new CliError('the log stream was cut: run the command again');
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
