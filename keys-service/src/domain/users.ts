import { BadRequest } from '@neetodeploy/platform';
import { hashPassword } from '../auth/index.js';
import { EVENTS } from '../events.js';
import { recordAudit } from './context.js';
import type { KeysStore, UserRecord } from '../storage/index.js';
import type { StoreContext } from './context.js';
import type { RevokeUserResult } from './revocation.js';
import { revokeUser } from './revocation.js';

const EMAIL = /^[^\s@:]+@[^\s@:]+$/;
const GROUP = /^[a-zA-Z0-9][-a-zA-Z0-9_.]{0,63}$/;

/** Creates or updates a local account. The email may not contain `:` (key ids use it). */
export async function addUser(
  store: KeysStore,
  input: { email: string; groups: readonly string[]; password?: string; now?: Date },
): Promise<UserRecord> {
  const email = input.email.trim().toLowerCase();
  if (!EMAIL.test(email)) throw new BadRequest(`not an email address: ${input.email}`);
  for (const g of input.groups)
    if (!GROUP.test(g)) throw new BadRequest(`invalid group name: ${g}`);
  if (input.password !== undefined && input.password.length < 8) {
    throw new BadRequest('passwords need at least 8 characters');
  }
  const existing = await store.users.get(email);
  const passwordHash =
    input.password !== undefined ? await hashPassword(input.password) : existing?.passwordHash;
  const record: UserRecord = {
    email,
    groups: [...new Set(input.groups)],
    ...(passwordHash ? { passwordHash } : {}),
    createdAt: existing?.createdAt ?? input.now ?? new Date(),
  };
  await store.users.upsert(record);
  // A new password ends every browser session signed in with the old one.
  if (input.password !== undefined) await store.revocations.endSessions(email);
  return record;
}

/**
 * `neetodeploy-keys users remove EMAIL`: revokes the user first (tokens, browser sessions,
 * earlier certificates), then deletes the account, so removal leaves nothing usable behind.
 */
export async function removeUser(
  ctx: StoreContext,
  emailInput: string,
): Promise<RevokeUserResult & { readonly removed: boolean }> {
  const email = emailInput.trim().toLowerCase();
  if (!EMAIL.test(email)) throw new BadRequest(`not an email address: ${emailInput}`);
  const revoked = await revokeUser(ctx, email);
  const removed = await ctx.store.users.remove(email);
  await recordAudit(ctx, {
    type: EVENTS.userRemoved,
    at: ctx.clock(),
    actor: email,
    details: { removed, tokensRevoked: revoked.tokensRevoked },
  });
  return { ...revoked, removed };
}
