import type { Certificate, Krl, PublicKey } from '@neetodeploy/sshcert';
import { parseKrl, parsePublicKeyText } from '@neetodeploy/sshcert';
import type { TrustSnapshot } from './types.js';

/** The user part of a key id `<email>:<requestId>` (everything before the last `:`). */
export function userOfKeyId(keyId: string): string {
  const i = keyId.lastIndexOf(':');
  return i <= 0 ? keyId : keyId.slice(0, i);
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
  source: string;
  now: Date;
}): TrustSnapshot {
  if (parts.userCAs.length === 0) throw new Error('no user CA key');
  const krl: Krl | undefined = parts.krl ? parseKrl(parts.krl) : undefined;
  const notBefore = new Map(Object.entries(parts.notBefore ?? {}));
  for (const [user, t] of notBefore) {
    if (!Number.isFinite(t)) throw new Error(`not_before of ${user} is not a number`);
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
        const t = notBefore.get(userOfKeyId(cert.keyId));
        return t !== undefined && cert.validAfter < BigInt(Math.floor(t));
      },
    },
  };
}
