/**
 * Revocation for connections that are already in: when the trusted state changes, every
 * authenticated connection's certificate is checked again against it, and the connections whose
 * certificate is no longer trusted are ended with the reason on their sessions' stderr.
 */
import type { Logger } from 'pino';
import type { LiveConnection } from '../connection/index.js';
import { EVENTS } from '../events.js';
import type { BastionMetrics } from '../metrics/index.js';
import type { TrustSnapshot } from '../trust/index.js';
import type { VerifiedIdentity } from '../types.js';

export type LostTrust = 'revoked' | 'untrusted-ca';

/** Why `identity` is no longer trusted under `snapshot`, or undefined while it still is. */
export function lostTrust(
  identity: VerifiedIdentity,
  snapshot: TrustSnapshot,
): LostTrust | undefined {
  const cert = identity.certificate;
  const caBlob = cert.signatureKey.blob;
  if (!snapshot.userCAs.some((k) => k.blob.equals(caBlob))) return 'untrusted-ca';
  return snapshot.revoked.isRevoked(cert) ? 'revoked' : undefined;
}

const USER_MESSAGES: Record<LostTrust, string> = {
  revoked:
    'neetodeploy: your certificate has been revoked, closing this session: run `neetodeploy login` to get a new one',
  'untrusted-ca':
    'neetodeploy: the CA that signed your certificate is no longer trusted, closing this session: run `neetodeploy login`, then connect again',
};

/** Ends every authenticated connection in `connections` that `snapshot` no longer trusts. */
export function recheckConnections(
  connections: readonly LiveConnection[],
  snapshot: TrustSnapshot,
  deps: { readonly metrics: BastionMetrics; readonly logger: Logger; readonly now: () => Date },
): number {
  let ended = 0;
  for (const c of connections) {
    const conn = c.authenticated;
    if (!conn || c.state === 'closing') continue;
    const reason = lostTrust(conn.identity, snapshot);
    if (!reason) continue;
    ended++;
    deps.metrics.limitRejections.inc({ limit: `trust-${reason}` });
    deps.logger.warn(
      {
        event: EVENTS.connectionRevoked,
        connectionId: c.info.id,
        reason,
        user: conn.identity.user,
        keyId: conn.identity.keyId,
        serial: conn.identity.serial.toString(),
        source: snapshot.source,
      },
      'live connection no longer trusted',
    );
    c.end(USER_MESSAGES[reason]);
  }
  return ended;
}
