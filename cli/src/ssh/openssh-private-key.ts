import type { KeyObject } from 'node:crypto';
import { ed25519PublicBytes, ed25519Seed } from '@neetodeploy/sshcert';
import { SshKeyError } from './errors.js';

/**
 * ssh2 reads private keys only in the OpenSSH format or as PKCS#1/SEC1 PEM, while node:crypto
 * writes ed25519 keys only as PKCS#8; so keys made with node:crypto are handed to ssh2 in the
 * unencrypted `openssh-key-v1` format (OpenSSH PROTOCOL.key). The result is passed straight to
 * ssh2's parser and never written anywhere.
 */
export function encodeOpenSshPrivateKey(keyObject: KeyObject): string {
  const { type, publicFields, privateFields } = keyParts(keyObject);
  const publicBlob = concat([str(type), ...publicFields]);
  // The two equal check words let a reader detect a wrong passphrase; any value will do here.
  const check = Buffer.alloc(4);
  const body = [check, check, str(type), ...privateFields, str('')];
  const unpadded = concat(body);
  const padding = Buffer.from(
    Array.from({ length: (8 - (unpadded.length % 8)) % 8 }, (_, i) => i + 1),
  );
  const blob = concat([
    Buffer.from('openssh-key-v1\0', 'latin1'),
    str('none'),
    str('none'),
    str(''),
    u32(1),
    str(publicBlob),
    str(concat([unpadded, padding])),
  ]);
  const lines = blob.toString('base64').match(/.{1,70}/g) ?? [];
  return [
    '-----BEGIN OPENSSH PRIVATE KEY-----',
    ...lines,
    '-----END OPENSSH PRIVATE KEY-----',
    '',
  ].join('\n');
}

interface KeyParts {
  readonly type: string;
  readonly publicFields: readonly Buffer[];
  readonly privateFields: readonly Buffer[];
}

const CURVES: Readonly<Record<string, string>> = {
  'P-256': 'nistp256',
  'P-384': 'nistp384',
  'P-521': 'nistp521',
};

function keyParts(keyObject: KeyObject): KeyParts {
  if (keyObject.type !== 'private') {
    throw new SshKeyError('invalid-private-key', 'a private key is needed, got a public key');
  }
  if (keyObject.asymmetricKeyType === 'ed25519') {
    const pub = ed25519PublicBytes(keyObject);
    const fields = [str(pub)];
    return {
      type: 'ssh-ed25519',
      publicFields: fields,
      privateFields: [...fields, str(concat([ed25519Seed(keyObject), pub]))],
    };
  }
  const jwk = keyObject.export({ format: 'jwk' });
  const b = (v: string | undefined): Buffer => {
    if (v === undefined)
      throw new SshKeyError('invalid-private-key', 'the private key is incomplete');
    return Buffer.from(v, 'base64url');
  };
  switch (keyObject.asymmetricKeyType) {
    case 'ec': {
      const curve = CURVES[jwk.crv ?? ''];
      if (curve === undefined)
        throw new SshKeyError('unsupported-key', `unsupported curve ${String(jwk.crv)}`);
      const fields = [str(curve), str(concat([Buffer.from([4]), b(jwk.x), b(jwk.y)]))];
      return {
        type: `ecdsa-sha2-${curve}`,
        publicFields: fields,
        privateFields: [...fields, mpint(b(jwk.d))],
      };
    }
    case 'rsa': {
      const [n, e] = [mpint(b(jwk.n)), mpint(b(jwk.e))];
      return {
        type: 'ssh-rsa',
        publicFields: [e, n],
        privateFields: [n, e, mpint(b(jwk.d)), mpint(b(jwk.qi)), mpint(b(jwk.p)), mpint(b(jwk.q))],
      };
    }
    default:
      throw new SshKeyError(
        'unsupported-key',
        `unsupported key type ${String(keyObject.asymmetricKeyType)}`,
      );
  }
}

function u32(n: number): Buffer {
  const out = Buffer.alloc(4);
  out.writeUInt32BE(n);
  return out;
}

function str(data: Buffer | string): Buffer {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  return concat([u32(bytes.length), bytes]);
}

/** An unsigned big-endian integer as an SSH mpint: no leading zeros, a zero byte if the top bit is set. */
function mpint(unsigned: Buffer): Buffer {
  let start = 0;
  while (start < unsigned.length && unsigned[start] === 0) start++;
  const digits = unsigned.subarray(start);
  const needsPad = digits.length > 0 && (digits[0] ?? 0) >= 0x80;
  return str(needsPad ? concat([Buffer.from([0]), digits]) : digits);
}

function concat(parts: readonly Buffer[]): Buffer {
  return Buffer.concat(parts);
}
