/**
 * Log streaming: the lines of every process of an app, merged in time order by the platform,
 * for callers with the `logs` permission. The stream ends when the caller's signal aborts, which
 * releases the platform's watchers.
 */
import type { LogLineBody } from '@neetodeploy/contract';
import { AccessDenied, BadRequest } from '@neetodeploy/platform';
import type { LogLine } from '@neetodeploy/platform';
import type { Caller, DomainContext } from './context.js';
import { platformOf } from './config-vars.js';
import { requireAppName, requireProcessType } from './names.js';

export const LOG_LIMITS = {
  defaultTail: 100,
  maxTail: 10_000,
  /** `since` may reach this far back. */
  maxSinceSeconds: 30 * 24 * 3600,
} as const;

export interface LogRequest {
  readonly tail?: number;
  readonly follow?: boolean;
  readonly process?: string;
  readonly since?: Date;
  readonly signal: AbortSignal;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * `10m`, `2h`, `30s`, `1d` (ago from `now`) or an ISO 8601 time. BadRequest otherwise.
 */
export function parseSince(text: string, now: Date): Date {
  const rel = /^(\d{1,7})([smhd])$/.exec(text.trim());
  if (rel) {
    const seconds = Number(rel[1]) * (UNIT_SECONDS[rel[2] ?? 's'] ?? 1);
    if (seconds > LOG_LIMITS.maxSinceSeconds) {
      throw new BadRequest('since reaches too far back (at most 30d)', { code: 'invalid_since' });
    }
    return new Date(now.getTime() - seconds * 1000);
  }
  if (/^\d{4}-\d{2}-\d{2}T/.test(text)) {
    const at = new Date(text);
    // Bounded as the relative form is: an old ISO time would otherwise ask for the whole history.
    if (now.getTime() - at.getTime() > LOG_LIMITS.maxSinceSeconds * 1000) {
      throw new BadRequest('since reaches too far back (at most 30d)', { code: 'invalid_since' });
    }
    if (!Number.isNaN(at.getTime())) return at;
  }
  throw new BadRequest('since must be a duration such as 10m, 2h, 1d or an ISO 8601 time', {
    code: 'invalid_since',
  });
}

/** A platform line as the contract's NDJSON body (also what its text form is made from). */
export function logLineBody(line: LogLine): LogLineBody {
  return {
    time: line.time.toISOString(),
    source: line.source,
    process: line.process,
    line: line.line,
  };
}

/**
 * Checks access and the app before any byte is sent (so refusals keep their HTTP status), then
 * returns the platform's stream.
 */
export async function openLogStream(
  ctx: DomainContext,
  caller: Caller,
  app: string,
  request: LogRequest,
): Promise<AsyncIterable<LogLine>> {
  requireAppName(app);
  if (!ctx.policy.current().grantFor(caller, app).permissions.has('logs')) {
    throw new AccessDenied(`you may not read the logs of ${app} (needs the logs permission)`, {
      code: 'access_denied',
    });
  }
  requireProcessType(request.process);
  const tail = request.tail ?? LOG_LIMITS.defaultTail;
  if (!Number.isInteger(tail) || tail < 0 || tail > LOG_LIMITS.maxTail) {
    throw new BadRequest(`tail must be a whole number from 0 to ${LOG_LIMITS.maxTail}`, {
      code: 'invalid_tail',
    });
  }
  const platform = platformOf(ctx);
  const info = await platform.getApp(app);
  if (request.process !== undefined && !info.processTypes.includes(request.process)) {
    throw new BadRequest(
      `${app} has no process type ${request.process}${info.processTypes.length > 0 ? ` (it has: ${info.processTypes.join(', ')})` : ''}`,
      { code: 'unknown_process' },
    );
  }
  return platform.streamLogs(app, {
    tail,
    follow: request.follow ?? false,
    signal: request.signal,
    ...(request.process !== undefined ? { process: request.process } : {}),
    ...(request.since !== undefined ? { since: request.since } : {}),
  });
}
