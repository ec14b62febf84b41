/**
 * Revocation and the public CA bundle the bastions poll (`GET /api/v1/ca`, docs/identity.md).
 */
import crypto from 'node:crypto';
import { hashUserId } from '@neetodeploy/contract';
import type { CaBundle } from '@neetodeploy/contract';
import { createKrl } from '@neetodeploy/sshcert';
import { EVENTS } from '../events.js';
import type { DomainContext, StoreContext } from './context.js';
import { recordAudit, unixSeconds } from './context.js';

export interface RevokeUserResult {
  readonly email: string;
  readonly tokensRevoked: number;
  /** Unix seconds: certificates of the user valid from before this are refused. */
  readonly notBefore: number;
}

/** Revokes every token and browser session of the user and sets their "not before" to now. */
export async function revokeUser(ctx: StoreContext, emailInput: string): Promise<RevokeUserResult> {
  const email = emailInput.trim().toLowerCase();
  const now = ctx.clock();
  const notBefore = unixSeconds(now);
  await ctx.store.revocations.setNotBefore(email, notBefore);
  const tokensRevoked = await ctx.store.tokens.revokeAllForUser(email, now);
  // A signed-in browser could otherwise approve a new login and mint a fresh token.
  await ctx.store.revocations.endSessions(email);
  await recordAudit(ctx, {
    type: EVENTS.userRevoked,
    at: now,
    actor: email,
    details: { tokensRevoked, notBefore },
  });
  return { email, tokensRevoked, notBefore };
}

export interface CaBundleResponse {
  readonly bundle: CaBundle;
  /** Strong ETag over everything but `generated_at`, so it is stable across restarts and replicas. */
  readonly etag: string;
}

/**
 * The public bundle names no one: each user's "not before" is keyed by the SHA-256 of the
 * lower-cased email (issue 13 item 8). Two spellings of one user keep the later time.
 */
function hashedNotBefore(byEmail: Readonly<Record<string, number>>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [email, t] of Object.entries(byEmail)) {
    const key = hashUserId(email);
    out[key] = Math.max(t, out[key] ?? t);
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/**
 * No credential this service issues lives longer than this: tokens at most 365 days, API
 * certificates at most 7 days, user certificates from `neetodeploy-keys sign` at most 365 days.
 * A revoked serial or a user's "not before" older than it can refuse nothing still valid, so
 * the periodic cleanup forgets it (a day of margin for clock skew and backdating).
 */
export const MAX_CREDENTIAL_LIFETIME_SECONDS = 366 * 24 * 60 * 60;
export const MAX_SIGNED_USER_CERTIFICATE_SECONDS = 365 * 24 * 60 * 60;

/** Builds the bundle, cached until the revocation state changes. */
export function createCaBundleSource(ctx: DomainContext): () => Promise<CaBundleResponse> {
  let cached: { version: number; response: CaBundleResponse } | undefined;
  return async () => {
    const version = await ctx.store.revocations.version();
    if (cached?.version === version) return cached.response;
    const [notBefore, serials] = await Promise.all([
      ctx.store.revocations.listNotBefore(),
      ctx.store.revocations.listRevokedSerials(),
    ]);
    const now = ctx.clock();
    const krl =
      serials.length === 0
        ? null
        : createKrl({
            version: BigInt(version),
            comment: 'neetodeploy',
            now,
            certSections: [
              {
                caKey: ctx.authorities.userSigningKey.publicKey,
                serialRanges: serials.map((s) => [s, s] as const),
                keyIds: [],
              },
            ],
          }).toString('base64');
    const content = {
      user_ca_keys: [...ctx.authorities.userCaKeyLines],
      host_ca_key: ctx.authorities.hostCaKeyLine,
      krl,
      not_before_sha256: hashedNotBefore(notBefore),
      not_before: {},
    };
    const etag = `"${crypto
      .createHash('sha256')
      // The KRL embeds its generation time; hash its inputs instead of its bytes.
      .update(JSON.stringify({ ...content, krl: serials.map(String) }))
      .digest('base64url')
      .slice(0, 27)}"`;
    const response = { bundle: { ...content, generated_at: now.toISOString() }, etag };
    cached = { version, response };
    return response;
  };
}

/** Adds a certificate serial to the KRL (an operator action; the audit log names the serials). */
export async function revokeCertificateSerial(ctx: StoreContext, serial: bigint): Promise<void> {
  const now = ctx.clock();
  await ctx.store.revocations.revokeSerial(serial, now);
  await recordAudit(ctx, {
    type: EVENTS.certificateRevoked,
    at: now,
    details: { serial: serial.toString() },
  });
}
