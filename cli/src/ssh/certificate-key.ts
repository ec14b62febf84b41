import { KeyObject, createPrivateKey } from 'node:crypto';
import type { PrivateKey } from '@neetodeploy/sshcert';
import ssh2 from 'ssh2';
import type { ParsedKey } from 'ssh2';
import { SshKeyError } from './errors.js';
import { encodeOpenSshPrivateKey } from './openssh-private-key.js';

/** A private key as the CLI may hold it. Strings and Buffers are PEM (PKCS#8, PKCS#1, SEC1) or OpenSSH format. */
export type PrivateKeyInput = PrivateKey | KeyObject | ParsedKey | string | Buffer;

/** An OpenSSH certificate: the `*-cert.pub` line (string or Buffer) or the raw certificate blob. */
export type CertificateInput = string | Buffer;

const CERT_SUFFIX = '-cert-v01@openssh.com';
const SSH_CERT_TYPE_USER = 1;

/**
 * Makes an ssh2 key that authenticates with an OpenSSH user certificate: it signs with
 * `privateKey` and presents `certificate` (whose certified key must be that key).
 *
 * Pass the result through `authHandler: [{ type: 'publickey', username, key }]`:
 * `ConnectConfig.privateKey` ignores anything but strings and Buffers. At run time the key's
 * `type` is the certificate algorithm (e.g. `ssh-ed25519-cert-v01@openssh.com`), which needs
 * `patches/ssh2+1.17.0.patch` so that ssh2 names the signature with the plain algorithm and
 * picks the right hash for RSA certificates.
 *
 * @throws SshKeyError when the key cannot be read, the certificate is malformed, is not a user
 *   certificate, or certifies another key.
 */
export function certificateKey(
  privateKey: PrivateKeyInput,
  certificate: CertificateInput,
): ParsedKey {
  const parsed = toParsedKey(privateKey);
  const blob = certificateBlob(certificate);
  checkCertifies(blob, parsed);
  return Object.create(parsed, {
    type: { value: `${parsed.type}${CERT_SUFFIX}`, enumerable: true },
    getPublicSSH: { value: () => Buffer.from(blob) },
  }) as ParsedKey;
}

function toParsedKey(input: PrivateKeyInput): ParsedKey {
  let text: string;
  if (isParsedKey(input)) {
    if (input.type.endsWith(CERT_SUFFIX)) {
      throw new SshKeyError('invalid-private-key', 'the key already carries a certificate');
    }
    if (!input.isPrivateKey())
      throw new SshKeyError('invalid-private-key', 'a private key is needed');
    return input;
  } else if (input instanceof KeyObject) {
    text = encodeOpenSshPrivateKey(input);
  } else if (typeof input === 'string' || Buffer.isBuffer(input)) {
    text = input.toString();
    if (!text.includes('-----BEGIN OPENSSH PRIVATE KEY-----')) {
      text = encodeOpenSshPrivateKey(readPem(text));
    }
  } else {
    text = encodeOpenSshPrivateKey(input.keyObject);
  }
  // ssh2 may return the keys of an OpenSSH file as an array (the format allows several).
  const result: unknown = ssh2.utils.parseKey(text);
  const parsed = (Array.isArray(result) ? (result[0] as unknown) : result) as
    ParsedKey | Error | undefined;
  if (parsed === undefined)
    throw new SshKeyError('invalid-private-key', 'no private key in the input');
  if (parsed instanceof Error) {
    throw new SshKeyError('invalid-private-key', `cannot read the private key: ${parsed.message}`);
  }
  if (!parsed.isPrivateKey())
    throw new SshKeyError('invalid-private-key', 'a private key is needed');
  return parsed;
}

function isParsedKey(input: PrivateKeyInput): input is ParsedKey {
  return (
    typeof input === 'object' && 'getPublicSSH' in input && typeof input.getPublicSSH === 'function'
  );
}

function readPem(text: string): KeyObject {
  try {
    return createPrivateKey(text);
  } catch (cause) {
    // node:crypto's message may quote the input: keep it out of ours.
    throw new SshKeyError(
      'invalid-private-key',
      'cannot read the private key (expected PEM or OpenSSH format)',
      {
        cause,
      },
    );
  }
}

function certificateBlob(input: CertificateInput): Buffer {
  const text = typeof input === 'string' ? input : input.subarray(0, 64).toString('latin1');
  if (typeof input === 'string' || /^\S+-cert-v01@openssh\.com\s/.test(text)) {
    const line = input.toString().trim();
    const m = /^(\S+)\s+([A-Za-z0-9+/]+={0,2})(?:\s|$)/.exec(line);
    if (m === null || m[1] === undefined || m[2] === undefined) {
      throw new SshKeyError(
        'invalid-certificate',
        'the certificate is not an OpenSSH `*-cert.pub` line',
      );
    }
    const blob = Buffer.from(m[2], 'base64');
    if (readString(blob, 0)?.value.toString('latin1') !== m[1]) {
      throw new SshKeyError(
        'invalid-certificate',
        'the certificate line names another type than its blob',
      );
    }
    return blob;
  }
  return Buffer.from(input);
}

/**
 * PROTOCOL.certkeys: string type, string nonce, the certified key's fields (the plain public
 * key blob without its type name), uint64 serial, uint32 type, ...
 */
function checkCertifies(cert: Buffer, key: ParsedKey): void {
  const type = readString(cert, 0);
  const expected = `${key.type}${CERT_SUFFIX}`;
  if (type === undefined || !type.value.toString('latin1').endsWith(CERT_SUFFIX)) {
    throw new SshKeyError('invalid-certificate', 'this is not an OpenSSH certificate');
  }
  if (type.value.toString('latin1') !== expected) {
    throw new SshKeyError(
      'certificate-key-mismatch',
      `the certificate is of type ${type.value.toString('latin1')}, the key needs ${expected}`,
    );
  }
  const nonce = readString(cert, type.end);
  const pub = key.getPublicSSH();
  const pubType = readString(pub, 0);
  if (nonce === undefined || pubType === undefined) {
    throw new SshKeyError('invalid-certificate', 'the certificate is truncated');
  }
  const fields = pub.subarray(pubType.end);
  const typeAt = nonce.end + fields.length + 8;
  if (cert.length < typeAt + 4)
    throw new SshKeyError('invalid-certificate', 'the certificate is truncated');
  if (!cert.subarray(nonce.end, nonce.end + fields.length).equals(fields)) {
    throw new SshKeyError('certificate-key-mismatch', 'the certificate certifies another key');
  }
  if (cert.readUInt32BE(typeAt) !== SSH_CERT_TYPE_USER) {
    throw new SshKeyError('not-user-certificate', 'the certificate is not a user certificate');
  }
}

function readString(buf: Buffer, at: number): { value: Buffer; end: number } | undefined {
  if (buf.length < at + 4) return undefined;
  const end = at + 4 + buf.readUInt32BE(at);
  if (end > buf.length) return undefined;
  return { value: buf.subarray(at + 4, end), end };
}
