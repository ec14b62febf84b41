/**
 * Finding and watching recorded sessions, for callers with `sessions:read` on the session's app:
 * list an app's sessions from the recording store's index (checking each recording against the
 * recording key when one is configured), and open one recording's asciicast text. The store is
 * opened per request and closed after it, so that no store client outlives its request.
 */
import fs from 'node:fs';
import type { KeyObject } from 'node:crypto';
import type { SessionEntry } from '@neetodeploy/contract';
import { AccessDenied, BadRequest, NotFound, Unavailable } from '@neetodeploy/platform';
import {
  RecordingError,
  createRecordingStore,
  isRecordingId,
  readRecording,
  toPublicKey,
  verifyRecording,
} from '@neetodeploy/recording';
import type { RecordingManifest, RecordingStore } from '@neetodeploy/recording';
import { recordingStoreConfig } from '../http/api/sessions-config.js';
import type { Subject } from '../policy/index.js';
import type { DomainContext } from './context.js';
import { recordAudit } from './context.js';
import { EVENTS } from '../events.js';
import { requireAppName } from './names.js';

export const SESSION_LIST_LIMITS = {
  defaultLimit: 50,
  maxLimit: 1000,
  /** `since` may reach this far back. */
  maxSinceSeconds: 366 * 86_400,
  /** Recordings checked at once while listing. */
  verifyConcurrency: 4,
  /** A recording checked recently is not read again for this long. */
  verifyCacheMs: 5 * 60_000,
  verifyCacheEntries: 2000,
  /**
   * Larger recordings are not checked while listing (`verified: null`): reading gigabytes to
   * draw a table is not worth it; `neetodeploy-keys recordings verify ID` checks any.
   */
  verifyMaxBytes: 32 * 1024 * 1024,
} as const;

export interface SessionListQuery {
  readonly user?: string;
  readonly since?: Date;
  readonly limit?: number;
}

/** Same refusal whether the app or session exists or not. */
function requireSessionsRead(ctx: DomainContext, subject: Subject, app: string): void {
  if (!ctx.policy.current().grantFor(subject, app).permissions.has('sessions:read')) {
    throw new AccessDenied(
      `you may not see the sessions of ${app}: ask an admin for sessions:read on ${app}`,
      { code: 'access_denied' },
    );
  }
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `30m`, `2h`, `7d` (ago from `now`) or an ISO 8601 time, at most a year back. */
export function parseSessionsSince(text: string, now: Date): Date {
  const rel = /^(\d{1,7})([smhd])$/.exec(text.trim());
  let at: Date | undefined;
  if (rel)
    at = new Date(now.getTime() - Number(rel[1]) * (UNIT_SECONDS[rel[2] ?? 's'] ?? 1) * 1000);
  else if (/^\d{4}-\d{2}-\d{2}T/.test(text)) at = new Date(text);
  if (at === undefined || Number.isNaN(at.getTime())) {
    throw new BadRequest('since must be a duration such as 30m, 2h, 7d or an ISO 8601 time', {
      code: 'invalid_since',
    });
  }
  if (now.getTime() - at.getTime() > SESSION_LIST_LIMITS.maxSinceSeconds * 1000) {
    throw new BadRequest('since reaches too far back (at most 366d)', { code: 'invalid_since' });
  }
  return at;
}

function storeUnavailable(err: unknown): Unavailable {
  return new Unavailable(
    'the session recordings cannot be read right now: try again, or tell your administrator',
    { code: 'recordings_unavailable', cause: err },
  );
}

function openStore(ctx: DomainContext): RecordingStore {
  try {
    return createRecordingStore(recordingStoreConfig(ctx.config));
  } catch (err) {
    throw storeUnavailable(err);
  }
}

interface VerifyState {
  readonly key: KeyObject | undefined;
  readonly checked: Map<string, { readonly ok: boolean; readonly at: number }>;
}

const verifyStates = new WeakMap<DomainContext, VerifyState>();

/** The recording key (read once per service) and the results of recent checks. */
function verifyStateOf(ctx: DomainContext): VerifyState {
  let state = verifyStates.get(ctx);
  if (!state) {
    const file = ctx.config.recording.publicKeyFile;
    let key: KeyObject | undefined;
    if (file !== undefined) {
      try {
        key = toPublicKey(fs.readFileSync(file, 'utf8'));
      } catch (err) {
        // Listing still works without it; the operator learns why nothing shows as verified.
        ctx.logger.error(
          { event: EVENTS.recordingKeyUnreadable, file, err },
          'recording public key unreadable: sessions are listed unverified',
        );
      }
    }
    state = { key, checked: new Map() };
    verifyStates.set(ctx, state);
  }
  return state;
}

/** True or false from the chain and signature; null when no key is configured or the store failed. */
async function verifiedFlag(
  ctx: DomainContext,
  store: RecordingStore,
  manifest: RecordingManifest,
): Promise<boolean | null> {
  const state = verifyStateOf(ctx);
  if (!state.key || manifest.storedBytes > SESSION_LIST_LIMITS.verifyMaxBytes) return null;
  const cacheKey = `${manifest.id}:${manifest.signature}`;
  const now = ctx.clock().getTime();
  const cached = state.checked.get(cacheKey);
  if (cached && now - cached.at < SESSION_LIST_LIMITS.verifyCacheMs) return cached.ok;
  const result = await verifyRecording(store, manifest.id, state.key);
  if (!result.ok && result.reason === 'store') return null;
  state.checked.delete(cacheKey);
  state.checked.set(cacheKey, { ok: result.ok, at: now });
  while (state.checked.size > SESSION_LIST_LIMITS.verifyCacheEntries) {
    const oldest = state.checked.keys().next().value;
    if (oldest === undefined) break;
    state.checked.delete(oldest);
  }
  return result.ok;
}

async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** A manifest as the API's session entry. */
export function sessionEntry(m: RecordingManifest, verified: boolean | null): SessionEntry {
  const started = Date.parse(m.startedAt);
  const ended = Date.parse(m.endedAt);
  return {
    id: m.id,
    app: m.session.app,
    user: m.session.user,
    started_at: m.startedAt,
    ended_at: m.endedAt,
    duration_ms: Number.isNaN(started) || Number.isNaN(ended) ? null : Math.max(0, ended - started),
    command: m.session.command,
    target: m.session.pod ?? m.session.process ?? null,
    exit_code: m.exitCode,
    exit_signal: m.exitSignal,
    bytes: { in: m.bytes.i, out: m.bytes.o, err: m.bytes.e },
    dropped_bytes: m.droppedBytes.i + m.droppedBytes.o + m.droppedBytes.e,
    ...(m.incomplete === undefined ? {} : { incomplete: m.incomplete }),
    recording_mode: m.session.policy,
    verified,
  };
}

/** The app's recorded sessions, newest first. */
export async function listSessions(
  ctx: DomainContext,
  subject: Subject,
  app: string,
  query: SessionListQuery,
): Promise<SessionEntry[]> {
  requireAppName(app);
  requireSessionsRead(ctx, subject, app);
  const limit = query.limit ?? SESSION_LIST_LIMITS.defaultLimit;
  if (!Number.isInteger(limit) || limit < 1 || limit > SESSION_LIST_LIMITS.maxLimit) {
    throw new BadRequest(`limit must be a whole number from 1 to ${SESSION_LIST_LIMITS.maxLimit}`, {
      code: 'invalid_limit',
    });
  }
  const store = openStore(ctx);
  try {
    const manifests = await store.listManifests({
      app,
      limit,
      ...(query.user !== undefined ? { user: query.user.trim().toLowerCase() } : {}),
      ...(query.since !== undefined ? { since: query.since } : {}),
    });
    return await mapBounded(manifests, SESSION_LIST_LIMITS.verifyConcurrency, async (m) =>
      sessionEntry(m, await verifiedFlag(ctx, store, m)),
    );
  } catch (err) {
    if (err instanceof RecordingError) throw storeUnavailable(err);
    throw err;
  } finally {
    await store.close().catch(() => undefined);
  }
}

export interface OpenedRecording {
  readonly app: string;
  /** The asciicast v3 text, piece by piece; the store is closed when it ends or is left. */
  readonly text: AsyncIterable<string>;
  /** Closes the store without reading (the text was not wanted after all); idempotent. */
  close(): Promise<void>;
}

/** The `app` the first piece's header line names (recordings still being written have no manifest). */
function headerApp(firstPiece: string): string | undefined {
  const end = firstPiece.indexOf('\n');
  const line = end === -1 ? firstPiece : firstPiece.slice(0, end);
  try {
    const header = JSON.parse(line) as { neetodeploy?: { app?: unknown } };
    const app = header.neetodeploy?.app;
    return typeof app === 'string' ? app : undefined;
  } catch {
    return undefined;
  }
}

async function* rest(
  first: string,
  pieces: AsyncIterator<string>,
  close: () => Promise<void>,
): AsyncGenerator<string> {
  try {
    yield first;
    for (let next = await pieces.next(); !next.done; next = await pieces.next()) yield next.value;
  } finally {
    await close();
  }
}

/**
 * Opens recording `id` for `subject`: checks the id, finds its app (manifest, else header),
 * checks `sessions:read` there before any byte is handed out, and audits the read.
 */
export async function openRecording(
  ctx: DomainContext,
  subject: Subject,
  id: string,
  options: {
    readonly clientIp: string;
    readonly mergeStderr?: boolean;
    /** Default true; false when only checking access (a page that will fetch the text). */
    readonly audit?: boolean;
  },
): Promise<OpenedRecording> {
  if (!isRecordingId(id)) {
    throw new BadRequest(
      'not a session id: use an id that `neetodeploy sessions -a APP` lists (a lowercase UUID)',
      { code: 'invalid_session_id' },
    );
  }
  const notFound = (): NotFound =>
    new NotFound(
      `there is no recording of session ${id}: list them with \`neetodeploy sessions -a APP\``,
      {
        code: 'no_such_session',
      },
    );
  const store = openStore(ctx);
  let handedOut = false;
  try {
    const manifest = await store.getManifest(id).catch((err: unknown) => {
      if (err instanceof RecordingError && err.code === 'manifest-malformed') return undefined;
      throw err;
    });
    const pieces = readRecording(store, id, { mergeStderr: options.mergeStderr ?? false })[
      Symbol.asyncIterator
    ]();
    const first = await pieces.next().catch((err: unknown) => {
      if (err instanceof RecordingError && err.code === 'not-found') throw notFound();
      throw err;
    });
    if (first.done) throw notFound();
    const app = manifest?.session.app ?? headerApp(first.value);
    if (app === undefined) throw notFound();
    requireSessionsRead(ctx, subject, app);
    if (options.audit !== false) {
      await recordAudit(ctx, {
        type: EVENTS.sessionRecordingRead,
        at: ctx.clock(),
        actor: subject.email,
        app,
        clientIp: options.clientIp,
        details: { session: id },
      });
    }
    let closed = false;
    const close = async (): Promise<void> => {
      if (closed) return;
      closed = true;
      await pieces.return?.().catch(() => undefined);
      await store.close().catch(() => undefined);
    };
    handedOut = true;
    return { app, text: rest(first.value, pieces, close), close };
  } catch (err) {
    if (err instanceof RecordingError) throw storeUnavailable(err);
    throw err;
  } finally {
    if (!handedOut) await store.close().catch(() => undefined);
  }
}
