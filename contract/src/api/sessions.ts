/**
 * Recorded console sessions: `GET /api/v1/apps/:app/sessions?user=&since=&limit=` lists them
 * (newest first), `GET /api/v1/sessions/:id/recording` streams one as asciicast v3 text. Both
 * need the `sessions:read` permission on the session's app.
 */
import * as z from 'zod';
import { API_PREFIX } from './paths.js';

/** The media type of a recording's text (asciicast v3, newline-delimited JSON). */
export const ASCIICAST_MEDIA_TYPE = 'application/x-asciicast';

/** A session id: the bastion's session id, a lowercase RFC 4122 UUID (also the recording's id). */
export const SESSION_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isSessionId(value: string): boolean {
  return SESSION_ID_PATTERN.test(value);
}

/** Listing limits, shared by the server (which enforces them) and the CLI (which checks early). */
export const SESSIONS_LIMITS = {
  defaultLimit: 50,
  maxLimit: 1000,
} as const;

export const SESSIONS_PATHS = {
  list: (app: string): string => `${API_PREFIX}/apps/${encodeURIComponent(app)}/sessions`,
  recording: (id: string): string => `${API_PREFIX}/sessions/${encodeURIComponent(id)}/recording`,
} as const;

/** The query string as the keys-service parses it (values are strings on the wire). */
export const sessionsQuerySchema = z
  .object({
    /** Only this user's sessions (an email, compared case-insensitively). */
    user: z.string().min(1).max(254).optional(),
    /** `10m`, `2h`, `7d` or an ISO 8601 time; the keys-service checks it further. */
    since: z.string().min(1).max(64).optional(),
    limit: z
      .string()
      .regex(/^\d{1,5}$/, 'a whole number')
      .transform(Number)
      .refine((n) => n >= 1 && n <= SESSIONS_LIMITS.maxLimit, {
        message: `from 1 to ${SESSIONS_LIMITS.maxLimit}`,
      })
      .optional(),
  })
  .strict();
export type SessionsQuery = z.output<typeof sessionsQuerySchema>;

/** The query string for `query`, which {@link sessionsQuerySchema} parses back to it. */
export function encodeSessionsQuery(query: SessionsQuery): URLSearchParams {
  const params = new URLSearchParams();
  if (query.user !== undefined) params.set('user', query.user);
  if (query.since !== undefined) params.set('since', query.since);
  if (query.limit !== undefined) params.set('limit', String(query.limit));
  return params;
}

/** What the recording kept: `off` sessions are listed (from their manifest) but hold no events. */
export const RECORDING_MODES = ['full', 'output-only', 'off'] as const;
export type RecordingModeName = (typeof RECORDING_MODES)[number];

export const sessionEntrySchema = z.object({
  id: z.string(),
  app: z.string(),
  /** Email of the person the certificate named. */
  user: z.string(),
  /** ISO 8601. */
  started_at: z.string(),
  /** ISO 8601; null while the session is still running. */
  ended_at: z.string().nullable(),
  /** Milliseconds; null while running. */
  duration_ms: z.number().int().min(0).nullable(),
  /** The exec command line; null for an interactive shell. */
  command: z.string().nullable(),
  /** The pod or process the session ran in, when known. */
  target: z.string().nullable(),
  /** Null while running, or when the session ended without one (signal, lost connection). */
  exit_code: z.number().int().nullable(),
  /** The signal that ended the process (`TERM`), if one did. */
  exit_signal: z.string().nullable(),
  bytes: z.object({
    in: z.number().int().min(0),
    out: z.number().int().min(0),
    err: z.number().int().min(0),
  }),
  /**
   * Bytes that went through but are not in the recording (past its byte limit, or while the
   * store fell behind): only their SHA-256 is kept. Absent from older keys-services.
   */
  dropped_bytes: z.number().int().min(0).optional(),
  /** Why the recording ends early (its store failed mid-way), when it does. */
  incomplete: z.string().optional(),
  recording_mode: z.enum(RECORDING_MODES),
  /** The manifest's signature and the chunk chain checked out; null when not checked. */
  verified: z.boolean().nullable(),
});
export type SessionEntry = z.output<typeof sessionEntrySchema>;

export const sessionsSchema = z.object({ sessions: z.array(sessionEntrySchema) });
export type Sessions = z.output<typeof sessionsSchema>;
