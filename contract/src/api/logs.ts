/**
 * `GET /api/v1/apps/:app/logs?tail=N&follow=true&process=web&since=10m`: text lines, or NDJSON
 * of {@link logLineSchema} with `Accept: application/x-ndjson`.
 */
import * as z from 'zod';

/** Query parameters arrive as strings; a bare `?follow` means true. */
const flag = z
  .enum(['true', 'false', '1', '0', ''])
  .transform((v) => v === 'true' || v === '1' || v === '');

/** The query string as the keys-service parses it (values are strings on the wire). */
export const logsQuerySchema = z
  .object({
    /** Lines of history before following. */
    tail: z
      .string()
      .regex(/^\d{1,6}$/, 'a whole number')
      .transform(Number)
      .optional(),
    follow: flag.optional(),
    /** A process type; the keys-service checks it further (`invalid_process`). */
    process: z.string().min(1).max(63).optional(),
    /** `10m`, `2h`, `1d` or an ISO 8601 time; the keys-service checks it further. */
    since: z.string().min(1).max(64).optional(),
  })
  .strict();
export type LogsQuery = z.output<typeof logsQuerySchema>;

/**
 * The query string for `query`, in the form {@link logsQuerySchema} parses back to the same
 * value (fields left undefined are left out).
 */
export function encodeLogsQuery(query: LogsQuery): URLSearchParams {
  const params = new URLSearchParams();
  if (query.tail !== undefined) params.set('tail', String(query.tail));
  if (query.follow !== undefined) params.set('follow', String(query.follow));
  if (query.process !== undefined) params.set('process', query.process);
  if (query.since !== undefined) params.set('since', query.since);
  return params;
}

/** The NDJSON media type of the log stream. */
export const NDJSON_MEDIA_TYPE = 'application/x-ndjson';

/** One NDJSON line: `app[web.1]: text` as fields. */
export const logLineSchema = z.object({
  time: z.string(),
  /** `app` for the app's own output. */
  source: z.string(),
  /** Instance name, e.g. `web.1`. */
  process: z.string(),
  line: z.string(),
});
export type LogLineBody = z.output<typeof logLineSchema>;

/** A line as `heroku logs` prints it: `2026-11-22T10:00:00.123Z app[web.1]: text`. */
export function formatLogLine(line: LogLineBody): string {
  return `${line.time} ${line.source}[${line.process}]: ${line.line}`;
}
