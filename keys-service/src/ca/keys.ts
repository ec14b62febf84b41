/**
 * The CA keys the keys-service holds: the user CA (signs user certificates; several public keys
 * may be trusted during rotation) and the host CA (certifies bastion host keys). In the embedded
 * default both are made on first start and kept in the data dir (0600).
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  encodePrivateKey,
  encodePublicKeyText,
  fingerprint,
  generatePrivateKey,
  parsePrivateKey,
  parsePublicKeyText,
} from '@neetodeploy/sshcert';
import type { PrivateKey, PublicKey } from '@neetodeploy/sshcert';
import type { KeysServiceConfig } from '../config.js';
import { ConfigError } from '../config.js';

export interface CertificateAuthorities {
  /** Signs every new user certificate. */
  readonly userSigningKey: PrivateKey;
  /** The signing key's public half first, then extra keys trusted during rotation. */
  readonly trustedUserKeys: readonly PublicKey[];
  readonly hostSigningKey: PrivateKey;
  /** `ssh-ed25519 AAAA... comment` lines, as served by GET /api/v1/ca. */
  readonly userCaKeyLines: readonly string[];
  readonly hostCaKeyLine: string;
}

function loadOrCreate(file: string, comment: string): PrivateKey {
  if (fs.existsSync(file)) {
    try {
      return parsePrivateKey(fs.readFileSync(file, 'utf8'));
    } catch (err) {
      throw new ConfigError(`cannot use CA key ${file}: ${(err as Error).message}`, err);
    }
  }
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const key = generatePrivateKey('ssh-ed25519');
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, encodePrivateKey(key, comment), { mode: 0o600 });
  fs.renameSync(tmp, file);
  fs.writeFileSync(`${file}.pub`, `${encodePublicKeyText(key.publicKey, comment)}\n`, {
    mode: 0o644,
  });
  return key;
}

export function loadCertificateAuthorities(config: KeysServiceConfig): CertificateAuthorities {
  const userKeyFile = config.ca.userKeyFile ?? path.join(config.dataDir, 'ca', 'user_ca');
  const hostKeyFile = config.ca.hostKeyFile ?? path.join(config.dataDir, 'ca', 'host_ca');
  const userSigningKey = loadOrCreate(userKeyFile, 'neetodeploy-user-ca');
  const hostSigningKey = loadOrCreate(hostKeyFile, 'neetodeploy-host-ca');
  const extra = config.ca.extraUserPublicKeys.map((line, i) => {
    try {
      return parsePublicKeyText(line);
    } catch (err) {
      throw new ConfigError(`ca.extraUserPublicKeys.${i}: ${(err as Error).message}`, err);
    }
  });
  const signingFp = fingerprint(userSigningKey.publicKey);
  const trustedUserKeys = [
    userSigningKey.publicKey,
    ...extra.filter((k) => fingerprint(k) !== signingFp),
  ];
  return {
    userSigningKey,
    trustedUserKeys,
    hostSigningKey,
    userCaKeyLines: trustedUserKeys.map((k, i) =>
      encodePublicKeyText(
        k,
        i === 0 ? 'neetodeploy-user-ca' : (k.comment ?? 'neetodeploy-user-ca'),
      ),
    ),
    hostCaKeyLine: encodePublicKeyText(hostSigningKey.publicKey, 'neetodeploy-host-ca'),
  };
}
