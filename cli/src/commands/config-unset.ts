/** `neetodeploy config:unset -a APP KEY...`: removes keys in one change, then restarts. */
import { isConfigVarName } from '@neetodeploy/contract';
import { withAppHint } from '../app-errors.js';
import type { Deps, CommandResult } from '../deps.js';
import { UsageError } from '../errors.js';
import { json, listWords } from '../format.js';
import { write } from '../io.js';

export interface ConfigUnsetOptions {
  readonly app: string;
  readonly keys: readonly string[];
  readonly restart: boolean;
  readonly json?: boolean;
}

export async function runConfigUnset(options: ConfigUnsetOptions, deps: Deps): CommandResult {
  const keys = [...new Set(options.keys)];
  if (keys.length === 0) throw new UsageError('nothing to unset: give the KEYs to remove');
  for (const key of keys) {
    if (!isConfigVarName(key))
      throw new UsageError(`${JSON.stringify(key)} is not a config var name`);
  }
  const { client } = await deps.api.session();
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
