/**
 * SQLite implementations of the repositories (better-sqlite3). Each method is one statement or
 * one transaction, committed before its promise resolves.
 *
 * Durability: WAL journal. A commit writes its pages to the WAL file with write(2) before it
 * returns, so once a promise resolves the write is in the operating system's page cache, and
 * killing the process at any moment (SIGKILL, OOM kill, crash) loses no acknowledged write: the
 * next open replays the WAL. `synchronous=NORMAL` (the default) stops there; only a power loss
 * or kernel crash can lose the last commits (never corrupt the database). `synchronous=FULL`
 * also fsyncs the WAL on every commit, which survives power loss but costs one fsync (~6 ms on
 * the build machine's disk) per commit, blocking the event loop: better-sqlite3 is synchronous.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { Conflict } from '@neetodeploy/platform';
import { startCheckpointer } from './sqlite-checkpointer.js';
import type { CheckpointerOptions } from './sqlite-checkpointer.js';
import type {
  AuditEvent,
  AuditRepository,
  IdpLink,
  KeysStore,
  LoginSessionRecord,
  LoginSessionRepository,
  LoginSessionState,
  RevocationRepository,
  TokenRecord,
  TokenRepository,
  UserRecord,
  UserRepository,
} from './types.js';

type Db = Database.Database;

const SCHEMA_VERSION = 2;

const MIGRATION = `
CREATE TABLE IF NOT EXISTS users (
  email TEXT PRIMARY KEY,
  groups_json TEXT NOT NULL,
  password_hash TEXT,
  created_at INTEGER NOT NULL,
  idp_json TEXT
);
CREATE TABLE IF NOT EXISTS tokens (
  hash TEXT PRIMARY KEY,
  email TEXT NOT NULL,
  client_description TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  last_used_at INTEGER,
  revoked_at INTEGER
);
CREATE INDEX IF NOT EXISTS tokens_email ON tokens(email);
CREATE TABLE IF NOT EXISTS login_sessions (
  device_code_hash TEXT PRIMARY KEY,
  user_code TEXT NOT NULL,
  client_description TEXT NOT NULL,
  client_ip TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  interval_seconds INTEGER NOT NULL,
  state TEXT NOT NULL,
  email TEXT,
  last_polled_at INTEGER
);
CREATE INDEX IF NOT EXISTS login_sessions_user_code ON login_sessions(user_code);
CREATE TABLE IF NOT EXISTS not_before (
  email TEXT PRIMARY KEY,
  not_before INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS session_epochs (
  email TEXT PRIMARY KEY,
  epoch INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS revoked_serials (
  serial TEXT PRIMARY KEY,
  revoked_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY,
  value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  type TEXT NOT NULL,
  at INTEGER NOT NULL,
  actor TEXT,
  app TEXT,
  client_ip TEXT,
  details_json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_events_type ON audit_events(type, id);
`;

/** Opens (and creates or migrates) the database file. */
export function openDatabase(file: string, synchronous: SqliteSynchronous = 'normal'): Db {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma(synchronous === 'full' ? 'synchronous = FULL' : 'synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    db.close();
    throw new Error(
      `database ${file} has schema ${current}, newer than this build (${SCHEMA_VERSION})`,
    );
  }
  // Schema 1 had no idp_json; CREATE TABLE IF NOT EXISTS leaves such a table as it was.
  if (current === 1) db.exec('ALTER TABLE users ADD COLUMN idp_json TEXT');
  db.exec(MIGRATION);
  db.pragma(`user_version = ${SCHEMA_VERSION}`);
  fs.chmodSync(file, 0o600);
  return db;
}

const ms = (d: Date): number => d.getTime();
const date = (n: number | null | undefined): Date | undefined =>
  n === null || n === undefined ? undefined : new Date(n);
const lower = (email: string): string => email.trim().toLowerCase();

interface UserRow {
  email: string;
  groups_json: string;
  password_hash: string | null;
  created_at: number;
  idp_json: string | null;
}

interface IdpJson {
  subject: string;
  refreshToken?: string;
  groupsCheckedAt: number;
}

const idpToJson = (idp: IdpLink | undefined): string | null =>
  idp === undefined
    ? null
    : JSON.stringify({
        subject: idp.subject,
        ...(idp.refreshToken === undefined ? {} : { refreshToken: idp.refreshToken }),
        groupsCheckedAt: ms(idp.groupsCheckedAt),
      } satisfies IdpJson);

const idpFromJson = (text: string | null): IdpLink | undefined => {
  if (text === null) return undefined;
  const j = JSON.parse(text) as IdpJson;
  return {
    subject: j.subject,
    ...(j.refreshToken === undefined ? {} : { refreshToken: j.refreshToken }),
    groupsCheckedAt: new Date(j.groupsCheckedAt),
  };
};

export function createUserRepository(db: Db): UserRepository {
  const upsert = db.prepare(
    `INSERT INTO users (email, groups_json, password_hash, created_at, idp_json)
     VALUES (?, ?, ?, ?, ?)
     ON CONFLICT(email) DO UPDATE SET groups_json = excluded.groups_json,
       password_hash = excluded.password_hash, idp_json = excluded.idp_json`,
  );
  const get = db.prepare<[string], UserRow>('SELECT * FROM users WHERE email = ?');
  const list = db.prepare<[], UserRow>('SELECT * FROM users ORDER BY email');
  const remove = db.prepare('DELETE FROM users WHERE email = ?');
  const toRecord = (row: UserRow): UserRecord => ({
    email: row.email,
    groups: JSON.parse(row.groups_json) as string[],
    ...(row.password_hash === null ? {} : { passwordHash: row.password_hash }),
    createdAt: new Date(row.created_at),
    ...(row.idp_json === null ? {} : { idp: idpFromJson(row.idp_json)! }),
  });
  return {
    upsert(user) {
      upsert.run(
        lower(user.email),
        JSON.stringify([...user.groups]),
        user.passwordHash ?? null,
        ms(user.createdAt),
        idpToJson(user.idp),
      );
      return Promise.resolve();
    },
    get(email) {
      const row = get.get(lower(email));
      return Promise.resolve(row ? toRecord(row) : undefined);
    },
    list() {
      return Promise.resolve(list.all().map(toRecord));
    },
    remove(email) {
      return Promise.resolve(remove.run(lower(email)).changes > 0);
    },
  };
}

interface TokenRow {
  hash: string;
  email: string;
  client_description: string;
  created_at: number;
  expires_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
}

interface BearerRow extends TokenRow {
  groups_json: string | null;
  not_before: number | null;
}

export function createTokenRepository(db: Db): TokenRepository {
  const insert = db.prepare(
    `INSERT INTO tokens (hash, email, client_description, created_at, expires_at, last_used_at, revoked_at)
     VALUES (?, ?, ?, ?, ?, ?, ?)`,
  );
  const find = db.prepare<[string], TokenRow>('SELECT * FROM tokens WHERE hash = ?');
  const findBearer = db.prepare<[string], BearerRow>(
    `SELECT t.*, u.groups_json, nb.not_before FROM tokens t
     LEFT JOIN users u ON u.email = t.email
     LEFT JOIN not_before nb ON nb.email = t.email
     WHERE t.hash = ?`,
  );
  const touch = db.prepare('UPDATE tokens SET last_used_at = ? WHERE hash = ?');
  const revoke = db.prepare(
    'UPDATE tokens SET revoked_at = ? WHERE hash = ? AND revoked_at IS NULL AND expires_at > ?',
  );
  const revokeAll = db.prepare(
    'UPDATE tokens SET revoked_at = ? WHERE email = ? AND revoked_at IS NULL AND expires_at > ?',
  );
  const deleteExpired = db.prepare('DELETE FROM tokens WHERE expires_at < ?');
  const listAll = db.prepare<[], TokenRow>('SELECT * FROM tokens ORDER BY created_at DESC, hash');
  const listOf = db.prepare<[string], TokenRow>(
    'SELECT * FROM tokens WHERE email = ? ORDER BY created_at DESC, hash',
  );
  const toRecord = (row: TokenRow): TokenRecord => {
    const lastUsedAt = date(row.last_used_at);
    const revokedAt = date(row.revoked_at);
    return {
      hash: row.hash,
      email: row.email,
      clientDescription: row.client_description,
      createdAt: new Date(row.created_at),
      expiresAt: new Date(row.expires_at),
      ...(lastUsedAt ? { lastUsedAt } : {}),
      ...(revokedAt ? { revokedAt } : {}),
    };
  };
  return {
    create(token) {
      insert.run(
        token.hash,
        lower(token.email),
        token.clientDescription,
        ms(token.createdAt),
        ms(token.expiresAt),
        token.lastUsedAt ? ms(token.lastUsedAt) : null,
        token.revokedAt ? ms(token.revokedAt) : null,
      );
      return Promise.resolve();
    },
    findByHash(hash) {
      const row = find.get(hash);
      return Promise.resolve(row ? toRecord(row) : undefined);
    },
    findBearer(hash) {
      const row = findBearer.get(hash);
      if (!row) return Promise.resolve(undefined);
      return Promise.resolve({
        token: toRecord(row),
        groups: row.groups_json === null ? [] : (JSON.parse(row.groups_json) as string[]),
        ...(row.not_before === null ? {} : { notBefore: row.not_before }),
      });
    },
    touch(hash, at) {
      touch.run(ms(at), hash);
      return Promise.resolve();
    },
    revoke(hash, at) {
      return Promise.resolve(revoke.run(ms(at), hash, ms(at)).changes > 0);
    },
    revokeAllForUser(email, at) {
      return Promise.resolve(revokeAll.run(ms(at), lower(email), ms(at)).changes);
    },
    list(options) {
      const rows = options?.email === undefined ? listAll.all() : listOf.all(lower(options.email));
      return Promise.resolve(rows.map(toRecord));
    },
    deleteExpired(before) {
      return Promise.resolve(deleteExpired.run(ms(before)).changes);
    },
  };
}

interface SessionRow {
  device_code_hash: string;
  user_code: string;
  client_description: string;
  client_ip: string;
  created_at: number;
  expires_at: number;
  interval_seconds: number;
  state: LoginSessionState;
  email: string | null;
  last_polled_at: number | null;
}

export function createLoginSessionRepository(db: Db): LoginSessionRepository {
  const liveByCode = db.prepare<[string, number], SessionRow>(
    'SELECT * FROM login_sessions WHERE user_code = ? AND expires_at > ? LIMIT 1',
  );
  const insert = db.prepare(
    `INSERT INTO login_sessions (device_code_hash, user_code, client_description, client_ip,
       created_at, expires_at, interval_seconds, state, email, last_polled_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  );
  const find = db.prepare<[string], SessionRow>(
    'SELECT * FROM login_sessions WHERE device_code_hash = ?',
  );
  const poll = db.prepare(
    'UPDATE login_sessions SET last_polled_at = ?, interval_seconds = ? WHERE device_code_hash = ?',
  );
  const decide = db.prepare(
    `UPDATE login_sessions SET state = ?, email = ?
     WHERE device_code_hash = ? AND state = 'pending' AND expires_at > ?`,
  );
  const redeem = db.prepare(
    `UPDATE login_sessions SET state = 'redeemed' WHERE device_code_hash = ? AND state = 'approved'`,
  );
  const deleteExpired = db.prepare('DELETE FROM login_sessions WHERE expires_at < ?');
  const create = db.transaction((s: LoginSessionRecord) => {
    if (liveByCode.get(s.userCode, ms(s.createdAt))) {
      throw new Conflict('user code already in use');
    }
    insert.run(
      s.deviceCodeHash,
      s.userCode,
      s.clientDescription,
      s.clientIp,
      ms(s.createdAt),
      ms(s.expiresAt),
      s.intervalSeconds,
      s.state,
      s.email ?? null,
      s.lastPolledAt ? ms(s.lastPolledAt) : null,
    );
  });
  const toRecord = (row: SessionRow): LoginSessionRecord => {
    const lastPolledAt = date(row.last_polled_at);
    return {
      deviceCodeHash: row.device_code_hash,
      userCode: row.user_code,
      clientDescription: row.client_description,
      clientIp: row.client_ip,
      createdAt: new Date(row.created_at),
      expiresAt: new Date(row.expires_at),
      intervalSeconds: row.interval_seconds,
      state: row.state,
      ...(row.email === null ? {} : { email: row.email }),
      ...(lastPolledAt ? { lastPolledAt } : {}),
    };
  };
  return {
    create(session) {
      return new Promise<void>((resolve) => {
        // A throw inside the executor (Conflict, SQLite errors) rejects the promise.
        create.immediate(session);
        resolve();
      });
    },
    findByDeviceCodeHash(hash) {
      const row = find.get(hash);
      return Promise.resolve(row ? toRecord(row) : undefined);
    },
    findLiveByUserCode(userCode, now) {
      const row = liveByCode.get(userCode, ms(now));
      return Promise.resolve(row ? toRecord(row) : undefined);
    },
    recordPoll(hash, at, intervalSeconds) {
      poll.run(ms(at), intervalSeconds, hash);
      return Promise.resolve();
    },
    decide(hash, decision, email, now) {
      return Promise.resolve(decide.run(decision, lower(email), hash, ms(now)).changes > 0);
    },
    redeem(hash) {
      return Promise.resolve(redeem.run(hash).changes > 0);
    },
    deleteExpired(before) {
      return Promise.resolve(deleteExpired.run(ms(before)).changes);
    },
  };
}

export function createRevocationRepository(db: Db): RevocationRepository {
  const bump = db.prepare(
    `INSERT INTO meta (key, value) VALUES ('revocation_version', 1)
     ON CONFLICT(key) DO UPDATE SET value = value + 1`,
  );
  const version = db.prepare<[], { value: number }>(
    `SELECT value FROM meta WHERE key = 'revocation_version'`,
  );
  const upsertNotBefore = db.prepare(
    `INSERT INTO not_before (email, not_before) VALUES (?, ?)
     ON CONFLICT(email) DO UPDATE SET not_before = max(not_before, excluded.not_before)`,
  );
  const getNotBefore = db.prepare<[string], { not_before: number }>(
    'SELECT not_before FROM not_before WHERE email = ?',
  );
  const listNotBefore = db.prepare<[], { email: string; not_before: number }>(
    'SELECT email, not_before FROM not_before ORDER BY email',
  );
  const insertSerial = db.prepare(
    'INSERT OR IGNORE INTO revoked_serials (serial, revoked_at) VALUES (?, ?)',
  );
  const listSerials = db.prepare<[], { serial: string }>('SELECT serial FROM revoked_serials');
  const pruneSerials = db.prepare('DELETE FROM revoked_serials WHERE revoked_at < ?');
  const pruneNotBefore = db.prepare('DELETE FROM not_before WHERE not_before < ?');
  const prune = db.transaction((before: Date) => {
    const n =
      pruneSerials.run(ms(before)).changes +
      pruneNotBefore.run(Math.floor(ms(before) / 1000)).changes;
    if (n > 0) bump.run();
    return n;
  });
  const bumpEpoch = db.prepare<[string], { epoch: number }>(
    `INSERT INTO session_epochs (email, epoch) VALUES (?, 1)
     ON CONFLICT(email) DO UPDATE SET epoch = epoch + 1 RETURNING epoch`,
  );
  const getEpoch = db.prepare<[string], { epoch: number }>(
    'SELECT epoch FROM session_epochs WHERE email = ?',
  );
  const setNotBefore = db.transaction((email: string, nb: number) => {
    upsertNotBefore.run(lower(email), Math.floor(nb));
    bump.run();
  });
  const revokeSerial = db.transaction((serial: bigint, at: Date) => {
    if (insertSerial.run(serial.toString(), ms(at)).changes > 0) bump.run();
  });
  return {
    setNotBefore(email, notBefore) {
      setNotBefore.immediate(email, notBefore);
      return Promise.resolve();
    },
    getNotBefore(email) {
      return Promise.resolve(getNotBefore.get(lower(email))?.not_before);
    },
    sessionEpoch(email) {
      return Promise.resolve(getEpoch.get(lower(email))?.epoch ?? 0);
    },
    endSessions(email) {
      const row = bumpEpoch.get(lower(email));
      return Promise.resolve(row?.epoch ?? 1);
    },
    listNotBefore() {
      const out: Record<string, number> = {};
      for (const row of listNotBefore.all()) out[row.email] = row.not_before;
      return Promise.resolve(out);
    },
    revokeSerial(serial, at) {
      revokeSerial.immediate(serial, at);
      return Promise.resolve();
    },
    listRevokedSerials() {
      return Promise.resolve(
        listSerials
          .all()
          .map((r) => BigInt(r.serial))
          .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
      );
    },
    pruneBefore(before) {
      return Promise.resolve(prune.immediate(before));
    },
    version() {
      return Promise.resolve(version.get()?.value ?? 0);
    },
  };
}

interface AuditRow {
  type: string;
  at: number;
  actor: string | null;
  app: string | null;
  client_ip: string | null;
  details_json: string;
}

/** The audit repository plus `flushNow()`, which writes queued appends before the db closes. */
export function createAuditRepository(db: Db): AuditRepository & { flushNow(): void } {
  const insert = db.prepare(
    'INSERT INTO audit_events (type, at, actor, app, client_ip, details_json) VALUES (?, ?, ?, ?, ?, ?)',
  );
  const listAll = db.prepare<[number], AuditRow>(
    'SELECT * FROM audit_events ORDER BY id DESC LIMIT ?',
  );
  const listType = db.prepare<[string, number], AuditRow>(
    'SELECT * FROM audit_events WHERE type = ? ORDER BY id DESC LIMIT ?',
  );
  const toEvent = (row: AuditRow): AuditEvent => ({
    type: row.type,
    at: new Date(row.at),
    ...(row.actor === null ? {} : { actor: row.actor }),
    ...(row.app === null ? {} : { app: row.app }),
    ...(row.client_ip === null ? {} : { clientIp: row.client_ip }),
    details: JSON.parse(row.details_json) as AuditEvent['details'],
  });
  // Group commit: appends queued while a commit is due share one transaction; each promise
  // resolves once its row is committed. A commit waits, after the previous one, for a gap that
  // grows with the size of the previous batch (COMMIT_GAP_PER_EVENT_MS each, at most
  // MAX_COMMIT_GAP_MS): a lone request commits on the next turn of the event loop, while under
  // load commits come every few milliseconds and carry a dozen events or more. A commit writes
  // whole WAL pages and takes the write lock whatever it carries: an event cost ~25-33 us of CPU
  // in commits of 4 and ~12-13 us in commits of 16 (with 8 MB of cache pollution between
  // commits, as in the server).
  const COMMIT_GAP_PER_EVENT_MS = 0.5;
  const MAX_COMMIT_GAP_MS = 4;
  let queue: { event: AuditEvent; resolve: () => void; reject: (err: Error) => void }[] = [];
  let lastCommit = -Infinity;
  let gapMs = 0;
  const insertAll = db.transaction((events: readonly AuditEvent[]) => {
    for (const event of events) {
      insert.run(
        event.type,
        ms(event.at),
        event.actor ?? null,
        event.app ?? null,
        event.clientIp ?? null,
        JSON.stringify(event.details),
      );
    }
  });
  const flush = (): void => {
    const batch = queue;
    queue = [];
    if (batch.length === 0) return;
    try {
      insertAll.immediate(batch.map((b) => b.event));
      for (const b of batch) b.resolve();
    } catch (err) {
      for (const b of batch) b.reject(err as Error);
    }
    lastCommit = performance.now();
    gapMs = Math.min(MAX_COMMIT_GAP_MS, batch.length * COMMIT_GAP_PER_EVENT_MS);
  };
  const schedule = (): void => {
    const wait = lastCommit + gapMs - performance.now();
    if (wait <= 0) setImmediate(flush);
    else setTimeout(flush, wait);
  };
  return {
    flushNow: flush,
    append(event) {
      return new Promise<void>((resolve, reject) => {
        if (queue.length === 0) schedule();
        queue.push({ event, resolve, reject });
      });
    },
    list(options) {
      const limit = options?.limit ?? 100;
      const rows = options?.type ? listType.all(options.type, limit) : listAll.all(limit);
      return Promise.resolve(rows.map(toEvent));
    },
  };
}

/** SQLite's `synchronous` setting in WAL mode (see the file comment). */
export type SqliteSynchronous = 'full' | 'normal';

export interface SqliteStoreOptions {
  /**
   * `normal` (default): a commit has reached the operating system (WAL) when its promise
   * resolves, so a killed process loses no acknowledged write; a power cut may lose the last
   * commits. `full`: every commit is also fsynced, surviving power loss, at one fsync per commit.
   */
  readonly synchronous?: SqliteSynchronous;
  /**
   * Checkpoint the WAL on a worker thread instead of inside commits (./sqlite-checkpointer.ts):
   * for the long-running server; one-shot admin commands leave it off.
   */
  readonly backgroundCheckpoints?: boolean | CheckpointerOptions;
}

/** The SQLite store under one database file. */
export function openSqliteStore(file: string, options: SqliteStoreOptions = {}): KeysStore {
  const db = openDatabase(file, options.synchronous ?? 'normal');
  const audit = createAuditRepository(db);
  const background = options.backgroundCheckpoints;
  const checkpointer = background
    ? startCheckpointer(db, file, background === true ? {} : background)
    : undefined;
  let closed: Promise<void> | undefined;
  return {
    users: createUserRepository(db),
    tokens: createTokenRepository(db),
    loginSessions: createLoginSessionRepository(db),
    revocations: createRevocationRepository(db),
    audit,
    ready() {
      db.prepare('SELECT 1').get();
      return Promise.resolve();
    },
    close() {
      closed ??= (async () => {
        audit.flushNow();
        await checkpointer?.stop();
        db.close();
      })();
      return closed;
    },
  };
}
