import { BadRequest } from '@neetodeploy/platform';
import { addUser, removeUser } from '../domain/index.js';
import type { StoreLocation } from './context.js';
import { openStoreContext } from './context.js';
import type { CommandIo } from './io.js';
import { isTty, promptHidden, readFirstLine } from './io.js';

export interface UsersAddOptions extends StoreLocation {
  readonly group?: readonly string[];
  readonly passwordStdin?: boolean;
}

/**
 * `neetodeploy-keys users add EMAIL [--group G]... [--password-stdin]`: creates or updates a
 * local account. The password comes from stdin (first line) or a hidden prompt on a terminal.
 */
export async function runUsersAdd(
  email: string,
  options: UsersAddOptions,
  io: CommandIo,
): Promise<void> {
  let password: string;
  if (options.passwordStdin) {
    password = await readFirstLine(io.stdin);
  } else if (isTty(io.stdin)) {
    password = await promptHidden(io, `Password for ${email}: `);
    const again = await promptHidden(io, 'Again: ');
    if (again !== password) throw new BadRequest('the passwords differ');
  } else {
    throw new BadRequest('stdin is not a terminal: pass the password with --password-stdin');
  }
  const ctx = openStoreContext(options);
  try {
    const user = await addUser(ctx.store, { email, groups: options.group ?? [], password });
    io.stderr.write(
      `user ${user.email} saved${user.groups.length ? ` (groups: ${user.groups.join(', ')})` : ''}\n`,
    );
  } finally {
    await ctx.store.close();
  }
}

/** `neetodeploy-keys users list [--json]`: local accounts and their groups (no secrets). */
export async function runUsersList(
  options: StoreLocation & { readonly json?: boolean },
  io: CommandIo,
): Promise<void> {
  const ctx = openStoreContext(options);
  try {
    const users = (await ctx.store.users.list()).map((u) => ({
      email: u.email,
      groups: [...u.groups],
      password: u.passwordHash !== undefined,
      created_at: u.createdAt.toISOString(),
    }));
    if (options.json) {
      io.stdout.write(`${JSON.stringify(users, null, 2)}\n`);
      return;
    }
    for (const u of users) {
      io.stdout.write(`${u.email}${u.groups.length ? `  groups: ${u.groups.join(', ')}` : ''}\n`);
    }
    if (users.length === 0) io.stderr.write('no local accounts\n');
  } finally {
    await ctx.store.close();
  }
}

/**
 * `neetodeploy-keys users remove EMAIL`: revokes the user (tokens, browser sessions, earlier
 * certificates) and deletes the account.
 */
export async function runUsersRemove(
  email: string,
  options: StoreLocation,
  io: CommandIo,
): Promise<void> {
  const ctx = openStoreContext(options);
  try {
    const result = await removeUser(ctx, email);
    io.stdout.write(
      `${result.removed ? 'removed' : 'no local account for'} ${result.email}; revoked ${result.tokensRevoked} token(s) and every browser session\n`,
    );
  } finally {
    await ctx.store.close();
  }
}
