import type { KeyId } from '@neetodeploy/contract';
import { decodeKeyId, hashUserId, normaliseUserId } from '@neetodeploy/contract';
import type { Certificate, Krl, PublicKey } from '@neetodeploy/sshcert';
import { parseKrl, parsePublicKeyText } from '@neetodeploy/sshcert';
import type { TrustSnapshot } from './types.js';

/**
 * The user and request id of a certificate's key id (the contract's `<email>:<requestId>`). An
 * operator may sign a certificate by hand with any id (`neetodeploy-keys ca sign --id`): then
 * the whole id is the user, so that revoking that user still matches it.
 */
export function keyIdParts(keyId: string): KeyId {
  const decoded = decodeKeyId(keyId);
  return decoded.ok ? decoded.value : { user: keyId, requestId: '' };
}

/** The user part of a key id (see {@link keyIdParts}). */
export function userOfKeyId(keyId: string): string {
  return keyIdParts(keyId).user;
}

/** The form user ids are compared in (e-mail addresses: case-insensitive in practice). */
export const normalizeUser = normaliseUserId;

/** Keeps the later of two "not before" times under one key. */
function addNotBefore(map: Map<string, number>, key: string, t: number, label: string): void {
  if (!Number.isFinite(t)) throw new Error(`not_before of ${label} is not a number`);
  map.set(key, Math.max(t, map.get(key) ?? -Infinity));
}

/** Parses every non-empty, non-comment line of an authorized_keys-like text as a public key. */
export function parseKeyLines(text: string): PublicKey[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => parsePublicKeyText(l));
}

export function buildSnapshot(parts: {
  userCAs: readonly PublicKey[];
  hostCA?: PublicKey;
  krl?: Buffer | null;
  notBefore?: Readonly<Record<string, number>>;
  /** The same times keyed by the contract's `hashUserId` (what the public CA bundle carries). */
  notBeforeSha256?: Readonly<Record<string, number>>;
  source: string;
  now: Date;
}): TrustSnapshot {
  if (parts.userCAs.length === 0) throw new Error('no user CA key');
  const krl: Krl | undefined = parts.krl ? parseKrl(parts.krl) : undefined;
  // User ids are e-mail addresses: `Alice@Example.com` and `alice@example.com` are one user,
  // whichever case the keys-service or the certificate's key id happens to use.
  const notBefore = new Map<string, number>();
  for (const [user, t] of Object.entries(parts.notBefore ?? {})) {
    addNotBefore(notBefore, normalizeUser(user), t, user);
  }
  const notBeforeHashed = new Map<string, number>();
  for (const [hash, t] of Object.entries(parts.notBeforeSha256 ?? {})) {
    addNotBefore(notBeforeHashed, hash.toLowerCase(), t, hash);
  }
  return {
    userCAs: parts.userCAs,
    hostCA: parts.hostCA,
    krl,
    notBefore,
    loadedAt: parts.now,
    source: parts.source,
    revoked: {
      isRevoked(cert: Certificate): boolean {
        if (krl?.isRevoked(cert)) return true;
        const user = userOfKeyId(cert.keyId);
        const times = [notBefore.get(normalizeUser(user)), notBeforeHashed.get(hashUserId(user))];
        const t = Math.max(...times.map((x) => x ?? -Infinity));
        return Number.isFinite(t) && cert.validAfter < BigInt(Math.floor(t));
      },
    },
  };
}
