import crypto from 'node:crypto';
import { Unauthenticated } from '@neetodeploy/platform';
import { EVENTS } from '../events.js';
import type { Caller, DomainContext, StoreContext } from './context.js';
import { recordAudit } from './context.js';

const TOKEN_PREFIX = 'ndk_';
/** Last-used times are kept to the minute: a write per request would cost an fsync each. */
const TOUCH_EVERY_MS = 60_000;

export function hashSecret(secret: string): string {
  return crypto.createHash('sha256').update(secret).digest('hex');
}

/** 256 random bits, URL-safe, with a prefix that secret scanners can recognise. */
export function generateToken(): string {
  return TOKEN_PREFIX + crypto.randomBytes(32).toString('base64url');
}

export interface MintedToken {
  /** Shown once; only its hash is stored. */
  readonly token: string;
  readonly email: string;
  readonly expiresAt: Date;
}

export async function mintToken(
  ctx: StoreContext,
  input: { email: string; clientDescription: string; ttlSeconds?: number; clientIp?: string },
): Promise<MintedToken> {
  const now = ctx.clock();
  const token = generateToken();
  const hash = hashSecret(token);
  const expiresAt = new Date(
    now.getTime() + (input.ttlSeconds ?? ctx.config.tokens.ttlSeconds) * 1000,
  );
  const email = input.email.trim().toLowerCase();
  await ctx.store.tokens.create({
    hash,
    email,
    clientDescription: input.clientDescription,
    createdAt: now,
    expiresAt,
  });
  await recordAudit(ctx, {
    type: EVENTS.tokenIssued,
    at: now,
    actor: email,
    ...(input.clientIp ? { clientIp: input.clientIp } : {}),
    // The first 8 hex digits of the hash identify the token in logs without revealing it.
    details: {
      tokenId: hash.slice(0, 8),
      client: input.clientDescription,
      expiresAt: expiresAt.toISOString(),
    },
  });
  return { token, email, expiresAt };
}

/** Resolves a bearer token to its caller; Unauthenticated for missing, unknown, expired or revoked. */
export async function authenticateToken(
  ctx: DomainContext,
  token: string | undefined,
): Promise<Caller> {
  if (!token) {
    throw new Unauthenticated('missing API token: run `neetodeploy login`', {
      code: 'missing_token',
    });
  }
  const bearer = token.startsWith(TOKEN_PREFIX)
    ? await ctx.store.tokens.findBearer(hashSecret(token))
    : undefined;
  const now = ctx.clock();
  if (!bearer) {
    throw new Unauthenticated('invalid API token: run `neetodeploy login`', {
      code: 'invalid_token',
    });
  }
  const record = bearer.token;
  if (record.revokedAt) {
    throw new Unauthenticated('this API token was revoked: run `neetodeploy login`', {
      code: 'revoked_token',
    });
  }
  if (record.expiresAt.getTime() <= now.getTime()) {
    throw new Unauthenticated('this API token has expired: run `neetodeploy login`', {
      code: 'expired_token',
    });
  }
  if (!record.lastUsedAt || now.getTime() - record.lastUsedAt.getTime() >= TOUCH_EVERY_MS) {
    await ctx.store.tokens.touch(record.hash, now);
  }
  return {
    email: record.email,
    groups: bearer.groups,
    tokenHash: record.hash,
    tokenExpiresAt: record.expiresAt,
    tokenCreatedAt: record.createdAt,
    clientDescription: record.clientDescription,
    ...(bearer.notBefore === undefined ? {} : { notBefore: bearer.notBefore }),
  };
}

/** Logout: revokes the token the caller used. */
export async function revokeCurrentToken(
  ctx: DomainContext,
  caller: Caller,
  clientIp?: string,
): Promise<void> {
  const now = ctx.clock();
  await ctx.store.tokens.revoke(caller.tokenHash, now);
  await recordAudit(ctx, {
    type: EVENTS.tokenRevoked,
    at: now,
    actor: caller.email,
    ...(clientIp ? { clientIp } : {}),
    details: { tokenId: caller.tokenHash.slice(0, 8) },
  });
}
