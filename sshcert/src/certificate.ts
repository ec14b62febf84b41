import { secureRandomBytes } from './random.js';
import { SshCertError, malformed } from './errors.js';
import { checkPublicKeyStrength } from './key-strength.js';
import {
  SshPublicKey,
  decodeLossy,
  encodeKeyFields,
  parseNestedPublicKey,
  readKeyFields,
  splitKeyLine,
} from './public-key.js';
import { readSignature, signData, type ParsedSignature } from './signature.js';
import type {
  CertKeyType,
  CertType,
  Certificate,
  CertificateRequest,
  KeyType,
  PrivateKey,
} from './types.js';
import { WireReader, WireWriter, decodeBase64Strict } from './wire.js';

const CERT_SUFFIX = '-cert-v01@openssh.com';

const CERT_TYPES: ReadonlyMap<string, KeyType> = new Map<string, KeyType>([
  ['ssh-ed25519-cert-v01@openssh.com', 'ssh-ed25519'],
  ['ecdsa-sha2-nistp256-cert-v01@openssh.com', 'ecdsa-sha2-nistp256'],
  ['ecdsa-sha2-nistp384-cert-v01@openssh.com', 'ecdsa-sha2-nistp384'],
  ['ecdsa-sha2-nistp521-cert-v01@openssh.com', 'ecdsa-sha2-nistp521'],
  ['ssh-rsa-cert-v01@openssh.com', 'ssh-rsa'],
]);

/** Names under which a certificate is offered in SSH userauth (RSA ones name the hash). */
const CERT_ALGORITHMS: ReadonlySet<string> = new Set([
  ...CERT_TYPES.keys(),
  'rsa-sha2-256-cert-v01@openssh.com',
  'rsa-sha2-512-cert-v01@openssh.com',
]);

/** Whether `name` is a certificate key algorithm (including the rsa-sha2-* userauth names). */
export function isCertificateAlgorithm(name: string): boolean {
  return CERT_ALGORITHMS.has(name);
}

export function certKeyTypeFor(type: KeyType): CertKeyType {
  return `${type}${CERT_SUFFIX}` as CertKeyType;
}

const CERT_TYPE_CODES: Readonly<Record<CertType, number>> = { user: 1, host: 2 };

/** @internal */
export class SshCertificate implements Certificate {
  /** The CA signature, parsed once at parse time. @internal */
  readonly parsedSignature: ParsedSignature;
  readonly comment?: string;

  constructor(
    readonly type: CertKeyType,
    readonly nonce: Buffer,
    readonly publicKey: SshPublicKey,
    readonly serial: bigint,
    readonly certType: CertType,
    readonly keyId: string,
    readonly principals: readonly string[],
    readonly validAfter: bigint,
    readonly validBefore: bigint,
    readonly criticalOptions: Readonly<Record<string, string>>,
    readonly extensions: Readonly<Record<string, string>>,
    readonly signatureKey: SshPublicKey,
    readonly signature: Buffer,
    parsedSignature: ParsedSignature,
    readonly signedData: Buffer,
    readonly blob: Buffer,
    comment?: string,
  ) {
    this.parsedSignature = parsedSignature;
    if (comment !== undefined) this.comment = comment;
  }

  toString(): string {
    return `[${this.certType} certificate ${JSON.stringify(this.keyId)} serial ${this.serial}]`;
  }

  /**
   * What a logger may record: the identity, never the certificate body (and no bigint, which
   * JSON.stringify cannot write).
   */
  toJSON(): Record<string, unknown> {
    return {
      type: this.type,
      certType: this.certType,
      keyId: this.keyId,
      serial: this.serial.toString(),
      principals: this.principals,
      validAfter: this.validAfter.toString(),
      validBefore: this.validBefore.toString(),
      criticalOptions: { ...this.criticalOptions },
      extensions: { ...this.extensions },
      publicKey: this.publicKey.toJSON(),
      signatureKey: this.signatureKey.toJSON(),
    };
  }
}

function readOptions(r: WireReader, what: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  while (r.remaining > 0) {
    const name = r.cstring(`${what} name`);
    const data = r.bytes(`${what} data`);
    if (name.length === 0) throw malformed(`${what}: empty name`);
    if (name in out) throw malformed(`${what}: duplicate ${JSON.stringify(name)}`);
    let value = '';
    if (data.length > 0) {
      const inner = new WireReader(data);
      value = inner.cstring(`${what} value`);
      inner.done(`${what} ${name}`);
    }
    out[name] = value;
  }
  return out;
}

/**
 * Parses a certificate blob (`*-cert-v01@openssh.com`). Throws SshCertError for anything that is
 * not a well-formed certificate of a supported type; does not check the signature.
 */
export function parseCertificate(blob: Buffer, comment?: string): Certificate {
  return parseCertificateInternal(blob, comment);
}

/** @internal */
export function parseCertificateInternal(blob: Buffer, comment?: string): SshCertificate {
  if (!Buffer.isBuffer(blob)) throw malformed('certificate must be a Buffer');
  const r = new WireReader(blob);
  const typeBytes = r.bytes('certificate type');
  const typeName = typeBytes.length <= 64 ? typeBytes.toString('latin1') : '';
  const keyType = CERT_TYPES.get(typeName);
  if (!keyType) {
    const shown = decodeLossy(typeBytes);
    if (typeName === 'ssh-dss-cert-v01@openssh.com') {
      throw new SshCertError('unsupported-key', 'DSA certificates are not supported');
    }
    throw new SshCertError(
      shown.endsWith(CERT_SUFFIX) ? 'unsupported-key' : 'malformed',
      `not a supported certificate type: ${JSON.stringify(shown)}`,
    );
  }
  const nonce = r.bytes('nonce');
  const fields = readKeyFields(keyType, r);
  const publicKey = new SshPublicKey(keyType, fields);
  const serial = r.u64('serial');
  const code = r.u32('certificate type');
  const certType: CertType | undefined = code === 1 ? 'user' : code === 2 ? 'host' : undefined;
  if (!certType) throw malformed(`unknown certificate type ${code}`);
  const keyId = r.cstring('key id');
  const pr = r.sub('principals');
  const principals: string[] = [];
  while (pr.remaining > 0) principals.push(pr.cstring('principal'));
  const validAfter = r.u64('valid after');
  const validBefore = r.u64('valid before');
  const criticalOptions = readOptions(r.sub('critical options'), 'critical option');
  const extensions = readOptions(r.sub('extensions'), 'extension');
  r.bytes('reserved');
  const signatureKey = parseNestedPublicKey(r.bytes('signature key'), 'signature key');
  const signedEnd = r.offset;
  const sigReader = r.sub('signature');
  const parsedSignature = readSignature(sigReader);
  sigReader.done('signature');
  r.done('certificate');
  return new SshCertificate(
    typeName as CertKeyType,
    nonce,
    publicKey,
    serial,
    certType,
    keyId,
    principals,
    validAfter,
    validBefore,
    criticalOptions,
    extensions,
    signatureKey,
    blob.subarray(signedEnd + 4),
    parsedSignature,
    blob.subarray(0, signedEnd),
    blob,
    comment,
  );
}

/** Parses the one-line text form `ssh-ed25519-cert-v01@openssh.com AAAA... comment`. */
export function parseCertificateText(line: string): Certificate {
  const { type, data, comment } = splitKeyLine(line);
  if (!type.endsWith(CERT_SUFFIX))
    throw malformed(`${type.slice(0, 64)} is not a certificate type`);
  const blob = decodeBase64Strict(data, 'certificate');
  const cert = parseCertificateInternal(blob, comment);
  if (cert.type !== type)
    throw malformed(`certificate type ${type} does not match its blob (${cert.type})`);
  return cert;
}

/** The one-line text form, as in `id_ed25519-cert.pub`. */
export function encodeCertificateText(cert: Certificate, comment?: string): string {
  const c = comment ?? cert.comment;
  const base = `${cert.type} ${cert.blob.toString('base64')}`;
  return c ? `${base} ${c}` : base;
}

function checkName(name: string, what: string): void {
  if (name.length === 0 || name.includes('\0')) {
    throw new SshCertError(
      'invalid-request',
      `${what}: names must be non-empty and contain no NUL`,
    );
  }
}

function encodeOptions(opts: Readonly<Record<string, string>> | undefined, what: string): Buffer {
  const w = new WireWriter();
  if (!opts) return w.toBuffer();
  // PROTOCOL.certkeys: options are lexically ordered by name (byte order, as strcmp).
  const names = Object.keys(opts).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  for (const name of names) {
    checkName(name, what);
    const value = opts[name]!;
    if (typeof value !== 'string' || value.includes('\0')) {
      throw new SshCertError(
        'invalid-request',
        `${what} ${name}: value must be a string without NUL`,
      );
    }
    w.string(name);
    if (value === '') w.u32(0);
    else w.bytes(new WireWriter().string(value).toBuffer());
  }
  return w.toBuffer();
}

function randomSerial(): bigint {
  for (;;) {
    const s = secureRandomBytes(8).readBigUInt64BE(0) & 0x7fffffffffffffffn;
    if (s !== 0n) return s;
  }
}

const U64_MAX = 0xffffffffffffffffn;

/**
 * Builds and signs a certificate. Defaults: random 63-bit serial, `now = new Date()`, `validAfter`
 * backdated by 60 s (never below 0), `validBefore = now + ttlSeconds`, no critical options or
 * extensions. Refuses an empty key id or principal list (code `invalid-request`). RSA CAs sign
 * with rsa-sha2-512.
 */
export function signCertificate(
  request: CertificateRequest,
  caPrivateKey: PrivateKey,
): Certificate {
  const fail = (msg: string): never => {
    throw new SshCertError('invalid-request', msg);
  };
  if (request.certType !== 'user' && request.certType !== 'host')
    fail('certType must be user or host');
  if (typeof request.keyId !== 'string' || request.keyId.length === 0)
    fail('keyId must not be empty');
  if (request.keyId.includes('\0')) fail('keyId must not contain NUL');
  if (!Array.isArray(request.principals) || request.principals.length === 0) {
    fail('principals must not be empty (an empty list means any principal to OpenSSH)');
  }
  for (const p of request.principals) {
    if (typeof p !== 'string' || p.length === 0 || p.includes('\0')) {
      fail('principals must be non-empty strings without NUL');
    }
  }
  const ttl = request.ttlSeconds;
  if (!Number.isSafeInteger(ttl) || ttl <= 0) fail('ttlSeconds must be a positive integer');
  const backdate = request.backdateSeconds ?? 60;
  if (!Number.isSafeInteger(backdate) || backdate < 0)
    fail('backdateSeconds must be a non-negative integer');
  const now = request.now ?? new Date();
  const nowMs = now.getTime();
  if (!Number.isFinite(nowMs) || nowMs < 0) fail('now must be a valid date after 1970');
  const serial = request.serial ?? randomSerial();
  if (typeof serial !== 'bigint' || serial < 0n || serial > U64_MAX)
    fail('serial must be a uint64');

  const nowSec = BigInt(Math.floor(nowMs / 1000));
  let validAfter = nowSec - BigInt(backdate);
  if (validAfter < 0n) validAfter = 0n;
  const validBefore = nowSec + BigInt(ttl);

  const subject = request.publicKey;
  const weak = checkPublicKeyStrength(subject);
  if (weak) throw new SshCertError('weak-key', weak);
  const fields =
    subject instanceof SshPublicKey
      ? subject.fields
      : parseNestedPublicKey(subject.blob, 'public key').fields;
  const principals = new WireWriter();
  for (const p of request.principals) principals.string(p);

  const w = new WireWriter().string(certKeyTypeFor(subject.type)).bytes(secureRandomBytes(32));
  encodeKeyFields(w, fields);
  w.u64(serial)
    .u32(CERT_TYPE_CODES[request.certType])
    .string(request.keyId)
    .bytes(principals.toBuffer())
    .u64(validAfter)
    .u64(validBefore)
    .bytes(encodeOptions(request.criticalOptions, 'critical option'))
    .bytes(encodeOptions(request.extensions, 'extension'))
    .bytes(Buffer.alloc(0))
    .bytes(caPrivateKey.publicKey.blob);
  const signed = w.toBuffer();
  const sig = signData(caPrivateKey, signed);
  const blob = Buffer.concat([signed, new WireWriter().bytes(sig).toBuffer()]);
  return parseCertificateInternal(blob);
}
