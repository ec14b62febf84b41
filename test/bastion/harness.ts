/**
 * A bastion on 127.0.0.1 port 0 with the local platform behind it, plus everything the real
 * `ssh` needs to reach it: a user CA, a host CA with a host certificate, known_hosts holding
 * only the `@cert-authority` line, and helpers that mint user certificates with ssh-keygen.
 */
import { writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import pino from 'pino';
import { createBastion, parseBastionConfig } from '@neetodeploy/bastion';
import type { Bastion, BastionConfigInput } from '@neetodeploy/bastion';
import type { Platform } from '@neetodeploy/platform';
import { createLocalPlatform } from '@neetodeploy/platform';
import { makeKey, signCert, tempDir, writeSshConfig } from '../support/ssh-client.js';
import type { CertSpec, KeyPair } from '../support/ssh-client.js';

export const BASTION_NAME = 'bastion.test';

export interface Harness {
  readonly dir: string;
  readonly bastion: Bastion;
  readonly platform: Platform;
  readonly address: AddressInfo;
  readonly metricsAddress?: AddressInfo;
  readonly userCa: KeyPair;
  readonly hostCa: KeyPair;
  readonly knownHosts: string;
  /** A fresh user key with a certificate from `ca` (default: the trusted user CA). */
  user(
    name: string,
    spec: Partial<CertSpec> & { ca?: KeyPair; keyType?: 'ed25519' | 'ecdsa' | 'rsa' },
  ): Promise<{ key: KeyPair; cert: string; config: string }>;
  /** An ssh_config for `key` (with its `-cert.pub` if present). */
  config(
    name: string,
    key: KeyPair,
    cert: string | undefined,
    extra?: readonly string[],
    user?: string,
  ): Promise<string>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly config?: (paths: {
    dir: string;
    userCaPub: string;
    krl?: string;
    notBefore?: string;
  }) => Partial<BastionConfigInput>;
  readonly krl?: (dir: string, userCa: KeyPair) => Promise<string>;
  readonly notBefore?: Record<string, number>;
  readonly metrics?: boolean;
  readonly logLevel?: pino.Level | 'silent';
  /** Where the bastion's JSON log lines go (with `logLevel`); default: nowhere. */
  readonly logStream?: pino.DestinationStream;
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const tmp = await tempDir();
  const dir = tmp.dir;
  const [userCa, hostCa, hostKey] = await Promise.all([
    makeKey(dir, 'user_ca'),
    makeKey(dir, 'host_ca'),
    makeKey(dir, 'ssh_host_ed25519_key'),
  ]);
  const hostCert = await signCert(hostCa, hostKey, {
    keyId: 'bastion',
    principals: [BASTION_NAME, '*.neetodeploy'],
    host: true,
    validity: '-5m:+1h',
  });
  const knownHosts = path.join(dir, 'known_hosts');
  await writeFile(
    knownHosts,
    `@cert-authority ${BASTION_NAME},*.neetodeploy ${hostCa.publicKey}\n`,
  );
  const krl = options.krl ? await options.krl(dir, userCa) : undefined;
  let notBefore: string | undefined;
  if (options.notBefore) {
    notBefore = path.join(dir, 'not-before.json');
    await writeFile(notBefore, JSON.stringify(options.notBefore));
  }
  const logger = options.logStream
    ? pino({ level: options.logLevel ?? 'info' }, options.logStream)
    : pino({ level: options.logLevel ?? 'silent' });
  const platform = await createLocalPlatform(
    { dataDir: path.join(dir, 'data'), runProcesses: false, createDemoApp: true },
    { logger },
  );
  const config = parseBastionConfig({
    listen: { host: '127.0.0.1', port: 0 },
    name: BASTION_NAME,
    hostKeys: [{ privateKeyFile: hostKey.file, certificateFile: hostCert }],
    trust: {
      static: { userCaKeyFiles: [`${userCa.file}.pub`], krlFile: krl, notBeforeFile: notBefore },
    },
    ...(options.metrics ? { metrics: { host: '127.0.0.1', port: 0 } } : {}),
    ...options.config?.({ dir, userCaPub: `${userCa.file}.pub`, krl, notBefore }),
  });
  const bastion = createBastion(config, { platform, logger });
  const addrs = await bastion.start();
  let n = 0;

  const harness: Harness = {
    dir,
    bastion,
    platform,
    address: addrs.ssh,
    metricsAddress: addrs.metrics,
    userCa,
    hostCa,
    knownHosts,
    async config(name, key, cert, extra, user) {
      return writeSshConfig(path.join(dir, `${name}.ssh_config`), {
        port: addrs.ssh.port,
        identity: key.file,
        certificate: cert,
        knownHosts,
        bastionName: BASTION_NAME,
        extra,
        user,
      });
    },
    async user(name, spec) {
      const key = await makeKey(dir, `${name}-${++n}`, spec.keyType);
      const cert = await signCert(spec.ca ?? userCa, key, {
        keyId: spec.keyId ?? `${name}@example.com:req${n}`,
        principals: spec.principals ?? ['demo'],
        validity: spec.validity,
        serial: spec.serial,
        options: spec.options,
        host: spec.host,
      });
      return { key, cert, config: await harness.config(`${name}-${n}`, key, cert) };
    },
    async close() {
      await bastion.stop();
      await platform.close();
      await tmp.cleanup();
    },
  };
  return harness;
}
