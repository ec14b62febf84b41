/**
 * `neetodeploy auth status`: what this machine would use, without asking any server (gh's
 * `auth status` offline): the stored login, or NEETODEPLOY_TOKEN. Exit 4 when there is none or
 * the stored token has expired.
 */
import type { Deps, CommandResult } from '../deps.js';
import { NotLoggedInError } from '../errors.js';
import { json } from '../format.js';
import { write } from '../io.js';

export interface AuthStatusOptions {
  readonly json?: boolean;
}

export async function runAuthStatus(options: AuthStatusOptions, deps: Deps): CommandResult {
  const { config } = deps;
  const stored = await deps.api.stored();
  const fromEnv = config.overrides.token !== undefined;
  const apiUrl = config.overrides.apiUrl ?? stored?.apiUrl;
  const expired =
    !fromEnv && stored?.expiresAt !== undefined && Date.parse(stored.expiresAt) <= Date.now();
  if (options.json) {
    await write(
      deps.io.stdout,
      json({
        logged_in: fromEnv || (stored !== undefined && !expired),
        source: fromEnv ? 'NEETODEPLOY_TOKEN' : stored ? 'login' : null,
        api_url: apiUrl ?? null,
        email: fromEnv ? null : (stored?.email ?? null),
        token_expires_at: fromEnv ? null : (stored?.expiresAt ?? null),
      }),
    );
  }
  if (fromEnv) {
    if (!options.json) {
      await write(
        deps.io.stderr,
        `Using the token in NEETODEPLOY_TOKEN on ${apiUrl ?? '(no API: set NEETODEPLOY_API_URL)'} (not checked: run \`neetodeploy whoami\`)\n`,
      );
    }
    return;
  }
  if (!stored) throw new NotLoggedInError();
  if (expired) {
    throw new NotLoggedInError(
      `the login of ${stored.email} on ${stored.apiUrl} expired at ${stored.expiresAt ?? '?'}: run \`neetodeploy login\``,
    );
  }
  if (!options.json) {
    await write(
      deps.io.stderr,
      `Logged in as ${stored.email} on ${stored.apiUrl}${stored.expiresAt ? `, token valid until ${stored.expiresAt}` : ''}\n`,
    );
  }
}
