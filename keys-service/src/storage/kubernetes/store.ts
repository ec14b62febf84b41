/**
 * The keys-service repositories kept in the Kubernetes API, so that several replicas share
 * state with no database of their own.
 *
 * Why labelled Secrets and not a CRD: a CRD needs a cluster-scoped install (and a cluster admin
 * to do it) before the chart can run, and its objects would be readable by whoever may read
 * custom resources. Secrets exist everywhere, are the object kind clusters already protect (and
 * may encrypt at rest), and the store's rights fit one namespaced Role: get/list/create/update/
 * delete on secrets in the release namespace. RBAC `resourceNames` cannot restrict list or
 * create, so the store must live in a namespace of its own (the release namespace), where
 * nothing else worth protecting is readable by the same Role.
 *
 * Layout: one Secret per record, named after a hash (names hold no secret), the record as JSON
 * in `data.record`; labels carry only hashes (never an email, code or token), each at most 40
 * hex characters (labels allow 63):
 *   user          `ndk-user-<sha256(email)>`
 *   token         `ndk-token-<token hash>`, label email-hash for "revoke all of a user";
 *                 `lastUsedAt` is kept to the minute (one write per token per minute at most)
 *   login session `ndk-login-<device code hash>`
 *   user code     `ndk-ucode-<sha256(user code)>`: a uniqueness index made with create-if-absent
 *                 (AlreadyExists = Conflict unless the session it names has expired)
 *   not-before    `ndk-nb-<sha256(email)>` with a per-user change counter
 *   web epoch     `ndk-epoch-<sha256(email)>`: the user's browser-session epoch
 *   KRL serial    `ndk-serial-<decimal serial>` (create-if-absent: a duplicate changes nothing)
 *   audit event   `ndk-audit-<ms>-<seq>-<random>`, a bounded ring: the newest `auditRetain` are
 *                 kept (older ones are pruned after appends); the full history belongs in the
 *                 JSON log, where every event is also written when a logger is given.
 *
 * State transitions (decide, redeem, revoke, touch, max(not-before)) are read-modify-write with
 * the object's resourceVersion: a 409 means another writer won, so the record is re-read and the
 * rule re-checked, which makes "approve/redeem at most once" hold across replicas.
 *
 * The revocation version is derived, not stored: number of KRL serials plus the sum of the
 * per-user not-before counters. Both only grow and each is written atomically with its change,
 * so the version can never lag a change (a separate counter object could, after a crash).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { KubeClient } from '@neetodeploy/platform';
import {
  AccessDenied,
  Conflict,
  NotFound,
  Unauthenticated,
  Unavailable,
} from '@neetodeploy/platform';
import type {
  AuditEvent,
  AuditRepository,
  KeysStore,
  LoginSessionRecord,
  LoginSessionRepository,
  RevocationRepository,
  TokenRecord,
  TokenRepository,
  UserRecord,
  UserRepository,
} from '../types.js';
import { SecretMirror, type Lookup, type ReadCacheState } from './mirror.js';

export interface KubernetesStoreOptions {
  readonly client: KubeClient;
  /** Where the Secrets live; the store should have this namespace to itself. */
  readonly namespace: string;
  /** Audit events kept in the cluster (older ones are pruned); default 1000. */
  readonly auditRetain?: number;
  /** Retries of a read-modify-write that lost a race (409); default 30. */
  readonly maxConflictRetries?: number;
  /** Also writes every audit event here (the durable, unbounded audit trail). */
  readonly logger?: Logger;
  /** Closes the client with the store (default true). */
  readonly ownsClient?: boolean;
  /**
   * Keeps a watched copy of users, tokens, not-befores, epochs and revoked serials (the long-
   * running server; a one-shot admin command reads the API). Default off.
   */
  readonly readCache?: {
    readonly maxEntries?: number;
    readonly watchSeconds?: number;
    /** How long after its last answer the API server still counts as reachable (60 s). */
    readonly readyGraceMs?: number;
  };
}

/** Kinds the read cache holds; an absent name of a kind that grants access is re-read. */
const MIRRORED_KINDS: ReadonlySet<Kind> = new Set(['user', 'token', 'nb', 'epoch', 'serial']);
const GRANTING_KINDS: ReadonlySet<Kind> = new Set(['user', 'token']);
/** The kind a record name belongs to (names are `ndk-<kind>-...`). */
const kindOfName = (name: string): Kind | undefined =>
  /^ndk-([a-z]+)-/.exec(name)?.[1] as Kind | undefined;

const LABEL_KIND = 'keys.neetodeploy.com/kind';
const LABEL_EMAIL = 'keys.neetodeploy.com/email-hash';
const LABEL_AUDIT_TYPE = 'keys.neetodeploy.com/audit-type';
const SECRET_TYPE = 'neetodeploy.com/keys-store';

type Kind = 'user' | 'token' | 'login' | 'ucode' | 'nb' | 'serial' | 'audit' | 'epoch';

interface SecretObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
  };
  type?: string;
  data?: Record<string, string>;
}

interface SecretList {
  items?: SecretObject[];
  metadata?: { continue?: string };
}

const sha = (text: string): string => createHash('sha256').update(text).digest('hex');
/** A label value: 40 hex characters of a hash (labels allow 63). */
const labelHash = (text: string): string => sha(text).slice(0, 40);
const lower = (email: string): string => email.trim().toLowerCase();
const HEX64 = /^[0-9a-f]{64}$/;
const TOUCH_RESOLUTION_MS = 60_000;
/** How long after its last answer the API server still counts as reachable for readiness. */
const READY_GRACE_MS = 60_000;

/** Errors of the cluster API, matched by shape (the platform's KubeApiError is internal). */
function apiCode(err: unknown): number | undefined {
  if (err instanceof Error && err.name === 'KubeApiError') {
    const code = (err as Error & { code?: unknown }).code;
    return typeof code === 'number' ? code : undefined;
  }
  return undefined;
}

class Store {
  readonly base: string;
  readonly retries: number;
  /** The watched copy, when this store keeps one. */
  mirror: SecretMirror | undefined;
  /** Last time the API server answered a request of this store. */
  lastContact = 0;
  constructor(
    readonly client: KubeClient,
    readonly namespace: string,
    retries: number,
  ) {
    this.base = `/api/v1/namespaces/${encodeURIComponent(namespace)}/secrets`;
    this.retries = retries;
  }

  /** One API call; any answer (an error status included) proves the API server reachable. */
  async call<T>(method: string, path: string, options?: Parameters<KubeClient['request']>[2]) {
    try {
      const answer = await this.client.request<T>(method, path, options);
      this.lastContact = Date.now();
      return answer;
    } catch (err) {
      if (apiCode(err) !== undefined) this.lastContact = Date.now();
      throw err;
    }
  }

  /**
   * The record from the read cache when it can answer: a present object, or an absent one of a
   * kind whose absence grants nothing (a missing not-before means "not revoked", as it would
   * after the watch delivers). A missing user or token may be a write of another replica that
   * the watch has not brought yet, so it is read from the API.
   */
  private cached(name: string): Lookup {
    const kind = kindOfName(name);
    if (!this.mirror || !kind || !MIRRORED_KINDS.has(kind)) return { state: 'unsynced' };
    const found = this.mirror.lookup(name);
    return found.state === 'absent' && GRANTING_KINDS.has(kind) ? { state: 'unsynced' } : found;
  }

  /** Maps refusals to messages an operator can act on. */
  fail(err: unknown, what: string): Error {
    const code = apiCode(err);
    const rights = `the keys-service store needs get, list, create, update and delete on secrets in namespace ${this.namespace}`;
    switch (code) {
      case undefined:
        return err as Error;
      case 401:
        return new Unauthenticated(`${what}: the cluster refused the store's credentials`, {
          cause: err,
        });
      case 403:
        return new AccessDenied(`${what}: ${rights}`, { cause: err });
      case 404:
        return new NotFound(`${what}: namespace ${this.namespace} not found`, { cause: err });
      default:
        return new Unavailable(`${what}: the cluster API refused the request (${code})`, {
          cause: err,
        });
    }
  }

  async get(name: string): Promise<SecretObject | undefined> {
    const found = this.cached(name);
    if (found.state === 'present') return found.object;
    if (found.state === 'absent') return undefined;
    return this.getFresh(name);
  }

  /** Reads the API server, never the cache (after a lost race the cache may lag). */
  async getFresh(name: string): Promise<SecretObject | undefined> {
    try {
      return await this.call<SecretObject>('GET', `${this.base}/${name}`);
    } catch (err) {
      if (apiCode(err) === 404) return undefined;
      throw this.fail(err, 'reading the store');
    }
  }

  /** Creates the object; false when one of that name exists (create-if-absent). */
  async create(
    kind: Kind,
    name: string,
    record: unknown,
    labels: Record<string, string> = {},
  ): Promise<boolean> {
    try {
      const made = await this.call<SecretObject>('POST', this.base, {
        body: this.object(kind, name, record, labels),
      });
      this.mirror?.written(made);
      return true;
    } catch (err) {
      if (apiCode(err) === 409) return false;
      throw this.fail(err, 'writing the store');
    }
  }

  /** Replaces the object if it is still at `resourceVersion`; false on a lost race (409). */
  async replace(
    kind: Kind,
    current: SecretObject,
    record: unknown,
    labels: Record<string, string> = {},
  ): Promise<boolean> {
    const name = current.metadata.name;
    const body = this.object(kind, name, record, labels);
    body.metadata.resourceVersion = current.metadata.resourceVersion;
    try {
      const written = await this.call<SecretObject>('PUT', `${this.base}/${name}`, { body });
      this.mirror?.written(written);
      return true;
    } catch (err) {
      // 404: deleted meanwhile (expiry cleanup); the caller re-reads and sees it gone.
      if (apiCode(err) === 409 || apiCode(err) === 404) return false;
      throw this.fail(err, 'writing the store');
    }
  }

  /** Deletes the object (at `resourceVersion` when given); false if gone or changed. */
  async delete(name: string, resourceVersion?: string): Promise<boolean> {
    try {
      await this.call('DELETE', `${this.base}/${name}`, {
        ...(resourceVersion ? { body: { preconditions: { resourceVersion } } } : {}),
      });
      this.mirror?.deleted(name);
      return true;
    } catch (err) {
      if (apiCode(err) === 404 || apiCode(err) === 409) return false;
      throw this.fail(err, 'writing the store');
    }
  }

  /**
   * Every record of `kind` with `labels`; from the read cache when `cached` and it can answer
   * (read paths), from the API otherwise (write paths must not miss another replica's write).
   */
  async list(
    kind: Kind,
    labels: Record<string, string> = {},
    cached = false,
  ): Promise<SecretObject[]> {
    if (cached && this.mirror && MIRRORED_KINDS.has(kind)) {
      const hit = this.mirror.select({ [LABEL_KIND]: kind, ...labels });
      if (hit) return hit;
    }
    const selector = Object.entries({ [LABEL_KIND]: kind, ...labels })
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    const out: SecretObject[] = [];
    let cont: string | undefined;
    try {
      do {
        const page: SecretList = await this.call<SecretList>('GET', this.base, {
          query: { labelSelector: selector, limit: 500, continue: cont },
        });
        out.push(...(page.items ?? []));
        cont = page.metadata?.continue || undefined;
      } while (cont);
    } catch (err) {
      throw this.fail(err, 'listing the store');
    }
    return out;
  }

  /**
   * Read-modify-write under compare-and-swap: `change` returns the new record or undefined to
   * leave it (its result is returned either way). A lost race re-reads and re-decides.
   */
  async mutate<R, T>(
    kind: Kind,
    name: string,
    change: (record: R | undefined) => { next?: R; result: T; labels?: Record<string, string> },
  ): Promise<T> {
    for (let attempt = 0; attempt < this.retries; attempt++) {
      const current = attempt === 0 ? await this.get(name) : await this.getFresh(name);
      const decision = change(current ? recordOf<R>(current) : undefined);
      if (decision.next === undefined) return decision.result;
      const ok = current
        ? await this.replace(kind, current, decision.next, decision.labels)
        : await this.create(kind, name, decision.next, decision.labels);
      if (ok) return decision.result;
      // Lost a race: back off a little (jittered) so contenders do not collide again in step.
      await new Promise((r) => setTimeout(r, Math.random() * Math.min(50, 2 * (attempt + 1))));
    }
    throw new Conflict(
      'the keys-service store is too busy: too many concurrent changes, try again',
    );
  }

  object(kind: Kind, name: string, record: unknown, labels: Record<string, string>): SecretObject {
    return {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name, labels: { [LABEL_KIND]: kind, ...labels } },
      type: SECRET_TYPE,
      data: { record: Buffer.from(JSON.stringify(record)).toString('base64') },
    };
  }
}

function recordOf<R>(obj: SecretObject): R {
  const data = obj.data?.record;
  if (data === undefined) throw new Unavailable(`store object ${obj.metadata.name} has no record`);
  return JSON.parse(Buffer.from(data, 'base64').toString('utf8')) as R;
}

/** Dates as epoch milliseconds in the JSON records. */
interface UserJson {
  email: string;
  groups: string[];
  passwordHash?: string;
  createdAt: number;
  idp?: { subject: string; refreshToken?: string; groupsCheckedAt: number };
}

function userRepository(s: Store): UserRepository {
  const toRecord = (u: UserJson): UserRecord => ({
    email: u.email,
    groups: u.groups,
    ...(u.passwordHash === undefined ? {} : { passwordHash: u.passwordHash }),
    createdAt: new Date(u.createdAt),
    ...(u.idp === undefined
      ? {}
      : {
          idp: {
            subject: u.idp.subject,
            ...(u.idp.refreshToken === undefined ? {} : { refreshToken: u.idp.refreshToken }),
            groupsCheckedAt: new Date(u.idp.groupsCheckedAt),
          },
        }),
  });
  const nameOf = (email: string): string => `ndk-user-${sha(lower(email))}`;
  return {
    async upsert(user) {
      const email = lower(user.email);
      await s.mutate<UserJson, void>('user', nameOf(email), (prev) => ({
        next: {
          email,
          groups: [...user.groups],
          ...(user.passwordHash === undefined ? {} : { passwordHash: user.passwordHash }),
          // As in SQLite: an update keeps the account's creation time.
          createdAt: prev?.createdAt ?? user.createdAt.getTime(),
          ...(user.idp === undefined
            ? {}
            : {
                idp: {
                  subject: user.idp.subject,
                  ...(user.idp.refreshToken === undefined
                    ? {}
                    : { refreshToken: user.idp.refreshToken }),
                  groupsCheckedAt: user.idp.groupsCheckedAt.getTime(),
                },
              }),
        },
        result: undefined,
      }));
    },
    async get(email) {
      const obj = await s.get(nameOf(email));
      return obj ? toRecord(recordOf<UserJson>(obj)) : undefined;
    },
    async list() {
      return (await s.list('user'))
        .map((o) => toRecord(recordOf<UserJson>(o)))
        .sort((a, b) => (a.email < b.email ? -1 : a.email > b.email ? 1 : 0));
    },
    async remove(email) {
      const obj = await s.get(nameOf(email));
      return obj ? s.delete(obj.metadata.name, obj.metadata.resourceVersion) : false;
    },
  };
}

interface TokenJson {
  hash: string;
  email: string;
  clientDescription: string;
  createdAt: number;
  expiresAt: number;
  lastUsedAt?: number;
  revokedAt?: number;
}

function tokenRepository(
  s: Store,
  holders: { readonly users: UserRepository; readonly revocations: RevocationRepository },
): TokenRepository {
  const toRecord = (t: TokenJson): TokenRecord => ({
    hash: t.hash,
    email: t.email,
    clientDescription: t.clientDescription,
    createdAt: new Date(t.createdAt),
    expiresAt: new Date(t.expiresAt),
    ...(t.lastUsedAt === undefined ? {} : { lastUsedAt: new Date(t.lastUsedAt) }),
    ...(t.revokedAt === undefined ? {} : { revokedAt: new Date(t.revokedAt) }),
  });
  /** Undefined for a malformed hash: it cannot name a stored token. */
  const nameOf = (hash: string): string | undefined =>
    HEX64.test(hash) ? `ndk-token-${hash}` : undefined;
  const labelsOf = (t: TokenJson) => ({ [LABEL_EMAIL]: labelHash(t.email) });
  const findByHash = async (hash: string): Promise<TokenRecord | undefined> => {
    const name = nameOf(hash);
    const obj = name ? await s.get(name) : undefined;
    return obj ? toRecord(recordOf<TokenJson>(obj)) : undefined;
  };
  const revokeOne = (name: string, at: Date): Promise<boolean> =>
    s.mutate<TokenJson, boolean>('token', name, (t) =>
      t && t.revokedAt === undefined && t.expiresAt > at.getTime()
        ? { next: { ...t, revokedAt: at.getTime() }, result: true, labels: labelsOf(t) }
        : { result: false },
    );
  return {
    async create(token) {
      const name = nameOf(token.hash);
      if (!name) throw new Unavailable('a token hash must be 64 hex characters');
      const json: TokenJson = {
        hash: token.hash,
        email: lower(token.email),
        clientDescription: token.clientDescription,
        createdAt: token.createdAt.getTime(),
        expiresAt: token.expiresAt.getTime(),
        ...(token.lastUsedAt ? { lastUsedAt: token.lastUsedAt.getTime() } : {}),
        ...(token.revokedAt ? { revokedAt: token.revokedAt.getTime() } : {}),
      };
      if (!(await s.create('token', name, json, labelsOf(json)))) {
        throw new Conflict('a token with this hash exists');
      }
    },
    findByHash,
    async findBearer(hash) {
      const token = await findByHash(hash);
      if (!token) return undefined;
      const [user, notBefore] = await Promise.all([
        holders.users.get(token.email),
        holders.revocations.getNotBefore(token.email),
      ]);
      return {
        token,
        groups: user?.groups ?? [],
        ...(notBefore === undefined ? {} : { notBefore }),
      };
    },
    async touch(hash, at) {
      const name = nameOf(hash);
      if (!name) return;
      // Every authenticated request touches its token: a write per request would make the API
      // server the bottleneck, so "last used" is kept to the minute.
      await s.mutate<TokenJson, void>('token', name, (t) =>
        t && (t.lastUsedAt === undefined || at.getTime() - t.lastUsedAt >= TOUCH_RESOLUTION_MS)
          ? { next: { ...t, lastUsedAt: at.getTime() }, result: undefined, labels: labelsOf(t) }
          : { result: undefined },
      );
    },
    async revoke(hash, at) {
      const name = nameOf(hash);
      return name ? revokeOne(name, at) : false;
    },
    async revokeAllForUser(email, at) {
      const e = lower(email);
      const objs = (await s.list('token', { [LABEL_EMAIL]: labelHash(e) })).filter(
        (o) => recordOf<TokenJson>(o).email === e,
      );
      const results = await Promise.all(objs.map((o) => revokeOne(o.metadata.name, at)));
      return results.filter(Boolean).length;
    },
    async list(options) {
      const e = options?.email === undefined ? undefined : lower(options.email);
      const objs = await s.list('token', e === undefined ? {} : { [LABEL_EMAIL]: labelHash(e) });
      return objs
        .map((o) => toRecord(recordOf<TokenJson>(o)))
        .filter((t) => e === undefined || t.email === e)
        .sort(
          (a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.hash < b.hash ? -1 : 1),
        );
    },
    async deleteExpired(before) {
      let n = 0;
      for (const o of await s.list('token')) {
        if (recordOf<TokenJson>(o).expiresAt < before.getTime()) {
          if (await s.delete(o.metadata.name, o.metadata.resourceVersion)) n++;
        }
      }
      return n;
    },
  };
}

interface SessionJson {
  deviceCodeHash: string;
  userCode: string;
  clientDescription: string;
  clientIp: string;
  createdAt: number;
  expiresAt: number;
  intervalSeconds: number;
  state: LoginSessionRecord['state'];
  email?: string;
  lastPolledAt?: number;
}

interface UserCodeJson {
  deviceCodeHash: string;
  expiresAt: number;
}

function loginSessionRepository(s: Store): LoginSessionRepository {
  const toRecord = (j: SessionJson): LoginSessionRecord => ({
    deviceCodeHash: j.deviceCodeHash,
    userCode: j.userCode,
    clientDescription: j.clientDescription,
    clientIp: j.clientIp,
    createdAt: new Date(j.createdAt),
    expiresAt: new Date(j.expiresAt),
    intervalSeconds: j.intervalSeconds,
    state: j.state,
    ...(j.email === undefined ? {} : { email: j.email }),
    ...(j.lastPolledAt === undefined ? {} : { lastPolledAt: new Date(j.lastPolledAt) }),
  });
  const nameOf = (hash: string): string | undefined =>
    HEX64.test(hash) ? `ndk-login-${hash}` : undefined;
  const codeName = (userCode: string): string => `ndk-ucode-${sha(userCode)}`;
  const get = async (hash: string): Promise<SessionJson | undefined> => {
    const name = nameOf(hash);
    const obj = name ? await s.get(name) : undefined;
    return obj ? recordOf<SessionJson>(obj) : undefined;
  };
  const transition = async (
    hash: string,
    rule: (j: SessionJson) => SessionJson | undefined,
  ): Promise<boolean> => {
    const name = nameOf(hash);
    if (!name) return false;
    return s.mutate<SessionJson, boolean>('login', name, (j) => {
      const next = j ? rule(j) : undefined;
      return next ? { next, result: true } : { result: false };
    });
  };

  return {
    async create(session) {
      const name = nameOf(session.deviceCodeHash);
      if (!name) throw new Unavailable('a device code hash must be 64 hex characters');
      const created = session.createdAt.getTime();
      const index: UserCodeJson = {
        deviceCodeHash: session.deviceCodeHash,
        expiresAt: session.expiresAt.getTime(),
      };
      // Claim the user code first: the index object is the lock, taken with create-if-absent;
      // an index whose session has expired may be taken over (compare-and-swap).
      await s.mutate<UserCodeJson, void>('ucode', codeName(session.userCode), (prev) => {
        if (prev && prev.expiresAt > created) throw new Conflict('user code already in use');
        return { next: index, result: undefined };
      });
      const json: SessionJson = {
        deviceCodeHash: session.deviceCodeHash,
        userCode: session.userCode,
        clientDescription: session.clientDescription,
        clientIp: session.clientIp,
        createdAt: created,
        expiresAt: session.expiresAt.getTime(),
        intervalSeconds: session.intervalSeconds,
        state: session.state,
        ...(session.email === undefined ? {} : { email: lower(session.email) }),
        ...(session.lastPolledAt ? { lastPolledAt: session.lastPolledAt.getTime() } : {}),
      };
      let made: boolean;
      try {
        made = await s.create('login', name, json);
      } catch (err) {
        // Release the claim so the code is not blocked until it expires (best effort).
        await s.delete(codeName(session.userCode)).catch(() => false);
        throw err;
      }
      if (!made) throw new Conflict('a login session with this device code exists');
    },
    async findByDeviceCodeHash(hash) {
      const j = await get(hash);
      return j ? toRecord(j) : undefined;
    },
    async findLiveByUserCode(userCode, now) {
      const idx = await s.get(codeName(userCode));
      if (!idx) return undefined;
      const j = await get(recordOf<UserCodeJson>(idx).deviceCodeHash);
      return j && j.userCode === userCode && j.expiresAt > now.getTime() ? toRecord(j) : undefined;
    },
    async recordPoll(hash, at, intervalSeconds) {
      await transition(hash, (j) => ({ ...j, lastPolledAt: at.getTime(), intervalSeconds }));
    },
    decide(hash, decision, email, now) {
      return transition(hash, (j) =>
        j.state === 'pending' && j.expiresAt > now.getTime()
          ? { ...j, state: decision, email: lower(email) }
          : undefined,
      );
    },
    redeem(hash) {
      return transition(hash, (j) =>
        j.state === 'approved' ? { ...j, state: 'redeemed' } : undefined,
      );
    },
    async deleteExpired(before) {
      const cutoff = before.getTime();
      let n = 0;
      for (const o of await s.list('login')) {
        if (recordOf<SessionJson>(o).expiresAt < cutoff) {
          if (await s.delete(o.metadata.name, o.metadata.resourceVersion)) n++;
        }
      }
      // Stale user-code claims go too (preconditioned: a fresh claim is never removed).
      for (const o of await s.list('ucode')) {
        if (recordOf<UserCodeJson>(o).expiresAt < cutoff) {
          await s.delete(o.metadata.name, o.metadata.resourceVersion);
        }
      }
      return n;
    },
  };
}

interface NotBeforeJson {
  email: string;
  notBefore: number;
  /** How often it moved; the revocation version sums these. */
  changes: number;
}

interface EpochJson {
  email: string;
  epoch: number;
}

/**
 * `cachedVersion`, when the store keeps a read cache, counts the revocation changes that cache
 * has seen (it never repeats a value, so pruning cannot bring back an old version); without a
 * cache the version is derived from the records.
 */
function revocationRepository(
  s: Store,
  cachedVersion: (() => number) | undefined,
): RevocationRepository {
  const nameOf = (email: string): string => `ndk-nb-${sha(lower(email))}`;
  const epochName = (email: string): string => `ndk-epoch-${sha(lower(email))}`;
  return {
    async sessionEpoch(email) {
      const obj = await s.get(epochName(email));
      return obj ? recordOf<EpochJson>(obj).epoch : 0;
    },
    async endSessions(email) {
      const e = lower(email);
      return s.mutate<EpochJson, number>('epoch', epochName(e), (prev) => {
        const epoch = (prev?.epoch ?? 0) + 1;
        return { next: { email: e, epoch }, result: epoch };
      });
    },
    async setNotBefore(email, notBefore) {
      const e = lower(email);
      const nb = Math.floor(notBefore);
      await s.mutate<NotBeforeJson, void>('nb', nameOf(e), (prev) => ({
        // As in SQLite, every call counts as a change (the bundle is rebuilt), even when the
        // time does not move.
        next: {
          email: e,
          notBefore: Math.max(prev?.notBefore ?? nb, nb),
          changes: (prev?.changes ?? 0) + 1,
        },
        result: undefined,
      }));
    },
    async getNotBefore(email) {
      const obj = await s.get(nameOf(email));
      return obj ? recordOf<NotBeforeJson>(obj).notBefore : undefined;
    },
    async listNotBefore() {
      const rows = (await s.list('nb', {}, true)).map((o) => recordOf<NotBeforeJson>(o));
      rows.sort((a, b) => (a.email < b.email ? -1 : a.email > b.email ? 1 : 0));
      const out: Record<string, number> = {};
      for (const r of rows) out[r.email] = r.notBefore;
      return out;
    },
    async revokeSerial(serial, at) {
      // Serials are uint64, so the decimal name is at most 20 digits.
      await s.create('serial', `ndk-serial-${serial.toString()}`, {
        serial: serial.toString(),
        revokedAt: at.getTime(),
      });
    },
    async listRevokedSerials() {
      return (await s.list('serial', {}, true))
        .map((o) => BigInt(recordOf<{ serial: string }>(o).serial))
        .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    },
    async pruneBefore(before) {
      const cutoff = before.getTime();
      let n = 0;
      for (const o of await s.list('serial')) {
        const { revokedAt } = recordOf<{ revokedAt: number }>(o);
        if (revokedAt < cutoff && (await s.delete(o.metadata.name, o.metadata.resourceVersion))) {
          n++;
        }
      }
      for (const o of await s.list('nb')) {
        if (recordOf<NotBeforeJson>(o).notBefore * 1000 < cutoff) {
          if (await s.delete(o.metadata.name, o.metadata.resourceVersion)) n++;
        }
      }
      return n;
    },
    async version() {
      const cached = cachedVersion?.();
      if (cached !== undefined) return cached;
      const [serials, nbs] = await Promise.all([s.list('serial'), s.list('nb')]);
      return serials.length + nbs.reduce((sum, o) => sum + recordOf<NotBeforeJson>(o).changes, 0);
    },
  };
}

interface AuditJson {
  type: string;
  at: number;
  actor?: string;
  app?: string;
  clientIp?: string;
  details: AuditEvent['details'];
}

function auditRepository(s: Store, retain: number, logger: Logger | undefined): AuditRepository {
  let seq = 0;
  let sincePrune = 0;
  const prune = async (): Promise<void> => {
    const all = await s.list('audit');
    if (all.length <= retain) return;
    all.sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
    for (const o of all.slice(0, all.length - retain)) await s.delete(o.metadata.name);
  };
  const toEvent = (j: AuditJson): AuditEvent => ({
    type: j.type,
    at: new Date(j.at),
    ...(j.actor === undefined ? {} : { actor: j.actor }),
    ...(j.app === undefined ? {} : { app: j.app }),
    ...(j.clientIp === undefined ? {} : { clientIp: j.clientIp }),
    details: j.details,
  });
  return {
    async append(event) {
      const json: AuditJson = {
        type: event.type,
        at: event.at.getTime(),
        ...(event.actor === undefined ? {} : { actor: event.actor }),
        ...(event.app === undefined ? {} : { app: event.app }),
        ...(event.clientIp === undefined ? {} : { clientIp: event.clientIp }),
        details: { ...event.details },
      };
      logger?.info({ audit: json }, 'audit event');
      // Names sort by time, then by this process's sequence; the random tail keeps replicas apart.
      const name = `ndk-audit-${String(json.at).padStart(15, '0')}-${String(seq++).padStart(10, '0')}-${randomBytes(4).toString('hex')}`;
      await s.create('audit', name, json, { [LABEL_AUDIT_TYPE]: labelHash(event.type) });
      // Pruning lists the ring, so it runs once per tenth of the ring's size, not per append.
      if (++sincePrune >= Math.max(1, Math.floor(retain / 10))) {
        sincePrune = 0;
        await prune();
      }
    },
    async list(options) {
      const limit = options?.limit ?? 100;
      const objs = await s.list(
        'audit',
        options?.type ? { [LABEL_AUDIT_TYPE]: labelHash(options.type) } : {},
      );
      const events = objs
        .map((o) => ({ name: o.metadata.name, j: recordOf<AuditJson>(o) }))
        .filter((e) => options?.type === undefined || e.j.type === options.type)
        .sort((a, b) => b.j.at - a.j.at || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0));
      return events.slice(0, limit).map((e) => toEvent(e.j));
    },
  };
}

export interface KubernetesKeysStore extends KeysStore {
  readonly namespace: string;
  /**
   * Checks once that the store may do its work (list and create secrets in its namespace), so a
   * server fails at boot with the rights it lacks instead of at the first login.
   */
  verifyAccess(): Promise<void>;
  /** The read cache's state (`off` without `readCache`). */
  readCacheState(): ReadCacheState;
}

/** The keys-service state as labelled Secrets in one namespace. */
export function openKubernetesStore(options: KubernetesStoreOptions): KubernetesKeysStore {
  const s = new Store(options.client, options.namespace, options.maxConflictRetries ?? 30);
  let closed = false;
  let generation = 0;
  if (options.readCache) {
    s.mirror = new SecretMirror({
      client: options.client,
      path: s.base,
      kindLabel: LABEL_KIND,
      kinds: MIRRORED_KINDS,
      maxEntries: options.readCache.maxEntries ?? 20_000,
      watchSeconds: options.readCache.watchSeconds ?? 30,
      graceSeconds: 15,
      retryDelayMs: 1000,
      logger: options.logger,
      onChange: (name) => {
        const kind = kindOfName(name);
        if (name === '' || kind === 'nb' || kind === 'serial') generation += 1;
      },
    });
    s.mirror.start();
  }
  const mirror = s.mirror;
  // While the cache cannot answer, every call gets a new version: the bundle is rebuilt from
  // the API rather than trusted from a cache that may have missed a change.
  const cachedVersion = mirror
    ? () => (mirror.isSynced ? generation : (generation += 1))
    : undefined;
  const users = userRepository(s);
  const revocations = revocationRepository(s, cachedVersion);
  return {
    namespace: options.namespace,
    users,
    tokens: tokenRepository(s, { users, revocations }),
    loginSessions: loginSessionRepository(s),
    revocations,
    audit: auditRepository(s, options.auditRetain ?? 1000, options.logger),
    async verifyAccess() {
      await s.list('user');
      // A dry-run create proves the write right without leaving anything behind.
      try {
        await options.client.request('POST', s.base, {
          query: { dryRun: 'All' },
          body: s.object('audit', 'ndk-access-check', {}, {}),
        });
      } catch (err) {
        if (apiCode(err) !== 409) throw s.fail(err, 'checking the store');
      }
    },
    readCacheState: () => mirror?.state ?? 'off',
    async ready() {
      // A blip of the API server does not take the service out of rotation: the cache keeps
      // answering while its watch recovers, and any answer within a minute counts as reachable.
      if (mirror?.isSynced) return;
      const grace = options.readCache?.readyGraceMs ?? READY_GRACE_MS;
      if (Date.now() - Math.max(s.lastContact, mirror?.lastContact ?? 0) < grace) return;
      await s.getFresh('ndk-readiness-probe');
    },
    close() {
      if (!closed) {
        closed = true;
        mirror?.stop();
        if (options.ownsClient ?? true) options.client.close();
      }
      return Promise.resolve();
    },
  };
}
