/**
 * `neetodeploy config:set -a APP KEY=VALUE... [--file .env]`: one atomic change on the server
 * (no If-Match: the server merges concurrent writers without losing either), then a restart.
 */
import fsp from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { isConfigVarName } from '@neetodeploy/contract';
import { withAppHint } from '../app-errors.js';
import type { Deps, CommandResult } from '../deps.js';
import { parseDotenv } from '../dotenv.js';
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
  await write(
    deps.io.stderr,
    `Setting ${listWords(keys)}${options.restart ? ` and restarting ${options.app}` : ` on ${options.app}`}... `,
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
    await write(deps.io.stdout, json({ app: options.app, set: keys, version: result.version }));
}
