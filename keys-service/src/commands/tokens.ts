import { BadRequest } from '@neetodeploy/platform';
import { mintToken, revokeTokenById, tokenIdOf } from '../domain/index.js';
import type { TokenRecord } from '../storage/index.js';
import type { StoreLocation } from './context.js';
import { openStoreContext, parseTokenLifetime } from './context.js';
import type { CommandIo } from './io.js';

export interface TokensCreateOptions extends StoreLocation {
  readonly user: string;
  readonly ttl?: string;
  readonly description?: string;
}

/** `neetodeploy-keys tokens create --user EMAIL [--ttl 30d]`: prints only the token on stdout. */
export async function runTokensCreate(options: TokensCreateOptions, io: CommandIo): Promise<void> {
  const email = options.user.trim().toLowerCase();
  if (!/^[^\s@:]+@[^\s@:]+$/.test(email))
    throw new BadRequest(`not an email address: ${options.user}`);
  const ttlSeconds = options.ttl ? parseTokenLifetime(options.ttl) : undefined;
  const ctx = openStoreContext(options);
  try {
    if (!(await ctx.store.users.get(email))) {
      io.stderr.write(
        `note: ${email} has no local account; the token works, groups come from the policy only\n`,
      );
    }
    const minted = await mintToken(ctx, {
      email,
      clientDescription: (
        options.description ?? 'created with neetodeploy-keys tokens create'
      ).slice(0, 200),
      ...(ttlSeconds ? { ttlSeconds } : {}),
    });
    io.stdout.write(`${minted.token}\n`);
    io.stderr.write(`token for ${minted.email}, expires ${minted.expiresAt.toISOString()}\n`);
  } finally {
    await ctx.store.close();
  }
}

export interface TokensListOptions extends StoreLocation {
  readonly user?: string;
  readonly all?: boolean;
  readonly json?: boolean;
}

/** Live, revoked or expired at `now`. */
function tokenState(token: TokenRecord, now: Date): 'live' | 'revoked' | 'expired' {
  if (token.revokedAt) return 'revoked';
  return token.expiresAt.getTime() <= now.getTime() ? 'expired' : 'live';
}

/**
 * `neetodeploy-keys tokens list [--user EMAIL] [--all] [--json]`: the live tokens (every token
 * with --all), newest first, by id (the hash prefix `tokens revoke` takes); never the token.
 */
export async function runTokensList(options: TokensListOptions, io: CommandIo): Promise<void> {
  const ctx = openStoreContext(options);
  try {
    const now = ctx.clock();
    const rows = (await ctx.store.tokens.list(options.user ? { email: options.user } : {}))
      .map((t) => ({ token: t, state: tokenState(t, now) }))
      .filter((r) => options.all === true || r.state === 'live')
      .map(({ token: t, state }) => ({
        id: tokenIdOf(t.hash),
        user: t.email,
        state,
        client: t.clientDescription,
        created_at: t.createdAt.toISOString(),
        expires_at: t.expiresAt.toISOString(),
        last_used_at: t.lastUsedAt?.toISOString() ?? null,
      }));
    if (options.json) {
      io.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
      return;
    }
    for (const r of rows) {
      io.stdout.write(
        `${r.id}  ${r.state.padEnd(7)}  ${r.user}  expires ${r.expires_at}  ${JSON.stringify(r.client)}\n`,
      );
    }
    if (rows.length === 0) io.stderr.write('no tokens\n');
  } finally {
    await ctx.store.close();
  }
}

/** `neetodeploy-keys tokens revoke ID`: revokes one token by the id `tokens list` shows. */
export async function runTokensRevoke(
  id: string,
  options: StoreLocation,
  io: CommandIo,
): Promise<void> {
  const ctx = openStoreContext(options);
  try {
    const result = await revokeTokenById(ctx, id);
    io.stdout.write(
      result.revoked
        ? `revoked token ${id} of ${result.email}\n`
        : `token ${id} of ${result.email} was already revoked or expired\n`,
    );
  } finally {
    await ctx.store.close();
  }
}
