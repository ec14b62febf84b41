/** `neetodeploy logout`: revokes the token on the server, then forgets it and the keys made with it. */
import type { Deps, CommandResult } from '../deps.js';
import { clearCredentials } from '../config.js';
import { ApiError, CliError } from '../errors.js';
import { write } from '../io.js';

export async function runLogout(_options: Record<string, never>, deps: Deps): CommandResult {
  const { io, api, config } = deps;
  const stored = await api.stored();
  if (!stored && config.overrides.token === undefined) {
    await write(io.stderr, 'Not logged in.\n');
    return;
  }
  const session = await api.session();
  let problem: string | undefined;
  try {
    await session.client.revokeToken();
  } catch (err) {
    // Already invalid (revoked, expired, unknown): nothing left to revoke.
    if (!(err instanceof ApiError && err.status === 401)) {
      problem = err instanceof Error ? err.message : String(err);
    }
  }
  if (!session.fromEnvironment) await clearCredentials(config);
  if (problem !== undefined) {
    throw new CliError(
      `${session.fromEnvironment ? 'could not' : 'logged out on this machine, but could not'} revoke the token on the server (${problem}): it stays valid until it expires`,
    );
  }
  await write(
    io.stderr,
    session.fromEnvironment
      ? 'Revoked the token from NEETODEPLOY_TOKEN.\n'
      : `Logged out${stored?.email ? ` ${stored.email}` : ''}.\n`,
  );
}
