/** `neetodeploy config:get -a APP KEY`: one value, raw, for scripts. */
import { withAppHint } from '../app-errors.js';
import type { Deps, CommandResult } from '../deps.js';
import { CliError } from '../errors.js';
import { write } from '../io.js';
import { checkApp, checkConfigVarName } from '../validate.js';

export interface ConfigGetOptions {
  readonly app: string;
  readonly key: string;
}

export async function runConfigGet(options: ConfigGetOptions, deps: Deps): CommandResult {
  checkApp(options.app);
  checkConfigVarName(options.key);
  const { client } = await deps.api.session();
  const config = await withAppHint(client, options.app, () => client.getConfig(options.app));
  const value = config.vars[options.key];
  if (value === undefined) {
    throw new CliError(
      `${options.key} is not set on ${options.app} (see \`neetodeploy config -a ${options.app}\`)`,
    );
  }
  await write(deps.io.stdout, `${value}\n`);
}
