/** `neetodeploy whoami`: the signed-in user, as the server sees the token. */
import type { Deps, CommandResult } from '../deps.js';
import { json } from '../format.js';
import { write } from '../io.js';

export interface WhoamiOptions {
  readonly json?: boolean;
}

export async function runWhoami(options: WhoamiOptions, deps: Deps): CommandResult {
  const session = await deps.api.session();
  const me = await session.client.me();
  if (options.json) {
    await write(
      deps.io.stdout,
      json({
        email: me.email,
        groups: me.groups,
        api_url: session.client.apiUrl,
        token_expires_at: me.token.expires_at,
      }),
    );
    return;
  }
  await write(deps.io.stdout, `${me.email}\n`);
  await write(
    deps.io.stderr,
    `on ${session.client.apiUrl}, token valid until ${me.token.expires_at}\n`,
  );
}
