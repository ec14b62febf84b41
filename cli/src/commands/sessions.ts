/**
 * `neetodeploy sessions -a APP [--user EMAIL] [--since 2h|DATE] [--json]`: the recorded console
 * sessions of an app, newest first, as a table like `heroku ps` (or the API's JSON objects).
 */
import { SESSIONS_LIMITS } from '@neetodeploy/contract';
import type { SessionEntry, SessionsQuery } from '@neetodeploy/contract';
import type { ApiClient } from '../api.js';
import type { CommandResult, Deps } from '../deps.js';
import { ApiError, UsageError } from '../errors.js';
import { json, quoteShort, table } from '../format.js';
import { write } from '../io.js';
import { checkApp } from '../validate.js';

export interface SessionsOptions {
  readonly app: string;
  readonly user?: string;
  readonly since?: string;
  readonly num?: string;
  readonly json?: boolean;
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;

/**
 * `--since` as the API takes it: durations and ISO times pass through; a bare date means local
 * midnight of that day, which is what a person typing `--since 2026-12-01` has in mind.
 */
export function sinceForApi(value: string): string {
  if (/^\d{1,7}[smhd]$/.test(value)) return value;
  const date = DATE_ONLY.exec(value);
  if (date) {
    const at = new Date(Number(date[1]), Number(date[2]) - 1, Number(date[3]));
    if (!Number.isNaN(at.getTime()) && at.getDate() === Number(date[3])) return at.toISOString();
  } else if (/^\d{4}-\d{2}-\d{2}T.+/.test(value) && !Number.isNaN(new Date(value).getTime())) {
    return value;
  }
  throw new UsageError(
    `--since: ${quoteShort(value)} is not a duration (30m, 2h, 7d), a date (2026-12-01) or an ISO 8601 time`,
  );
}

function checkNum(value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) < 1 || Number(value) > SESSIONS_LIMITS.maxLimit) {
    throw new UsageError(
      `-n/--num: ${quoteShort(value)} is not a number of sessions from 1 to ${SESSIONS_LIMITS.maxLimit}`,
    );
  }
  return Number(value);
}

/** `950ms`, `12s`, `3m04s`, `2h05m`. */
export function formatDuration(ms: number | null): string {
  if (ms === null) return 'running';
  if (ms < 1000) return `${ms}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
}

/** `512B`, `3.4K`, `12M`: short enough for three of them in one column. */
export function formatBytes(n: number): string {
  const units = ['B', 'K', 'M', 'G', 'T'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const text = unit === 0 || value >= 10 ? String(Math.round(value)) : value.toFixed(1);
  return `${text}${units[unit] ?? 'B'}`;
}

/** `2026-12-02 04:10:03Z` (UTC: sessions are compared across time zones). */
function formatStarted(iso: string): string {
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? iso : `${at.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

function formatExit(s: SessionEntry): string {
  if (s.exit_code !== null) return String(s.exit_code);
  if (s.exit_signal !== null) return `SIG${s.exit_signal}`;
  return '-';
}

/**
 * Control characters shown as `\xNN`: a recorded command is whatever a client sent, and an
 * escape sequence in it (OSC 52 writes the clipboard) must not reach the reader's terminal.
 */
export function visible(text: string): string {
  return text.replace(
    // eslint-disable-next-line no-control-regex -- matching control characters is the point
    /[\x00-\x1f\x7f-\x9f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

function formatCommand(command: string | null): string {
  if (command === null) return '(shell)';
  const oneLine = visible(command.replace(/[ \t\r\n]+/g, ' '));
  return oneLine.length > 40 ? `${oneLine.slice(0, 39)}…` : oneLine;
}

/** Says when the recording does not hold every byte: a reader must not take it for all. */
function recordedNote(s: SessionEntry): string {
  const notes = [
    ...(s.dropped_bytes ? [`${formatBytes(s.dropped_bytes)} only hashed`] : []),
    ...(s.incomplete !== undefined ? ['ends early'] : []),
    ...(s.verified === false ? ['FAILS VERIFY'] : []),
  ];
  return notes.length > 0 ? ` (${notes.join(', ')})` : '';
}

export function sessionsTable(sessions: readonly SessionEntry[]): string {
  const rows = [
    ['ID', 'USER', 'STARTED', 'DURATION', 'COMMAND', 'EXIT', 'BYTES IN/OUT/ERR'],
    ...sessions.map((s) => [
      s.id,
      s.user,
      formatStarted(s.started_at),
      formatDuration(s.duration_ms),
      formatCommand(s.command),
      formatExit(s),
      [s.bytes.in, s.bytes.out, s.bytes.err].map(formatBytes).join('/') + recordedNote(s),
    ]),
  ];
  return table(rows);
}

/** A refusal says whom to ask for what; other errors pass unchanged. */
export async function withSessionsHint<T>(app: string, action: () => Promise<T>): Promise<T> {
  try {
    return await action();
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) {
      throw err.withMessage(
        `you may not see the sessions of ${app}: ask an admin for sessions:read on ${app}`,
      );
    }
    throw err;
  }
}

export async function listSessions(
  client: ApiClient,
  app: string,
  query: SessionsQuery,
): Promise<SessionEntry[]> {
  return withSessionsHint(app, () => client.sessions(app, query));
}

export async function runSessions(options: SessionsOptions, deps: Deps): CommandResult {
  checkApp(options.app);
  const query: SessionsQuery = {
    ...(options.user !== undefined ? { user: options.user } : {}),
    ...(options.since !== undefined ? { since: sinceForApi(options.since) } : {}),
    ...(options.num !== undefined ? { limit: checkNum(options.num) } : {}),
  };
  const { client } = await deps.api.session();
  const sessions = await listSessions(client, options.app, query);
  if (options.json) {
    await write(deps.io.stdout, json(sessions));
    return;
  }
  if (sessions.length === 0) {
    await write(deps.io.stderr, `No recorded sessions of ${options.app} match.\n`);
    return;
  }
  await write(deps.io.stdout, `${sessionsTable(sessions)}\n`);
  if (!deps.io.stdoutIsTTY) return;
  await write(
    deps.io.stderr,
    `Replay one with \`neetodeploy sessions:play ID\` (--speed N plays N times faster).\n`,
  );
}
