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
  parseCertificateText,
  parsePrivateKey,
} from '@neetodeploy/sshcert';
import type { PrivateKey } from '@neetodeploy/sshcert';
import { VIRTUAL_HOST_SUFFIX, parseVirtualHost } from '@neetodeploy/contract';
import type { ApiClient, IssuedCertificate } from './api.js';
import type { CliConfig } from './config.js';
import { ensurePrivateDir, writeFileAtomic } from './config.js';
import { UsageError } from './errors.js';
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

/** Seconds the certificate on disk stays valid; undefined when missing, unreadable or not for this key. */
async function remainingSeconds(
  file: string,
  key: PrivateKey,
  now: Date,
): Promise<number | undefined> {
  try {
    const cert = parseCertificateText(await fsp.readFile(file, 'utf8'));
    if (!cert.publicKey.blob.equals(key.publicKey.blob)) return undefined;
    return Number(cert.validBefore) - Math.floor(now.getTime() / 1000);
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
 * next minute (or half its life, for very short ones). `force` always renews.
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
  if (!options.force) {
    const left = await remainingSeconds(paths.certificate, key, options.now);
    if (left !== undefined && left > 60) return { paths };
  }
  const issued = await client.issueCertificate({
    app,
    publicKey: encodePublicKeyText(key.publicKey, 'neetodeploy'),
  });
  await writeFileAtomic(paths.certificate, `${issued.certificate.trim()}\n`, 0o600);
  await writeFileAtomic(
    knownHostsPath(config),
    knownHostsFileText(issued.bastion.known_hosts, [issued.bastion.host, `*${VHOST_SUFFIX}`]),
    0o600,
  );
  return { paths, issued };
}
