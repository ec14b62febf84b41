/**
 * The per-app certificate cache that `ssh-cert` keeps for stock ssh, read without the CLI's
 * heavy modules (no zod, ssh2, HTTP client or key crypto), because ssh_config's `Match exec`
 * runs `neetodeploy ssh-cert` before every `ssh APP.neetodeploy` and most runs only need to say
 * "the certificate on disk is still good".
 *
 * A cached certificate is good when it certifies the key beside it, stays valid for more than
 * {@link RENEW_MARGIN_SECONDS}, and was issued under the credentials in use now: its comment
 * carries a tag of the API URL and token ({@link credentialTag}), so a new `login` (or another
 * `NEETODEPLOY_TOKEN`) makes every certificate issued before it stale.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** A certificate closer than this to its end is renewed. */
export const RENEW_MARGIN_SECONDS = 60;

const TAG_PREFIX = 'neetodeploy-credentials:';
const ED25519_CERT = 'ssh-ed25519-cert-v01@openssh.com';

/** Short, one-way tag of the credentials a certificate was issued under. */
export function credentialTag(apiUrl: string, token: string): string {
  let origin = apiUrl;
  try {
    origin = new URL(apiUrl).origin;
  } catch {
    // Not a URL: the caller fails later with a clear message; the tag only has to be stable.
  }
  return crypto.createHash('sha256').update(`${origin}\n${token}`).digest('hex').slice(0, 16);
}

/** The certificate line as written to disk: type, blob and the credentials tag as comment. */
export function certificateFileText(certificate: string, tag: string): string {
  const [type = '', blob = ''] = certificate.trim().split(/\s+/);
  return `${type} ${blob} ${TAG_PREFIX}${tag}\n`;
}

/** Files named after the host: `ssh-cert` only reads names that `ssh_config`'s `%n` produced. */
function isPlainFileName(host: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._:@-]*$/.test(host) && !host.includes('..');
}

class Reader {
  private offset = 0;
  constructor(private readonly buf: Buffer) {}
  string(): Buffer {
    const len = this.uint32();
    const end = this.offset + len;
    if (end > this.buf.length) throw new RangeError('truncated');
    const out = this.buf.subarray(this.offset, end);
    this.offset = end;
    return out;
  }
  uint32(): number {
    if (this.offset + 4 > this.buf.length) throw new RangeError('truncated');
    const v = this.buf.readUInt32BE(this.offset);
    this.offset += 4;
    return v;
  }
  uint64(): bigint {
    if (this.offset + 8 > this.buf.length) throw new RangeError('truncated');
    const v = this.buf.readBigUInt64BE(this.offset);
    this.offset += 8;
    return v;
  }
}

/** The ed25519 public key bytes of an unencrypted or encrypted `openssh-key-v1` private key file. */
function privateKeyPublicBytes(pem: string): Buffer | undefined {
  const body =
    /-----BEGIN OPENSSH PRIVATE KEY-----([\s\S]*?)-----END OPENSSH PRIVATE KEY-----/.exec(pem)?.[1];
  if (body === undefined) return undefined;
  const raw = Buffer.from(body.replace(/\s+/g, ''), 'base64');
  const magic = Buffer.from('openssh-key-v1\0', 'latin1');
  if (!raw.subarray(0, magic.length).equals(magic)) return undefined;
  const r = new Reader(raw.subarray(magic.length));
  r.string(); // cipher
  r.string(); // kdf
  r.string(); // kdf options
  if (r.uint32() !== 1) return undefined;
  const pub = new Reader(r.string());
  if (pub.string().toString('latin1') !== 'ssh-ed25519') return undefined;
  return pub.string();
}

export interface CachedCertificate {
  /** The certified ed25519 public key. */
  readonly publicKey: Buffer;
  /** Seconds since the epoch. */
  readonly validBefore: bigint;
  /** The credentials tag from the comment; undefined for files written before tags existed. */
  readonly tag?: string;
}

/** Reads an ed25519 certificate line; undefined when it is anything else. */
export function readCertificateLine(text: string): CachedCertificate | undefined {
  const [type, blob, comment] = text.trim().split(/\s+/);
  if (type !== ED25519_CERT || blob === undefined) return undefined;
  try {
    const r = new Reader(Buffer.from(blob, 'base64'));
    if (r.string().toString('latin1') !== ED25519_CERT) return undefined;
    r.string(); // nonce
    const publicKey = r.string();
    r.uint64(); // serial
    r.uint32(); // type
    r.string(); // key id
    r.string(); // principals
    r.uint64(); // valid after
    const validBefore = r.uint64();
    const tag = comment?.startsWith(TAG_PREFIX) ? comment.slice(TAG_PREFIX.length) : undefined;
    return { publicKey, validBefore, ...(tag !== undefined ? { tag } : {}) };
  } catch {
    return undefined;
  }
}

/**
 * True when a certificate line (`certText`) certifies the private key in `keyText`, stays valid
 * for more than {@link RENEW_MARGIN_SECONDS} after `now` and carries `tag` (see the module
 * comment). Never throws.
 */
export function certificateIsFresh(input: {
  readonly keyText: string;
  readonly certText: string;
  readonly tag: string;
  readonly now: Date;
}): boolean {
  try {
    const cert = readCertificateLine(input.certText);
    if (!cert || cert.tag !== input.tag) return false;
    const left = Number(cert.validBefore) - Math.floor(input.now.getTime() / 1000);
    if (!(left > RENEW_MARGIN_SECONDS)) return false;
    const pub = privateKeyPublicBytes(input.keyText);
    return pub !== undefined && pub.equals(cert.publicKey);
  } catch {
    return false;
  }
}

/**
 * True when `host`'s cached certificate can be used as it is (see the module comment). Never
 * throws: anything unexpected answers false and the caller takes the full path.
 */
export function cachedCertificateIsFresh(input: {
  readonly keysDir: string;
  readonly host: string;
  readonly tag: string;
  readonly now: Date;
}): boolean {
  if (!isPlainFileName(input.host)) return false;
  try {
    const keyFile = path.join(input.keysDir, input.host);
    return certificateIsFresh({
      keyText: fs.readFileSync(keyFile, 'utf8'),
      certText: fs.readFileSync(`${keyFile}-cert.pub`, 'utf8'),
      tag: input.tag,
      now: input.now,
    });
  } catch {
    return false;
  }
}
