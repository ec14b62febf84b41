/**
 * Where the CLI keeps its state, and the stored credentials. Resolution follows go-gh:
 * `NEETODEPLOY_CONFIG_DIR`, else `$XDG_CONFIG_HOME/neetodeploy`, else `~/.config/neetodeploy`.
 * Credentials are one JSON file written 0600 atomically; keys and certificates live in `keys/`.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
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
  /** argv that runs this CLI again (ssh-config's `Match exec`). */
  readonly selfCommand: readonly string[];
}

export function makeCliConfig(input: Omit<CliConfig, 'keysDir'>): CliConfig {
  return { ...input, keysDir: path.join(input.dir, 'keys') };
}

const credentialsSchema = z.object({
  api_url: z.string().min(1),
  token: z.string().min(1),
  email: z.string(),
  /** A copy of the CA file given at login, kept in the config dir. */
  ca_file: z.string().optional(),
  expires_at: z.string().optional(),
});

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
  let parsed: z.output<typeof credentialsSchema>;
  try {
    parsed = credentialsSchema.parse(JSON.parse(text));
  } catch {
    throw new CliError(`${credentialsPath(config)} is damaged: run \`neetodeploy login\` again`);
  }
  return {
    apiUrl: parsed.api_url,
    token: parsed.token,
    email: parsed.email,
    ...(parsed.ca_file !== undefined ? { caFile: parsed.ca_file } : {}),
    ...(parsed.expires_at !== undefined ? { expiresAt: parsed.expires_at } : {}),
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

/** Forgets the token and the per-app keys and certificates made with it. */
export async function clearCredentials(config: CliConfig): Promise<boolean> {
  const existed = fs.existsSync(credentialsPath(config));
  await fsp.rm(credentialsPath(config), { force: true });
  await fsp.rm(config.keysDir, { recursive: true, force: true });
  return existed;
}
