/**
 * The app's config vars as they are before a change, for commands that only want to name what
 * the change does (`config:set`, `config:unset`): a user with config:write but not config:read
 * gets undefined, and the server alone decides then.
 */
import type { ApiClient, ConfigVarsBody } from './api.js';
import { withAppHint } from './app-errors.js';
import { ApiError } from './errors.js';

/** The app's config vars, or undefined without config:read (403); other refusals are hinted. */
export async function currentConfigVars(
  client: ApiClient,
  app: string,
): Promise<ConfigVarsBody | undefined> {
  try {
    return await client.getConfig(app);
  } catch (err) {
    if (err instanceof ApiError && err.status === 403) return undefined;
    return withAppHint(client, app, () => {
      throw err;
    });
  }
}
