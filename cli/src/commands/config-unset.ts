/** `neetodeploy config:unset -a APP KEY...`: removes keys in one change, then restarts. */
import { withAppHint } from '../app-errors.js';
import type { Deps, CommandResult } from '../deps.js';
import { currentConfigVars } from '../current-config.js';
import { UsageError } from '../errors.js';
import { json, listWords } from '../format.js';
import { write } from '../io.js';
import { checkApp, checkConfigVarName } from '../validate.js';

export interface ConfigUnsetOptions {
  readonly app: string;
  readonly keys: readonly string[];
  readonly restart: boolean;
  readonly json?: boolean;
}

export async function runConfigUnset(options: ConfigUnsetOptions, deps: Deps): CommandResult {
  checkApp(options.app);
  const asked = [...new Set(options.keys)];
  if (asked.length === 0) throw new UsageError('KEY: nothing to unset: give the KEYs to remove');
  for (const key of asked) checkConfigVarName(key);
  const { client } = await deps.api.session();
  // Only what is set is removed: unsetting nothing must neither restart the app nor say so.
  // (Without config:read, all are sent and the server decides.)
  const current = await currentConfigVars(client, options.app);
  const isSet = (k: string): boolean => current === undefined || Object.hasOwn(current.vars, k);
  const keys = asked.filter(isSet);
  const missing = asked.filter((k) => !isSet(k));
  if (missing.length > 0) {
    await write(
      deps.io.stderr,
      `${listWords(missing)} ${missing.length === 1 ? 'is' : 'are'} not set on ${options.app}${keys.length === 0 ? ': nothing to do' : ''}.\n`,
    );
  }
  if (keys.length === 0) {
    if (options.json) {
      await write(deps.io.stdout, json({ app: options.app, unset: [], version: current?.version }));
    }
    return;
  }
  await write(
    deps.io.stderr,
    `Unsetting ${listWords(keys)}${options.restart ? ` and restarting ${options.app}` : ` on ${options.app}`}... `,
  );
  let result;
  try {
    result = await withAppHint(client, options.app, () =>
      client.patchConfig(options.app, { set: {}, unset: keys, restart: options.restart }),
    );
  } catch (err) {
    await write(deps.io.stderr, 'failed\n');
    throw err;
  }
  await write(deps.io.stderr, `done (version ${result.version})\n`);
  if (options.json)
    await write(deps.io.stdout, json({ app: options.app, unset: keys, version: result.version }));
}
