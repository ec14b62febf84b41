/**
 * Makes app-related refusals actionable: the keys-service answers "no access" the same way for
 * apps that do not exist (no probing), so the CLI adds the apps this user can use.
 */
import type { ApiClient } from './api.js';
import { ApiError } from './errors.js';

export async function withAppHint<T>(
  client: ApiClient,
  app: string,
  action: () => Promise<T>,
): Promise<T> {
  try {
    return await action();
  } catch (err) {
    if (!(err instanceof ApiError) || (err.status !== 403 && err.status !== 404)) throw err;
    if (err.code === 'unknown_process') throw err;
    let names: string[];
    try {
      names = (await client.apps()).map((a) => a.name);
    } catch {
      throw err;
    }
    const yours = names.length > 0 ? names.join(', ') : 'none (ask an administrator for access)';
    if (!names.includes(app)) {
      throw err.withMessage(
        `unknown app ${app}, or you have no access to it. Apps you can use: ${yours}`,
      );
    }
    throw err.withMessage(`${err.serverMessage}. See \`neetodeploy apps\` for your permissions`);
  }
}
