/** `neetodeploy config -a APP`: the app's config vars as a table, JSON or `KEY=value` lines. */
import { withAppHint } from '../app-errors.js';
import type { Deps, CommandResult } from '../deps.js';
import { UsageError } from '../errors.js';
import { json, shellQuote } from '../format.js';
import { write } from '../io.js';
import { checkApp } from '../validate.js';

export interface ConfigOptions {
  readonly app: string;
  readonly json?: boolean;
  readonly shell?: boolean;
}

export async function runConfig(options: ConfigOptions, deps: Deps): CommandResult {
  checkApp(options.app);
  if (options.json && options.shell) {
    throw new UsageError('--json and --shell: choose one of the two output formats');
  }
  const { client } = await deps.api.session();
  const config = await withAppHint(client, options.app, () => client.getConfig(options.app));
  const keys = Object.keys(config.vars).sort();
  if (options.json) {
    await write(deps.io.stdout, json(Object.fromEntries(keys.map((k) => [k, config.vars[k]]))));
    return;
  }
  if (options.shell) {
    await write(
      deps.io.stdout,
      keys.map((k) => `${k}=${shellQuote(config.vars[k] ?? '')}\n`).join(''),
    );
    return;
  }
  await write(deps.io.stderr, `=== ${options.app} Config Vars\n`);
  if (keys.length === 0) {
    await write(
      deps.io.stderr,
      'No config vars are set. Set one with `neetodeploy config:set -a APP KEY=value`.\n',
    );
    return;
  }
  const width = Math.max(...keys.map((k) => k.length)) + 1;
  await write(
    deps.io.stdout,
    keys.map((k) => `${`${k}:`.padEnd(width)} ${config.vars[k] ?? ''}\n`).join(''),
  );
}
