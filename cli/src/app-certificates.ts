/**
 * Per-app key pairs and certificates on disk, for stock ssh (`ssh APP.neetodeploy`): the key is
 * kept (0600) and its short-lived certificate renewed when missing or about to expire. The
 * bastion's known_hosts line is rewritten whenever a certificate comes back with it.
 */
import crypto from 'node:crypto';
import fsp from 'node:fs/promises';
import path from 'node:path';
import {
  encodePrivateKey,
  encodePublicKeyText,
  generatePrivateKey,
  parsePrivateKey,
} from '@neetodeploy/sshcert';
import type { PrivateKey } from '@neetodeploy/sshcert';
import { VIRTUAL_HOST_SUFFIX, parseVirtualHost } from '@neetodeploy/contract';
import type { ApiClient, IssuedCertificate } from './api.js';
import type { CliConfig } from './config.js';
import { cachedCertificateIsFresh, certificateFileText, credentialTag } from './cert-cache.js';
import { ensurePrivateDir, writeFileAtomic } from './config.js';
import { ApiError, UsageError } from './errors.js';
import { knownHostsFileText } from './known-hosts.js';

export const VHOST_SUFFIX = VIRTUAL_HOST_SUFFIX;

/** `demo.neetodeploy` → `demo`; UsageError for anything else. */
export function appOfHost(host: string): string {
  const app = parseVirtualHost(host);
  if (!app.ok) throw new UsageError(app.error.message);
  return app.value;
}

export interface AppKeyPaths {
  readonly key: string;
  readonly certificate: string;
}

/** Named after the host exactly as ssh's `%n` gives it, so ssh_config can point at them. */
export function appKeyPaths(config: CliConfig, host: string): AppKeyPaths {
  appOfHost(host);
  const key = path.join(config.keysDir, host);
  return { key, certificate: `${key}-cert.pub` };
}

export function knownHostsPath(config: CliConfig): string {
  return path.join(config.dir, 'known_hosts');
}

async function readKey(file: string): Promise<PrivateKey | undefined> {
  try {
    return parsePrivateKey(await fsp.readFile(file));
  } catch {
    return undefined;
  }
}

/** Creates the key once; a concurrent creator's key wins (link fails on an existing file). */
async function ensureKey(file: string): Promise<PrivateKey> {
  const existing = await readKey(file);
  if (existing) return existing;
  await ensurePrivateDir(path.dirname(file));
  const key = generatePrivateKey('ssh-ed25519');
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  await fsp.writeFile(tmp, encodePrivateKey(key, 'neetodeploy'), { mode: 0o600, flag: 'wx' });
  try {
    await fsp.link(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    const winner = await readKey(file);
    if (!winner) await fsp.rename(tmp, file);
  } finally {
    await fsp.rm(tmp, { force: true });
  }
  return (await readKey(file)) ?? key;
}

export interface EnsureResult {
  readonly paths: AppKeyPaths;
  /** Set when a certificate was issued now. */
  readonly issued?: IssuedCertificate;
}

/**
 * Makes sure `host`'s key and certificate exist and the certificate is valid for at least the
 * next minute, and was issued under the credentials in use (see cert-cache.ts). `force` always
 * renews. When the keys-service refuses to issue one, the cached certificate is removed so that
 * ssh does not present a certificate this user may no longer have.
 */
export async function ensureAppCertificate(
  client: ApiClient,
  config: CliConfig,
  host: string,
  options: { now: Date; force?: boolean },
): Promise<EnsureResult> {
  const app = appOfHost(host);
  const paths = appKeyPaths(config, host);
  const key = await ensureKey(paths.key);
  const tag = credentialTag(client.apiUrl, client.target.token ?? '');
  if (
    !options.force &&
    cachedCertificateIsFresh({ keysDir: config.keysDir, host, tag, now: options.now })
  ) {
    return { paths };
  }
  let issued: IssuedCertificate;
  try {
    issued = await client.issueCertificate({
      app,
      publicKey: encodePublicKeyText(key.publicKey, 'neetodeploy'),
    });
  } catch (err) {
    if (err instanceof ApiError && err.status >= 400 && err.status < 500)
      await fsp.rm(paths.certificate, { force: true });
    throw err;
  }
  await writeFileAtomic(paths.certificate, certificateFileText(issued.certificate, tag), 0o600);
  await writeFileAtomic(
    knownHostsPath(config),
    knownHostsFileText(issued.bastion.known_hosts, [issued.bastion.host, `*${VHOST_SUFFIX}`]),
    0o600,
  );
  return { paths, issued };
}
