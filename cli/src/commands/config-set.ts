/**
 * `neetodeploy config:set -a APP KEY=VALUE... [--file .env]`: one atomic change on the server
 * (no If-Match: the server merges concurrent writers without losing either), then a restart.
 * Every given pair is sent; the values read just before only decide what the messages name.
 */
import fsp from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { isConfigVarName } from '@neetodeploy/contract';
import { withAppHint } from '../app-errors.js';
import type { Deps, CommandResult } from '../deps.js';
import { parseDotenv } from '../dotenv.js';
import { currentConfigVars } from '../current-config.js';
import { CliError, UsageError } from '../errors.js';
import { json, listWords, quoteShort } from '../format.js';
import { write } from '../io.js';
import { CONFIG_VAR_RULE, checkApp } from '../validate.js';

export interface ConfigSetOptions {
  readonly app: string;
  readonly pairs: readonly string[];
  readonly file?: string;
  /** False with --no-restart. */
  readonly restart: boolean;
  readonly json?: boolean;
}

export function parsePairs(pairs: readonly string[]): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = eq === -1 ? pair : pair.slice(0, eq);
    if (eq <= 0 || !isConfigVarName(key)) {
      throw new UsageError(
        `KEY=VALUE: ${quoteShort(pair)} is not KEY=VALUE (names: ${CONFIG_VAR_RULE})`,
      );
    }
    vars[key] = pair.slice(eq + 1);
  }
  return vars;
}

async function readAll(stream: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks).toString('utf8');
}

export async function runConfigSet(options: ConfigSetOptions, deps: Deps): CommandResult {
  checkApp(options.app);
  let vars: Record<string, string> = {};
  if (options.file !== undefined) {
    let text: string;
    try {
      text =
        options.file === '-'
          ? await readAll(deps.io.stdin)
          : await fsp.readFile(options.file, 'utf8');
    } catch (err) {
      throw new CliError(`cannot read ${options.file}: ${(err as Error).message}`);
    }
    vars = parseDotenv(text, options.file === '-' ? '(stdin)' : options.file);
  }
  vars = { ...vars, ...parsePairs(options.pairs) };
  const keys = Object.keys(vars);
  if (keys.length === 0) {
    throw new UsageError('KEY=VALUE: nothing to set: give KEY=VALUE pairs or --file FILE');
  }
  const { client } = await deps.api.session();
  // Values already set say so, and a change of nothing neither restarts the app nor says it
  // does (the server changes nothing then either). Without config:read, the server decides.
  const current = await currentConfigVars(client, options.app);
  const changed = keys.filter((k) => current === undefined || current.vars[k] !== vars[k]);
  const same = keys.filter((k) => !changed.includes(k));
  if (same.length > 0) {
    await write(
      deps.io.stderr,
      `${listWords(same)} already ${same.length === 1 ? 'has' : 'have'} ${same.length === 1 ? 'that value' : 'those values'} on ${options.app}${changed.length === 0 ? ': nothing to do' : ''}.\n`,
    );
  }
  if (changed.length === 0) {
    if (options.json) {
      await write(deps.io.stdout, json({ app: options.app, set: [], version: current?.version }));
    }
    return;
  }
  await write(
    deps.io.stderr,
    `Setting ${listWords(changed)}${options.restart ? ` and restarting ${options.app}` : ` on ${options.app}`}... `,
  );
  let result;
  try {
    result = await withAppHint(client, options.app, () =>
      client.patchConfig(options.app, { set: vars, unset: [], restart: options.restart }),
    );
  } catch (err) {
    await write(deps.io.stderr, 'failed\n');
    throw err;
  }
  await write(deps.io.stderr, `done (version ${result.version})\n`);
  if (options.json)
    await write(deps.io.stdout, json({ app: options.app, set: changed, version: result.version }));
}
