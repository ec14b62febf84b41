import { BadRequest } from '@neetodeploy/platform';
import { revokeUser } from '../domain/index.js';
import type { StoreLocation } from './context.js';
import { openStoreContext } from './context.js';
import type { CommandIo } from './io.js';

/**
 * `neetodeploy-keys revoke --user EMAIL`: revokes every API token of the user and sets their
 * "not before" to now, so bastions refuse certificates issued earlier.
 */
export async function runRevoke(options: StoreLocation & { readonly user: string }, io: CommandIo): Promise<void> {
  if (!/^[^\s@:]+@[^\s@:]+$/.test(options.user.trim())) throw new BadRequest(`not an email address: ${options.user}`);
  const ctx = openStoreContext(options);
  try {
    const result = await revokeUser(ctx, options.user);
    io.stdout.write(
      `revoked ${result.tokensRevoked} token(s) of ${result.email}; certificates valid from before ${new Date(
        result.notBefore * 1000,
      ).toISOString()} are refused\n`,
    );
  } finally {
    await ctx.store.close();
  }
}
