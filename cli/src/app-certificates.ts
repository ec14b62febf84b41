/**
 * Per-app key pairs and certificates on disk, for stock ssh (`ssh APP.neetodeploy`) and for
 * `exec`: the key is kept (0600) and its short-lived certificate renewed when missing or about
 * to expire. The bastion's known_hosts line is rewritten whenever a certificate comes back with
 * it, and the bastion's address and identity are kept beside the certificate (`-bastion.json`),
 * so that `exec` can use a cached certificate without asking the keys-service anything.
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
import { VIRTUAL_HOST_SUFFIX, parseVirtualHost } from '@neetodeploy/contract/user-name';
import type { ApiClient, IssuedCertificate } from './api.js';
import type { CliConfig } from './config.js';
import {
  cachedCertificateIsFresh,
  certificateFileText,
  certificateIsFresh,
  credentialTag,
} from './cert-cache.js';
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
  /** The bastion the certificate was issued for: {@link BastionRecord}. */
  readonly bastion: string;
}

/** Named after the host exactly as ssh's `%n` gives it, so ssh_config can point at them. */
export function appKeyPaths(config: CliConfig, host: string): AppKeyPaths {
  appOfHost(host);
  const key = path.join(config.keysDir, host);
  return { key, certificate: `${key}-cert.pub`, bastion: `${key}-bastion.json` };
}

/** Where the bastion was, and who it was, when the cached certificate was issued. */
export interface BastionRecord {
  readonly host: string;
  readonly port: number;
  readonly knownHosts: string;
}

function bastionRecordText(bastion: IssuedCertificate['bastion'], tag: string): string {
  const doc = { host: bastion.host, port: bastion.port, known_hosts: bastion.known_hosts, tag };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

function parseBastionRecord(text: string, tag: string): BastionRecord | undefined {
  const d = JSON.parse(text) as Record<string, unknown>;
  if (d.tag !== tag || typeof d.host !== 'string' || typeof d.known_hosts !== 'string') {
    return undefined;
  }
  if (typeof d.port !== 'number' || !Number.isInteger(d.port)) return undefined;
  return { host: d.host, port: d.port, knownHosts: d.known_hosts };
}

/** A key, its certificate and the bastion to present them to. */
export interface AppCredentials {
  readonly key: PrivateKey;
  /** The `*-cert.pub` line. */
  readonly certificate: string;
  readonly bastion: BastionRecord;
}

/**
 * `host`'s cached credentials when the certificate is fresh (as for `ssh-cert`) and the bastion
 * record beside it was written under the same credentials; else undefined, never an error.
 */
export async function cachedAppCredentials(
  config: CliConfig,
  host: string,
  tag: string,
  now: Date,
): Promise<AppCredentials | undefined> {
  try {
    const paths = appKeyPaths(config, host);
    const [keyText, certText, bastion] = await Promise.all([
      fsp.readFile(paths.key, 'utf8'),
      fsp.readFile(paths.certificate, 'utf8'),
      fsp.readFile(paths.bastion, 'utf8'),
    ]);
    if (!certificateIsFresh({ keyText, certText, tag, now })) return undefined;
    const record = parseBastionRecord(bastion, tag);
    if (!record) return undefined;
    return { key: parsePrivateKey(keyText), certificate: certText.trim(), bastion: record };
  } catch {
    return undefined;
  }
}

/** Forgets `host`'s certificate (the key stays): the next use asks for a new one. */
export async function dropAppCertificate(config: CliConfig, host: string): Promise<void> {
  const paths = appKeyPaths(config, host);
  await Promise.all([
    fsp.rm(paths.certificate, { force: true }),
    fsp.rm(paths.bastion, { force: true }),
  ]);
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
  const tag = credentialTag(client.apiUrl, client.target.token ?? '');
  if (
    !options.force &&
    cachedCertificateIsFresh({ keysDir: config.keysDir, host, tag, now: options.now })
  ) {
    return { paths: appKeyPaths(config, host) };
  }
  return issueAppCertificate(client, config, host, {});
}

export interface IssueResult {
  readonly paths: AppKeyPaths;
  readonly key: PrivateKey;
  readonly issued: IssuedCertificate;
}

/**
 * Issues a new certificate for `host`'s key (made once) and caches it with the bastion's
 * address and identity. `process` is only checked by the keys-service: the certificate is for
 * the whole app.
 */
export async function issueAppCertificate(
  client: ApiClient,
  config: CliConfig,
  host: string,
  options: { process?: string },
): Promise<IssueResult> {
  const app = appOfHost(host);
  const paths = appKeyPaths(config, host);
  const key = await ensureKey(paths.key);
  const tag = credentialTag(client.apiUrl, client.target.token ?? '');
  let issued: IssuedCertificate;
  try {
    issued = await client.issueCertificate({
      app,
      publicKey: encodePublicKeyText(key.publicKey, 'neetodeploy'),
      ...(options.process !== undefined ? { process: options.process } : {}),
    });
  } catch (err) {
    // A refusal of this user (token, access) drops the certificate; other answers (a rate
    // limit, an unknown process) say nothing about the one already issued.
    if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
      await dropAppCertificate(config, host);
    }
    throw err;
  }
  await writeFileAtomic(paths.certificate, certificateFileText(issued.certificate, tag), 0o600);
  await writeFileAtomic(paths.bastion, bastionRecordText(issued.bastion, tag), 0o600);
  await writeFileAtomic(
    knownHostsPath(config),
    knownHostsFileText(issued.bastion.known_hosts, [issued.bastion.host, `*${VHOST_SUFFIX}`]),
    0o600,
  );
  return { paths, key, issued };
}
