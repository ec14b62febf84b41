import { BadRequest } from '@neetodeploy/platform';
import { mintToken } from '../domain/index.js';
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
