/**
 * Where the CLI keeps its state, and the stored credentials. Resolution follows go-gh:
 * `NEETODEPLOY_CONFIG_DIR`, else `$XDG_CONFIG_HOME/neetodeploy`, else `~/.config/neetodeploy`.
 * Credentials are one JSON file written 0600 atomically; keys and certificates live in `keys/`.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { CliError } from './errors.js';

export interface ConfigEnv {
  readonly NEETODEPLOY_CONFIG_DIR?: string | undefined;
  readonly XDG_CONFIG_HOME?: string | undefined;
}

/** Pure: the config dir for this environment and home directory. */
export function resolveConfigDir(env: ConfigEnv, home: string): string {
  if (env.NEETODEPLOY_CONFIG_DIR) return path.resolve(env.NEETODEPLOY_CONFIG_DIR);
  if (env.XDG_CONFIG_HOME) return path.resolve(env.XDG_CONFIG_HOME, 'neetodeploy');
  return path.join(home, '.config', 'neetodeploy');
}

/** What the CLI runs with; built once by `main.ts`. */
export interface CliConfig {
  readonly version: string;
  readonly dir: string;
  /** Per-app keys and certificates (ssh-cert), known_hosts. */
  readonly keysDir: string;
  /** The user's home, for `~/.ssh/config`. */
  readonly home: string;
  /** From the environment (`NEETODEPLOY_TOKEN`, `NEETODEPLOY_API_URL`, `NEETODEPLOY_CA_FILE`). */
  readonly overrides: {
    readonly token?: string;
    readonly apiUrl?: string;
    readonly caFile?: string;
  };
  /**
   * The app `-a` defaults to, as Heroku does: `NEETODEPLOY_APP`, else the git remote named
   * `neetodeploy` of the repository around the working directory (see {@link appFromGitConfig}).
   */
  readonly defaultApp?: { readonly app: string; readonly from: string };
  /** argv that runs this CLI again (ssh-config's `Match exec`). */
  readonly selfCommand: readonly string[];
}

export function makeCliConfig(input: Omit<CliConfig, 'keysDir'>): CliConfig {
  return { ...input, keysDir: path.join(input.dir, 'keys') };
}

export interface Credentials {
  readonly apiUrl: string;
  readonly token: string;
  readonly email: string;
  readonly caFile?: string;
  readonly expiresAt?: string;
}

export function credentialsPath(config: CliConfig): string {
  return path.join(config.dir, 'credentials.json');
}

export async function ensurePrivateDir(dir: string): Promise<void> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
}

/** Writes through a temporary file and rename, so readers never see half a file. */
export async function writeFileAtomic(
  file: string,
  data: string | Buffer,
  mode = 0o600,
): Promise<void> {
  await ensurePrivateDir(path.dirname(file));
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  try {
    const handle = await fsp.open(tmp, 'wx', mode);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await fsp.chmod(tmp, mode);
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
}

export async function loadCredentials(config: CliConfig): Promise<Credentials | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(credentialsPath(config), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(`cannot read ${credentialsPath(config)}: ${(err as Error).message}`);
  }
  const parsed = parseCredentials(text);
  if (!parsed) {
    throw new CliError(`${credentialsPath(config)} is damaged: run \`neetodeploy login\` again`);
  }
  return parsed;
}

/**
 * The credentials file's fields, checked by hand: this module is loaded on the start-up path
 * of every command (see main.ts), where a schema library would cost more than the command.
 */
export function parseCredentials(text: string): Credentials | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof doc !== 'object' || doc === null) return undefined;
  const d = doc as Record<string, unknown>;
  const str = (v: unknown): v is string => typeof v === 'string';
  if (!str(d.api_url) || d.api_url === '' || !str(d.token) || d.token === '' || !str(d.email)) {
    return undefined;
  }
  if (d.ca_file !== undefined && !str(d.ca_file)) return undefined;
  if (d.expires_at !== undefined && !str(d.expires_at)) return undefined;
  return {
    apiUrl: d.api_url,
    token: d.token,
    email: d.email,
    ...(d.ca_file !== undefined ? { caFile: d.ca_file } : {}),
    ...(d.expires_at !== undefined ? { expiresAt: d.expires_at } : {}),
  };
}

export async function saveCredentials(config: CliConfig, creds: Credentials): Promise<void> {
  const doc = {
    api_url: creds.apiUrl,
    token: creds.token,
    email: creds.email,
    ...(creds.caFile !== undefined ? { ca_file: creds.caFile } : {}),
    ...(creds.expiresAt !== undefined ? { expires_at: creds.expiresAt } : {}),
  };
  await writeFileAtomic(credentialsPath(config), `${JSON.stringify(doc, null, 2)}\n`, 0o600);
}

/** Where the last API used is remembered after `logout`, so that the next `login` needs no `--api`. */
export function lastApiPath(config: CliConfig): string {
  return path.join(config.dir, 'last-api.json');
}

export interface LastApi {
  readonly apiUrl: string;
  readonly caFile?: string;
}

export async function loadLastApi(config: CliConfig): Promise<LastApi | undefined> {
  try {
    const d = JSON.parse(await fsp.readFile(lastApiPath(config), 'utf8')) as Record<
      string,
      unknown
    >;
    if (typeof d.api_url !== 'string' || d.api_url === '') return undefined;
    return {
      apiUrl: d.api_url,
      ...(typeof d.ca_file === 'string' && fs.existsSync(d.ca_file) ? { caFile: d.ca_file } : {}),
    };
  } catch {
    return undefined;
  }
}

/**
 * Forgets the token and the per-app keys and certificates made with it; remembers the API
 * address (and the kept copy of its CA) for the next `login`.
 */
export async function clearCredentials(config: CliConfig): Promise<boolean> {
  const existed = fs.existsSync(credentialsPath(config));
  const stored = existed ? await loadCredentials(config).catch(() => undefined) : undefined;
  if (stored) {
    const doc = { api_url: stored.apiUrl, ...(stored.caFile ? { ca_file: stored.caFile } : {}) };
    await writeFileAtomic(lastApiPath(config), `${JSON.stringify(doc, null, 2)}\n`, 0o600);
  }
  await fsp.rm(credentialsPath(config), { force: true });
  await fsp.rm(config.keysDir, { recursive: true, force: true });
  return existed;
}

/**
 * The app named by the `neetodeploy` remote in a git config file's text: the last path segment
 * of its URL, without `.git` (`https://git.example.com/demo.git`, `git@host:demo`).
 */
export function appFromGitConfig(text: string): string | undefined {
  const section = /^\s*\[remote\s+"neetodeploy"\]\s*$([\s\S]*?)(?=^\s*\[|(?![\s\S]))/m.exec(
    text,
  )?.[1];
  const url = section !== undefined ? /^\s*url\s*=\s*(.+?)\s*$/m.exec(section)?.[1] : undefined;
  if (url === undefined) return undefined;
  const last = url.replace(/\/+$/, '').split(/[/:]/).pop() ?? '';
  const app = last.replace(/\.git$/, '');
  return app === '' ? undefined : app;
}

/** The `.git/config` of the repository containing `dir`, if any (a worktree's `.git` file is skipped). */
export function findGitConfig(dir: string): string | undefined {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const file = path.join(d, '.git', 'config');
    if (fs.existsSync(file)) return file;
    if (path.dirname(d) === d) return undefined;
  }
}
