import crypto from 'node:crypto';
import { BadRequest, NotFound, Unauthenticated } from '@neetodeploy/platform';
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
      tokenId: tokenIdOf(hash),
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
  const groups = ctx.groups ? await ctx.groups.current(record.email, bearer.groups) : bearer.groups;
  return {
    email: record.email,
    groups,
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

/** The id a token is shown and revoked by: the first 8 hex digits of its hash (never secret). */
export function tokenIdOf(hash: string): string {
  return hash.slice(0, 8);
}

/**
 * Revokes the token a new login replaces (the CLI sends the one it is about to overwrite), so
 * that re-login does not leave the old token valid for the rest of its life. Presenting a token
 * is enough to revoke it, as `DELETE /tokens/current` already allows; an unknown, expired or
 * already revoked token changes nothing. Returns whether a live token was revoked.
 */
export async function revokeReplacedToken(
  ctx: StoreContext,
  input: { replacedToken: string; by: string; clientIp?: string },
): Promise<boolean> {
  if (!input.replacedToken.startsWith(TOKEN_PREFIX)) return false;
  const now = ctx.clock();
  const hash = hashSecret(input.replacedToken);
  const record = await ctx.store.tokens.findByHash(hash);
  if (!record || !(await ctx.store.tokens.revoke(hash, now))) return false;
  await recordAudit(ctx, {
    type: EVENTS.tokenReplaced,
    at: now,
    actor: record.email,
    ...(input.clientIp ? { clientIp: input.clientIp } : {}),
    details: { tokenId: tokenIdOf(hash), replacedBy: input.by },
  });
  return true;
}

/** `neetodeploy-keys tokens revoke ID`: revokes the one token whose id (hash prefix) is `id`. */
export async function revokeTokenById(
  ctx: StoreContext,
  id: string,
): Promise<{ readonly email: string; readonly revoked: boolean }> {
  const wanted = id.trim().toLowerCase();
  if (!/^[0-9a-f]{8,64}$/.test(wanted)) {
    throw new BadRequest(`not a token id (8 or more hex digits, see tokens list): ${id}`);
  }
  const matches = (await ctx.store.tokens.list()).filter((t) => t.hash.startsWith(wanted));
  const [match, ...others] = matches;
  if (!match) throw new NotFound(`no token has the id ${wanted}`);
  if (others.length > 0) {
    throw new BadRequest(`${matches.length} tokens start with ${wanted}: give more digits`);
  }
  const now = ctx.clock();
  const revoked = await ctx.store.tokens.revoke(match.hash, now);
  if (revoked) {
    await recordAudit(ctx, {
      type: EVENTS.tokenRevoked,
      at: now,
      actor: match.email,
      details: { tokenId: tokenIdOf(match.hash), by: 'admin' },
    });
  }
  return { email: match.email, revoked };
}
