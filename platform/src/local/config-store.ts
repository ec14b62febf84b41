/**
 * Config vars of local apps: one JSON file per app (mode 0600) under the data dir, replaced
 * atomically, with writers serialized in this process and across processes (an admin command
 * and the server may both write). Values are secrets: nothing here logs them.
 */
import { randomBytes } from 'node:crypto';
import { Conflict, LimitExceeded } from '../errors.js';
import { CONFIG_VAR_LIMITS, validateChange } from '../config-var-rules.js';
import type { ConfigChange, ConfigVars } from '../types.js';
import { KeyedMutex, readFileIfExists, withFileLock, writeFileAtomic } from './files.js';
import type { LocalPaths } from './paths.js';

/** What is on disk. `restart: false` tells a supervisor in another process not to restart. */
export interface StoredConfigVars extends ConfigVars {
  readonly restart: boolean;
}

export interface ConfigUpdateResult {
  readonly before: ConfigVars;
  readonly after: ConfigVars;
  /** Keys actually set (new or different value) and unset (present before). */
  readonly setKeys: readonly string[];
  readonly unsetKeys: readonly string[];
}

const EMPTY_VERSION = '0';

function parseStored(text: string | undefined): StoredConfigVars {
  if (text === undefined) return { vars: {}, version: EMPTY_VERSION, restart: true };
  const value = JSON.parse(text) as { vars?: unknown; version?: unknown; restart?: unknown };
  const vars: Record<string, string> = {};
  if (value.vars && typeof value.vars === 'object') {
    for (const [key, v] of Object.entries(value.vars as Record<string, unknown>)) {
      if (typeof v === 'string') vars[key] = v;
    }
  }
  return {
    vars,
    version: typeof value.version === 'string' ? value.version : EMPTY_VERSION,
    restart: value.restart !== false,
  };
}

function nextVersion(previous: string): string {
  const seq = Number.parseInt(previous.split('.')[0] ?? '0', 10);
  return `${Number.isFinite(seq) ? seq + 1 : 1}.${randomBytes(6).toString('hex')}`;
}

function checkTotals(vars: Readonly<Record<string, string>>): void {
  const entries = Object.entries(vars);
  if (entries.length > CONFIG_VAR_LIMITS.maxVars) {
    throw new LimitExceeded(`an app can have at most ${CONFIG_VAR_LIMITS.maxVars} config vars`);
  }
  let total = 0;
  for (const [key, value] of entries) total += key.length + Buffer.byteLength(value, 'utf8');
  if (total > CONFIG_VAR_LIMITS.maxTotalBytes) {
    throw new LimitExceeded(
      `an app's config vars can total at most ${CONFIG_VAR_LIMITS.maxTotalBytes / 1024} KiB`,
    );
  }
}

export interface ConfigStore {
  get(app: string): Promise<StoredConfigVars>;
  update(
    app: string,
    change: ConfigChange,
    options: { ifMatch?: string; restart: boolean },
  ): Promise<ConfigUpdateResult>;
}

export function createConfigStore(paths: LocalPaths, lockTimeoutMs: number): ConfigStore {
  const mutex = new KeyedMutex();

  const get = async (app: string) => parseStored(await readFileIfExists(paths.configVarsFile(app)));

  return {
    get,
    async update(app, change, options) {
      validateChange(change);
      return mutex.run(app, () =>
        withFileLock(paths.configLockFile(app), lockTimeoutMs, async () => {
          const before = await get(app);
          if (options.ifMatch !== undefined && options.ifMatch !== before.version) {
            throw new Conflict(
              'the config vars were changed by someone else since you read them; read them again and retry',
            );
          }
          const vars: Record<string, string> = { ...before.vars };
          const setKeys: string[] = [];
          const unsetKeys: string[] = [];
          for (const [key, value] of Object.entries(change.set ?? {})) {
            if (vars[key] !== value) setKeys.push(key);
            vars[key] = value;
          }
          for (const key of change.unset ?? []) {
            if (Object.hasOwn(vars, key)) {
              unsetKeys.push(key);
              delete vars[key];
            }
          }
          if (setKeys.length === 0 && unsetKeys.length === 0) {
            return { before, after: before, setKeys, unsetKeys };
          }
          checkTotals(vars);
          const sorted = Object.fromEntries(
            Object.entries(vars).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
          );
          const after: StoredConfigVars = {
            vars: sorted,
            version: nextVersion(before.version),
            restart: options.restart,
          };
          await writeFileAtomic(paths.configVarsFile(app), `${JSON.stringify(after)}\n`);
          return { before, after, setKeys, unsetKeys };
        }),
      );
    },
  };
}
