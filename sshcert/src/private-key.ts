import {
  createPrivateKey,
  generateKeyPairSync,
  randomBytes,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto';
import { ed25519PublicBytes, ed25519Seed } from './ed25519-raw.js';
import { SshCertError, malformed } from './errors.js';
import {
  CURVES,
  MIN_RSA_BITS,
  curveOf,
  publicKeyFromKeyObject,
  readKeyType,
  unsupportedKeyType,
} from './public-key.js';
import type { KeyType, PrivateKey, PublicKey } from './types.js';
import { WireReader, WireWriter, bigintToBytes, bytesToBigint, decodeCString } from './wire.js';

const MAGIC = Buffer.from('openssh-key-v1\0', 'latin1');
const BEGIN = '-----BEGIN OPENSSH PRIVATE KEY-----';
const END = '-----END OPENSSH PRIVATE KEY-----';

class SshPrivateKey implements PrivateKey {
  readonly type: KeyType;
  readonly publicKey: PublicKey;
  readonly keyObject: KeyObject;
  readonly comment?: string;

  constructor(publicKey: PublicKey, keyObject: KeyObject, comment?: string) {
    this.type = publicKey.type;
    this.publicKey = publicKey;
    this.keyObject = keyObject;
    if (comment !== undefined) this.comment = comment;
  }

  /** Keeps private material out of logs and inspection. */
  toString(): string {
    return `[${this.type} private key]`;
  }

  toJSON(): string {
    return this.toString();
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}

function fromKeyObject(keyObject: KeyObject, comment?: string): PrivateKey {
  const pub = publicKeyFromKeyObject(keyObject, comment);
  return new SshPrivateKey(pub, keyObject, comment);
}

export interface GenerateOptions {
  /** RSA modulus size (default 3072, at least 2048). Ignored for other types. */
  readonly bits?: number;
  readonly comment?: string;
}

/** Generates a new key pair with node:crypto. */
export function generatePrivateKey(
  type: KeyType = 'ssh-ed25519',
  options: GenerateOptions = {},
): PrivateKey {
  let keyObject: KeyObject;
  if (type === 'ssh-ed25519') {
    keyObject = generateKeyPairSync('ed25519').privateKey;
  } else if (type === 'ssh-rsa') {
    const bits = options.bits ?? 3072;
    if (!Number.isInteger(bits) || bits < MIN_RSA_BITS || bits > 16384) {
      throw new SshCertError('invalid-request', `RSA keys must have ${MIN_RSA_BITS} to 16384 bits`);
    }
    keyObject = generateKeyPairSync('rsa', {
      modulusLength: bits,
      publicExponent: 0x10001,
    }).privateKey;
  } else {
    const curve = curveOf(type);
    if (!curve) throw unsupportedKeyType(type);
    keyObject = generateKeyPairSync('ec', { namedCurve: curve.nodeCurve }).privateKey;
  }
  return fromKeyObject(keyObject, options.comment);
}

function b64url(b: Buffer): string {
  return b.toString('base64url');
}

function importJwk(jwk: JsonWebKey): KeyObject {
  try {
    return createPrivateKey({ key: jwk, format: 'jwk' });
  } catch (err) {
    throw new SshCertError('malformed', `invalid private key: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

function parseOpenSsh(text: string): PrivateKey {
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (start < 0 || end < start) throw malformed('not an OpenSSH private key');
  const body = text.slice(start + BEGIN.length, end).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body)) throw malformed('OpenSSH private key: invalid base64');
  const data = Buffer.from(body, 'base64');
  if (data.length < MAGIC.length || !data.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw malformed('OpenSSH private key: bad magic');
  }
  const r = new WireReader(data, MAGIC.length);
  const cipher = r.cstring('cipher name');
  const kdf = r.cstring('kdf name');
  r.bytes('kdf options');
  if (cipher !== 'none' || kdf !== 'none') {
    throw new SshCertError(
      'encrypted-key',
      `the private key is encrypted (${cipher}/${kdf}); passphrases are not supported: ` +
        'decrypt a copy with `ssh-keygen -p -N "" -f FILE`',
    );
  }
  const count = r.u32('key count');
  if (count !== 1) throw malformed(`OpenSSH private key: ${count} keys, expected 1`);
  const publicBlob = r.bytes('public key');
  const priv = r.sub('private section');
  r.done('OpenSSH private key');

  const check1 = priv.u32('check');
  const check2 = priv.u32('check');
  if (check1 !== check2)
    throw malformed('OpenSSH private key: check bytes differ (wrong passphrase?)');
  const type = readKeyType(priv);
  let jwk: JsonWebKey;
  if (type === 'ssh-ed25519') {
    const pk = priv.bytes('ed25519 public');
    const sk = priv.bytes('ed25519 private');
    if (pk.length !== 32 || sk.length !== 64 || !sk.subarray(32).equals(pk)) {
      throw malformed('OpenSSH private key: bad ed25519 key');
    }
    jwk = { kty: 'OKP', crv: 'Ed25519', x: b64url(pk), d: b64url(sk.subarray(0, 32)) };
  } else if (type === 'ssh-rsa') {
    const n = priv.mpintPositive('rsa n');
    const e = priv.mpintPositive('rsa e');
    const d = priv.mpintPositive('rsa d');
    const iqmp = priv.mpintPositive('rsa iqmp');
    const p = priv.mpintPositive('rsa p');
    const q = priv.mpintPositive('rsa q');
    const dBig = bytesToBigint(d);
    const dp = dBig % (bytesToBigint(p) - 1n);
    const dq = dBig % (bytesToBigint(q) - 1n);
    jwk = {
      kty: 'RSA',
      n: b64url(n),
      e: b64url(e),
      d: b64url(d),
      p: b64url(p),
      q: b64url(q),
      dp: b64url(bigintToBytes(dp)),
      dq: b64url(bigintToBytes(dq)),
      qi: b64url(iqmp),
    };
  } else {
    const curve = CURVES[type]!;
    const id = priv.cstring('ecdsa curve');
    if (id !== curve.id) throw malformed('OpenSSH private key: curve does not match key type');
    const q = priv.bytes('ecdsa point');
    const dRaw = priv.mpintPositive('ecdsa private');
    if (q.length !== 1 + 2 * curve.size || q[0] !== 4 || dRaw.length > curve.size) {
      throw malformed('OpenSSH private key: bad ecdsa key');
    }
    const dPadded = Buffer.alloc(curve.size);
    dRaw.copy(dPadded, curve.size - dRaw.length);
    jwk = {
      kty: 'EC',
      crv: curve.jwkCrv,
      x: b64url(q.subarray(1, 1 + curve.size)),
      y: b64url(q.subarray(1 + curve.size)),
      d: b64url(dPadded),
    };
  }
  const comment = decodeCString(priv.bytes('comment'), 'comment');
  for (let i = 1; priv.remaining > 0; i++) {
    if (priv.u8('padding') !== (i & 0xff)) throw malformed('OpenSSH private key: bad padding');
  }
  const keyObject = importJwk(jwk);
  const key = fromKeyObject(keyObject, comment || undefined);
  // The public half stored in the clear must be the one the private half derives.
  if (!key.publicKey.blob.equals(publicBlob)) {
    throw malformed('OpenSSH private key: public and private halves do not match');
  }
  return key;
}

/**
 * Loads a private key: OpenSSH `openssh-key-v1` (unencrypted) or PEM (PKCS#8, PKCS#1, SEC1).
 * Encrypted keys are refused with code `encrypted-key`.
 */
export function parsePrivateKey(input: string | Buffer): PrivateKey {
  const text = Buffer.isBuffer(input) ? input.toString('utf8') : input;
  if (text.includes(BEGIN)) return parseOpenSsh(text);
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,ENCRYPTED/.test(text)) {
    throw new SshCertError(
      'encrypted-key',
      'the private key is encrypted; passphrases are not supported',
    );
  }
  if (!text.includes('-----BEGIN')) throw malformed('not a PEM or OpenSSH private key');
  let keyObject: KeyObject;
  try {
    keyObject = createPrivateKey({ key: text, format: 'pem' });
  } catch (err) {
    throw new SshCertError('malformed', `invalid PEM private key: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return fromKeyObject(keyObject);
}

function wrap70(b64: string): string {
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 70) lines.push(b64.slice(i, i + 70));
  return lines.join('\n');
}

function jwkPart(jwk: JsonWebKey, name: 'n' | 'e' | 'd' | 'p' | 'q' | 'qi' | 'x'): Buffer {
  const v = jwk[name];
  if (typeof v !== 'string') throw malformed(`private key lacks ${name}`);
  return Buffer.from(v, 'base64url');
}

/** Writes the `openssh-key-v1` text form (unencrypted) that `ssh-keygen` and `ssh` read. */
export function encodePrivateKey(key: PrivateKey, comment?: string): string {
  const pub = key.publicKey;
  const check = randomBytes(4).readUInt32BE(0);
  const priv = new WireWriter().u32(check).u32(check).string(key.type);
  if (key.type === 'ssh-ed25519') {
    const pk = ed25519PublicBytes(key.keyObject);
    priv.bytes(pk).bytes(Buffer.concat([ed25519Seed(key.keyObject), pk]));
  } else if (key.type === 'ssh-rsa') {
    const jwk = key.keyObject.export({ format: 'jwk' });
    priv
      .mpint(jwkPart(jwk, 'n'))
      .mpint(jwkPart(jwk, 'e'))
      .mpint(jwkPart(jwk, 'd'))
      .mpint(jwkPart(jwk, 'qi'))
      .mpint(jwkPart(jwk, 'p'))
      .mpint(jwkPart(jwk, 'q'));
  } else {
    const jwk = key.keyObject.export({ format: 'jwk' });
    const curve = CURVES[key.type]!;
    const r = new WireReader(pub.blob);
    r.bytes();
    r.bytes();
    const q = r.bytes();
    priv.string(curve.id).bytes(q).mpint(jwkPart(jwk, 'd'));
  }
  priv.string(comment ?? key.comment ?? '');
  for (let i = 1; priv.length % 8 !== 0; i++) priv.u8(i);
  const out = new WireWriter()
    .raw(MAGIC)
    .string('none')
    .string('none')
    .string('')
    .u32(1)
    .bytes(pub.blob)
    .bytes(priv.toBuffer())
    .toBuffer();
  return `${BEGIN}\n${wrap70(out.toString('base64'))}\n${END}\n`;
}
