/**
 * A bastion wired to trust a test keys-service: host key certified by the service's host CA
 * (principals `127.0.0.1` and `*.neetodeploy`), user CAs from the service, on a given port.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { createBastion, parseBastionConfig } from '@neetodeploy/bastion';
import type { Bastion } from '@neetodeploy/bastion';
import type { Platform } from '@neetodeploy/platform';
import { encodeCertificateText, encodePrivateKey, signCertificate } from '@neetodeploy/sshcert';
import type { PrivateKey } from '@neetodeploy/sshcert';
import type { TestKeysService } from './keys-service.js';

export interface BastionForKeysServiceOptions {
  /** Where the host key, its certificate and the user CA file are written. */
  readonly dir: string;
  readonly hostKey: PrivateKey;
  readonly keysService: TestKeysService;
  readonly port: number;
  readonly platform: Platform;
  readonly logger: Logger;
}

export interface BastionForKeysService {
  readonly bastion: Bastion;
  readonly hostKeyFile: string;
  readonly userCaFile: string;
}

/** Writes the bastion's files, then starts it; the caller stops it. */
export async function startBastionForKeysService(
  options: BastionForKeysServiceOptions,
): Promise<BastionForKeysService> {
  const { dir, hostKey, keysService, port } = options;
  const { authorities } = keysService.service;
  fs.mkdirSync(dir, { recursive: true });
  const keyFile = path.join(dir, 'ssh_host_ed25519_key');
  fs.writeFileSync(keyFile, encodePrivateKey(hostKey), { mode: 0o600 });
  const cert = signCertificate(
    {
      publicKey: hostKey.publicKey,
      certType: 'host',
      keyId: 'bastion',
      principals: ['127.0.0.1', '*.neetodeploy'],
      ttlSeconds: 3600,
    },
    authorities.hostSigningKey,
  );
  fs.writeFileSync(`${keyFile}-cert.pub`, `${encodeCertificateText(cert)}\n`);
  const userCas = path.join(dir, 'user_ca.pub');
  fs.writeFileSync(userCas, `${authorities.userCaKeyLines.join('\n')}\n`);
  const bastion = createBastion(
    parseBastionConfig({
      listen: { host: '127.0.0.1', port },
      name: '127.0.0.1',
      hostKeys: [{ privateKeyFile: keyFile, certificateFile: `${keyFile}-cert.pub` }],
      trust: { static: { userCaKeyFiles: [userCas] } },
      log: { level: 'silent' },
    }),
    { platform: options.platform, logger: options.logger },
  );
  await bastion.start();
  return { bastion, hostKeyFile: keyFile, userCaFile: userCas };
}
