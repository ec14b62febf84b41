import type { Krl, PublicKey, RevocationChecker } from '@neetodeploy/sshcert';

/** Everything the bastion trusts at one moment; replaced whole on each successful load. */
export interface TrustSnapshot {
  readonly userCAs: readonly PublicKey[];
  readonly hostCA?: PublicKey;
  readonly krl?: Krl;
  /**
   * Per-user "not before" (unix seconds), keyed by the lower-cased user id: certificates valid
   * earlier are revoked.
   */
  readonly notBefore: ReadonlyMap<string, number>;
  readonly loadedAt: Date;
  /** Where it came from, for logs: a file list or the keys-service URL with its ETag. */
  readonly source: string;
  /** KRL and not-before in one checker for `verifyUserCertificate`. */
  readonly revoked: RevocationChecker;
}

/**
 * A source of trust that keeps itself current. It fails closed: `current()` is undefined until
 * a first load succeeded, and every authentication is refused meanwhile. A failed reload keeps
 * the last good snapshot.
 */
export interface TrustStore {
  /** Loads once (never throws: failures are logged), then keeps reloading until `stop()`. */
  start(): Promise<void>;
  current(): TrustSnapshot | undefined;
  /**
   * Calls `listener` with each new snapshot, after it became current (not for an unchanged or
   * failed reload). Listeners must not throw.
   */
  onChange(listener: (snapshot: TrustSnapshot) => void): void;
  stop(): void;
}
