import { createHash, createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { ed25519PublicBytes } from './ed25519-raw.js';
import { SshCertError, malformed } from './errors.js';
import { checkPublicKeyStrength } from './key-strength.js';
import type { KeyType, PublicKey } from './types.js';
import { WireReader, WireWriter, decodeBase64Strict } from './wire.js';

export const MIN_RSA_BITS = 2048;
/** OpenSSH's own upper bound (SSH_RSA_MAXIMUM_MODULUS_SIZE). */
export const MAX_RSA_BITS = 16384;

interface CurveInfo {
  readonly id: 'nistp256' | 'nistp384' | 'nistp521';
  readonly jwkCrv: 'P-256' | 'P-384' | 'P-521';
  readonly nodeCurve: 'prime256v1' | 'secp384r1' | 'secp521r1';
  readonly bits: 256 | 384 | 521;
  /** Byte length of one coordinate / scalar. */
  readonly size: number;
  readonly hash: 'sha256' | 'sha384' | 'sha512';
  /** Field prime p and coefficient b of y^2 = x^3 - 3x + b (FIPS 186-4 D.1.2). */
  readonly p: bigint;
  readonly b: bigint;
}

export const CURVES: Readonly<Record<string, CurveInfo>> = {
  'ecdsa-sha2-nistp256': {
    id: 'nistp256',
    jwkCrv: 'P-256',
    nodeCurve: 'prime256v1',
    bits: 256,
    size: 32,
    hash: 'sha256',
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
  },
  'ecdsa-sha2-nistp384': {
    id: 'nistp384',
    jwkCrv: 'P-384',
    nodeCurve: 'secp384r1',
    bits: 384,
    size: 48,
    hash: 'sha384',
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
  },
  'ecdsa-sha2-nistp521': {
    id: 'nistp521',
    jwkCrv: 'P-521',
    nodeCurve: 'secp521r1',
    bits: 521,
    size: 66,
    hash: 'sha512',
    p: (1n << 521n) - 1n,
    b: 0x0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00n,
  },
};

export function curveOf(type: KeyType): CurveInfo | undefined {
  return CURVES[type];
}

const KEY_TYPES: ReadonlySet<string> = new Set<KeyType>([
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'ssh-rsa',
]);

export function isKeyType(name: string): name is KeyType {
  return KEY_TYPES.has(name);
}

/** Refusal for a key algorithm name we do not take, with the clearest message we can give. */
export function unsupportedKeyType(name: string): SshCertError {
  if (name === 'ssh-dss') {
    return new SshCertError('unsupported-key', 'DSA keys (ssh-dss) are not supported: use ed25519');
  }
  if (name.startsWith('sk-')) {
    return new SshCertError('unsupported-key', `security-key type ${name} is not supported`);
  }
  const shown = name.length > 64 ? `${name.slice(0, 64)}...` : name;
  return new SshCertError('unsupported-key', `unsupported key type ${JSON.stringify(shown)}`);
}

type KeyFields =
  | { readonly kind: 'ed25519'; readonly pk: Buffer }
  | { readonly kind: 'ecdsa'; readonly curve: CurveInfo; readonly q: Buffer }
  | { readonly kind: 'rsa'; readonly e: Buffer; readonly n: Buffer };

function b64url(b: Buffer): string {
  return b.toString('base64url');
}

function bitLength(magnitude: Buffer): number {
  if (magnitude.length === 0) return 0;
  return (magnitude.length - 1) * 8 + (32 - Math.clz32(magnitude[0]!));
}

/**
 * A public key built from its wire fields. The wire blob and the node:crypto KeyObject are made
 * on first use: a key to be certified or a certificate's subject key is rarely needed as a
 * KeyObject (importing one costs more than signing a certificate), and trusted CA keys keep
 * theirs for the life of the object. Everything that can make a key unusable is checked when
 * the fields are read, so building the KeyObject later does not fail for keys that parsed; if
 * node:crypto refused one anyway, the getter throws SshCertError.
 */
export class SshPublicKey implements PublicKey {
  readonly type: KeyType;
  readonly bits: number;
  readonly comment?: string;
  /** @internal */
  readonly fields: KeyFields;
  private blobCache: Buffer | undefined;
  private keyObjectCache: KeyObject | undefined;

  constructor(type: KeyType, fields: KeyFields, blob?: Buffer, comment?: string) {
    this.type = type;
    this.fields = fields;
    this.blobCache = blob;
    if (comment !== undefined) this.comment = comment;
    this.bits =
      fields.kind === 'ed25519'
        ? 256
        : fields.kind === 'ecdsa'
          ? fields.curve.bits
          : bitLength(fields.n);
  }

  get blob(): Buffer {
    this.blobCache ??= encodeKeyFields(
      new WireWriter().string(this.type),
      this.fields,
    ).toStandaloneBuffer();
    return this.blobCache;
  }

  get keyObject(): KeyObject {
    if (!this.keyObjectCache) this.keyObjectCache = makeKeyObject(this.fields);
    return this.keyObjectCache;
  }

  withComment(comment: string | undefined): SshPublicKey {
    const k = new SshPublicKey(this.type, this.fields, this.blobCache, comment);
    k.keyObjectCache = this.keyObjectCache;
    return k;
  }

  toString(): string {
    return `[${this.type} public key ${fingerprint(this)}]`;
  }

  /** Loggers get the fingerprint, not the key material. */
  toJSON(): { type: KeyType; fingerprint: string } {
    return { type: this.type, fingerprint: fingerprint(this) };
  }
}

function makeKeyObject(fields: KeyFields): KeyObject {
  try {
    switch (fields.kind) {
      case 'ed25519':
        // JWK, not DER SPKI: OpenSSL 3's DER decoder lookup costs ~10x more per import.
        return createPublicKey({
          key: { kty: 'OKP', crv: 'Ed25519', x: b64url(fields.pk) },
          format: 'jwk',
        });
      case 'ecdsa': {
        const size = fields.curve.size;
        const jwk: JsonWebKey = {
          kty: 'EC',
          crv: fields.curve.jwkCrv,
          x: b64url(fields.q.subarray(1, 1 + size)),
          y: b64url(fields.q.subarray(1 + size)),
        };
        return createPublicKey({ key: jwk, format: 'jwk' });
      }
      case 'rsa':
        return createPublicKey({
          key: { kty: 'RSA', n: b64url(fields.n), e: b64url(fields.e) },
          format: 'jwk',
        });
    }
  } catch (err) {
    throw new SshCertError(
      'malformed',
      `invalid ${fields.kind} public key: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
}

/** Writes the fields that follow the algorithm name (and, in certificates, the nonce). */
export function encodeKeyFields(w: WireWriter, fields: KeyFields): WireWriter {
  switch (fields.kind) {
    case 'ed25519':
      return w.bytes(fields.pk);
    case 'ecdsa':
      return w.string(fields.curve.id).bytes(fields.q);
    case 'rsa':
      return w.mpint(fields.e).mpint(fields.n);
  }
}

/** Reads the key fields of `type` (already read) from `r`; shared by plain keys and certificates. */
export function readKeyFields(type: KeyType, r: WireReader): KeyFields {
  switch (type) {
    case 'ssh-ed25519': {
      const pk = r.bytes('ed25519 public key');
      if (pk.length !== 32) throw malformed(`ed25519 public key: ${pk.length} bytes, expected 32`);
      return { kind: 'ed25519', pk };
    }
    case 'ecdsa-sha2-nistp256':
    case 'ecdsa-sha2-nistp384':
    case 'ecdsa-sha2-nistp521': {
      const curve = CURVES[type]!;
      const id = r.bytes('ecdsa curve');
      if (id.length !== curve.id.length || id.toString('latin1') !== curve.id) {
        throw malformed(`${type}: curve identifier does not match the key type`);
      }
      const q = r.bytes('ecdsa point');
      if (q.length !== 1 + 2 * curve.size || q[0] !== 4) {
        throw malformed(`${type}: public point must be uncompressed (${1 + 2 * curve.size} bytes)`);
      }
      return { kind: 'ecdsa', curve, q };
    }
    case 'ssh-rsa': {
      const e = r.mpintPositive('rsa exponent');
      const n = r.mpintPositive('rsa modulus');
      if (e.length === 0 || !(e[e.length - 1]! & 1) || e.length > 8) {
        throw malformed('rsa exponent: must be odd and at most 64 bits');
      }
      const bits = bitLength(n);
      if (bits < MIN_RSA_BITS) {
        throw new SshCertError(
          'weak-key',
          `RSA key of ${bits} bits refused: at least ${MIN_RSA_BITS} required`,
        );
      }
      if (bits > MAX_RSA_BITS) {
        throw new SshCertError(
          'unsupported-key',
          `RSA key of ${bits} bits is larger than ${MAX_RSA_BITS}`,
        );
      }
      return { kind: 'rsa', e, n };
    }
  }
}

/** Reads an algorithm name and checks it is one of ours. */
export function readKeyType(r: WireReader): KeyType {
  const nameBytes = r.bytes('key type');
  const name = nameBytes.length <= 64 ? nameBytes.toString('latin1') : '';
  if (isKeyType(name)) return name;
  throw unsupportedKeyType(decodeLossy(nameBytes));
}

export function decodeLossy(b: Buffer): string {
  return b
    .subarray(0, 80)
    .toString('latin1')
    .replace(/[^\x20-\x7e]/g, '?');
}

/**
 * ECDSA public points are validated as OpenSSL validates them on import: both coordinates below
 * the field prime and y^2 = x^3 - 3x + b (mod p). On these prime-order curves (cofactor 1) that
 * also puts the point in the group, so a key refused here is exactly a key `createPublicKey`
 * would refuse (checked against node:crypto in the tests). A few BigInt operations instead of a
 * KeyObject import.
 */
function checkCurvePoint(curve: CurveInfo, q: Buffer): void {
  const x = BigInt(`0x${q.toString('hex', 1, 1 + curve.size)}`);
  const y = BigInt(`0x${q.toString('hex', 1 + curve.size)}`);
  const { p, b } = curve;
  if (x >= p || y >= p || (y * y - (x * x * x - 3n * x + b)) % p !== 0n) {
    throw malformed(`ecdsa-sha2-${curve.id}: public point is not on the curve`);
  }
}

/**
 * Checks that need more than the wire format (see {@link checkCurvePoint}), and degenerate keys
 * (see ./key-strength.ts): a key nobody should certify or trust is refused wherever it is parsed.
 */
function checkKeyFields(key: SshPublicKey): void {
  if (key.fields.kind === 'ecdsa') checkCurvePoint(key.fields.curve, key.fields.q);
  const weak = checkPublicKeyStrength(key);
  if (weak) throw new SshCertError('weak-key', weak);
}

/**
 * Parses a public key from its SSH wire blob. Fully validated here (weak RSA, ed25519 length,
 * ECDSA point on the curve); the KeyObject is built on first use.
 */
export function parsePublicKey(blob: Buffer, comment?: string): PublicKey {
  const r = new WireReader(blob);
  const key = parsePublicKeyLazy(blob, comment, r);
  r.done('public key');
  checkKeyFields(key);
  return key;
}

/** @internal Like parsePublicKey but defers building the KeyObject. */
export function parsePublicKeyLazy(
  blob: Buffer,
  comment?: string,
  r = new WireReader(blob),
): SshPublicKey {
  const start = r.offset;
  const type = readKeyType(r);
  const fields = readKeyFields(type, r);
  const end = r.offset;
  if (start === 0 && end === blob.length) {
    return new SshPublicKey(type, fields, blob, comment);
  }
  return new SshPublicKey(type, fields, blob.subarray(start, end), comment);
}

/** Parses a nested public key (a `string` holding a key blob) with no trailing bytes. */
export function parseNestedPublicKey(blob: Buffer, what: string): SshPublicKey {
  const r = new WireReader(blob);
  try {
    const type = readKeyType(r);
    const fields = readKeyFields(type, r);
    r.done(what);
    return new SshPublicKey(type, fields, blob);
  } catch (err) {
    if (err instanceof SshCertError) throw new SshCertError(err.code, `${what}: ${err.message}`);
    throw err;
  }
}

/** Splits `type base64 [comment]`. */
export function splitKeyLine(text: string): { type: string; data: string; comment?: string } {
  const line = text.trim();
  // One line: a second key after a newline would otherwise be swallowed into the comment and
  // come back out as a line of its own wherever the comment is written (known_hosts).
  if (/[\r\n]/.test(line)) throw malformed('a key line must be one line');
  const m = /^(\S+)\s+(\S+)(?:\s+(.*))?$/s.exec(line);
  if (!m) throw malformed('expected "<type> <base64> [comment]"');
  const comment = m[3]?.trim();
  return comment ? { type: m[1]!, data: m[2]!, comment } : { type: m[1]!, data: m[2]! };
}

/**
 * Parses the one-line `authorized_keys` / `.pub` form: `ssh-ed25519 AAAA... comment`, validated
 * as {@link parsePublicKey} does.
 */
export function parsePublicKeyText(text: string): PublicKey {
  const { type, data, comment } = splitKeyLine(text);
  if (type.endsWith('-cert-v01@openssh.com')) {
    throw malformed('this is a certificate, not a plain public key');
  }
  if (!isKeyType(type)) throw unsupportedKeyType(type);
  const blob = decodeBase64Strict(data, 'public key');
  const r = new WireReader(blob);
  const key = parsePublicKeyLazy(blob, comment, r);
  r.done('public key');
  if (key.type !== type) throw malformed(`key type ${type} does not match its blob (${key.type})`);
  checkKeyFields(key);
  return key;
}

/** The one-line text form; `comment` overrides the key's own. */
export function encodePublicKeyText(key: PublicKey, comment?: string): string {
  const c = comment ?? key.comment;
  const base = `${key.type} ${key.blob.toString('base64')}`;
  return c ? `${base} ${c}` : base;
}

/** `SHA256:` + unpadded base64 of SHA-256 of the key blob, exactly as `ssh-keygen -l` prints. */
export function fingerprint(key: PublicKey | Buffer): string {
  const blob = Buffer.isBuffer(key) ? key : key.blob;
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

function fromB64url(s: string | undefined, what: string): Buffer {
  if (typeof s !== 'string') throw malformed(`key has no ${what}`);
  return Buffer.from(s, 'base64url');
}

function leftPad(b: Buffer, size: number): Buffer {
  if (b.length === size) return b;
  if (b.length > size) throw malformed('coordinate too long');
  return Buffer.concat([Buffer.alloc(size - b.length), b]);
}

/** The SSH public key of a node:crypto key (public or private). */
export function publicKeyFromKeyObject(keyObject: KeyObject, comment?: string): PublicKey {
  const pub = keyObject.type === 'private' ? createPublicKey(keyObject) : keyObject;
  if (pub.type !== 'public')
    throw new SshCertError('unsupported-key', 'secret keys have no public key');
  const kind = pub.asymmetricKeyType;
  if (kind === 'dsa') throw unsupportedKeyType('ssh-dss');
  if (kind !== 'ed25519' && kind !== 'ec' && kind !== 'rsa') {
    throw new SshCertError('unsupported-key', `unsupported key type ${String(kind)}`);
  }
  if (kind === 'ed25519') {
    const key = new SshPublicKey('ssh-ed25519', { kind: 'ed25519', pk: ed25519PublicBytes(pub) });
    return comment === undefined ? key : key.withComment(comment);
  }
  const jwk = pub.export({ format: 'jwk' });
  let key: SshPublicKey;
  switch (kind) {
    case 'ec': {
      const entry = Object.entries(CURVES).find(([, c]) => c.jwkCrv === jwk.crv);
      if (!entry) throw new SshCertError('unsupported-key', `unsupported curve ${String(jwk.crv)}`);
      const [type, curve] = entry;
      const q = Buffer.concat([
        Buffer.from([4]),
        leftPad(fromB64url(jwk.x, 'x'), curve.size),
        leftPad(fromB64url(jwk.y, 'y'), curve.size),
      ]);
      key = new SshPublicKey(type as KeyType, { kind: 'ecdsa', curve, q });
      break;
    }
    case 'rsa': {
      const n = fromB64url(jwk.n, 'n');
      const bits = bitLength(n);
      if (bits < MIN_RSA_BITS) {
        throw new SshCertError(
          'weak-key',
          `RSA key of ${bits} bits refused: at least ${MIN_RSA_BITS} required`,
        );
      }
      key = new SshPublicKey('ssh-rsa', { kind: 'rsa', e: fromB64url(jwk.e, 'e'), n });
      break;
    }
  }
  return comment === undefined ? key : key.withComment(comment);
}
