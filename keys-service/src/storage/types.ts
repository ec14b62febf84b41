/**
 * Repository contracts of the keys-service state. The embedded default implements them on
 * SQLite (./sqlite.ts); a Kubernetes-backed store can implement the same interfaces and run the
 * shared conformance suite (`test/support/keys-repositories-conformance.ts`).
 *
 * Every method is a single atomic step: once its promise resolves, the write is durable.
 * Methods reject only for infrastructure failures, except where a `Conflict` is documented.
 */

/** A local account (the embedded default's sign-in). */
export interface UserRecord {
  readonly email: string;
  readonly groups: readonly string[];
  /** `scrypt$N$r$p$salt$hash` (base64 parts); undefined for accounts that sign in elsewhere. */
  readonly passwordHash?: string;
  readonly createdAt: Date;
  /** Accounts that sign in at an identity provider: how their groups are kept current. */
  readonly idp?: IdpLink;
}

/** What the keys-service keeps of a user's latest sign-in at the identity provider (OIDC). */
export interface IdpLink {
  /** The provider's subject (`sub`) for the account, checked on every refresh. */
  readonly subject: string;
  /** The provider's refresh token; absent when the provider issued none. A secret. */
  readonly refreshToken?: string;
  /** When the groups were last read from the provider (sign-in or refresh). */
  readonly groupsCheckedAt: Date;
}

export interface UserRepository {
  /** Creates or replaces the account (groups and password together). */
  upsert(user: UserRecord): Promise<void>;
  /** Undefined for an unknown email. Emails are compared lower-cased. */
  get(email: string): Promise<UserRecord | undefined>;
  list(): Promise<UserRecord[]>;
  /** Deletes the account; false when there was none. */
  remove(email: string): Promise<boolean>;
}

export interface TokenRecord {
  /** SHA-256 of the token, hex. The token itself is never stored. */
  readonly hash: string;
  readonly email: string;
  readonly clientDescription: string;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly lastUsedAt?: Date;
  readonly revokedAt?: Date;
}

/** A token with what every API call needs to know about its holder. */
export interface BearerRecord {
  readonly token: TokenRecord;
  /** The holder's groups; empty when there is no local account for the email. */
  readonly groups: readonly string[];
  /** The holder's "not before" (unix seconds), when one was ever recorded. */
  readonly notBefore?: number;
}

export interface TokenRepository {
  create(token: TokenRecord): Promise<void>;
  findByHash(hash: string): Promise<TokenRecord | undefined>;
  /**
   * The token, its holder's groups and "not before" in one read (one statement in SQLite):
   * every authenticated request needs all three.
   */
  findBearer(hash: string): Promise<BearerRecord | undefined>;
  /** Records use; cheap and idempotent. */
  touch(hash: string, at: Date): Promise<void>;
  /** Returns whether a live token was revoked. */
  revoke(hash: string, at: Date): Promise<boolean>;
  /** Revokes every live token of the user; returns how many. */
  revokeAllForUser(email: string, at: Date): Promise<number>;
  /** Every stored token (of one user when `email` is given), newest first. */
  list(options?: { readonly email?: string }): Promise<TokenRecord[]>;
  /** Drops rows that expired before `before`. Returns how many. */
  deleteExpired(before: Date): Promise<number>;
}

export type LoginSessionState = 'pending' | 'approved' | 'denied' | 'redeemed';

export interface LoginSessionRecord {
  /** SHA-256 of the device code, hex. */
  readonly deviceCodeHash: string;
  /** Normalised user code: 8 characters, no dash. */
  readonly userCode: string;
  readonly clientDescription: string;
  readonly clientIp: string;
  readonly createdAt: Date;
  readonly expiresAt: Date;
  readonly intervalSeconds: number;
  readonly state: LoginSessionState;
  /** Set when approved or denied. */
  readonly email?: string;
  readonly lastPolledAt?: Date;
}

export interface LoginSessionRepository {
  /** Throws Conflict when the user code is already used by a live session. */
  create(session: LoginSessionRecord): Promise<void>;
  findByDeviceCodeHash(hash: string): Promise<LoginSessionRecord | undefined>;
  /** Only sessions that have not expired at `now`. */
  findLiveByUserCode(userCode: string, now: Date): Promise<LoginSessionRecord | undefined>;
  /** Records a poll and the (possibly increased) interval. */
  recordPoll(hash: string, at: Date, intervalSeconds: number): Promise<void>;
  /**
   * Moves a live `pending` session to `approved`/`denied` for `email`. Returns false when the
   * session is not pending (already decided, redeemed) or has expired.
   */
  decide(hash: string, decision: 'approved' | 'denied', email: string, now: Date): Promise<boolean>;
  /** Moves `approved` to `redeemed`; true exactly once per session (at-most-once token). */
  redeem(hash: string): Promise<boolean>;
  deleteExpired(before: Date): Promise<number>;
}

export interface RevocationRepository {
  /** Sets the user's "not before" (unix seconds); never moves it backwards. */
  setNotBefore(email: string, notBefore: number): Promise<void>;
  getNotBefore(email: string): Promise<number | undefined>;
  listNotBefore(): Promise<Record<string, number>>;
  /** Adds a certificate serial to the KRL. */
  revokeSerial(serial: bigint, at: Date): Promise<void>;
  listRevokedSerials(): Promise<bigint[]>;
  /**
   * Forgets serials revoked before `before` and not-before times earlier than it; returns how
   * many records went. Callers pass a time older than the end of every credential they could
   * still refuse (see `MAX_CREDENTIAL_LIFETIME_SECONDS`).
   */
  pruneBefore(before: Date): Promise<number>;
  /**
   * Changes with every change above (for the CA bundle's cache); never returns a value it
   * returned before for different contents.
   */
  version(): Promise<number>;
  /**
   * The user's browser-session epoch (0 when never ended). A session cookie names the epoch it
   * was signed in under and is honoured only while it is still the current one.
   */
  sessionEpoch(email: string): Promise<number>;
  /**
   * Ends every browser session of the user (sign-out, password change, revocation): moves the
   * epoch on by one and returns the new value. Does not change `version()`.
   */
  endSessions(email: string): Promise<number>;
}

export interface AuditEvent {
  readonly type: string;
  readonly at: Date;
  readonly actor?: string;
  readonly app?: string;
  readonly clientIp?: string;
  /** Event-specific fields; never secrets. */
  readonly details: Readonly<Record<string, string | number | boolean | null>>;
}

export interface AuditRepository {
  append(event: AuditEvent): Promise<void>;
  /** Newest first. */
  list(options?: { type?: string; limit?: number }): Promise<AuditEvent[]>;
}

/** The whole state behind one object; `close()` releases it (idempotent). */
export interface KeysStore {
  readonly users: UserRepository;
  readonly tokens: TokenRepository;
  readonly loginSessions: LoginSessionRepository;
  readonly revocations: RevocationRepository;
  readonly audit: AuditRepository;
  /** Resolves when the store can serve requests; rejects with the reason otherwise. */
  ready(): Promise<void>;
  close(): Promise<void>;
}
