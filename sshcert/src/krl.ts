import { createHash } from 'node:crypto';
import { SshCertError, malformed } from './errors.js';
import { parseNestedPublicKey } from './public-key.js';
import type { Certificate, Krl, KrlCertSection, KrlSpec, PublicKey } from './types.js';
import { WireReader, WireWriter, decodeCString } from './wire.js';

const MAGIC = Buffer.from('SSHKRL\n\0', 'latin1');
const FORMAT_VERSION = 1;

const SECTION_CERTIFICATES = 1;
const SECTION_EXPLICIT_KEY = 2;
const SECTION_FINGERPRINT_SHA1 = 3;
const SECTION_SIGNATURE = 4;
const SECTION_FINGERPRINT_SHA256 = 5;
const SECTION_EXTENSION = 255;

const CERT_SERIAL_LIST = 0x20;
const CERT_SERIAL_RANGE = 0x21;
const CERT_SERIAL_BITMAP = 0x22;
const CERT_KEY_ID = 0x23;
const CERT_EXTENSION = 0x39;

const U64_MAX = 0xffffffffffffffffn;

type Range = readonly [bigint, bigint];

/** Whether `serial` falls in sorted, disjoint inclusive ranges (binary search). */
function inRanges(ranges: readonly Range[], serial: bigint): boolean {
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const [a, b] = ranges[mid]!;
    if (serial < a) hi = mid - 1;
    else if (serial > b) lo = mid + 1;
    else return true;
  }
  return false;
}

class ParsedKrl implements Krl {
  readonly sections: readonly KrlCertSection[];
  private readonly sha256Set: ReadonlySet<string>;
  private readonly sha1Set: ReadonlySet<string>;
  private readonly keySet: ReadonlySet<string>;
  private readonly keyIdSets: readonly ReadonlySet<string>[];

  constructor(
    readonly version: bigint,
    readonly generatedDate: bigint,
    readonly comment: string,
    sections: readonly KrlCertSection[],
    readonly revokedKeys: readonly Buffer[],
    readonly revokedSha1: readonly Buffer[],
    readonly revokedSha256: readonly Buffer[],
  ) {
    // Ranges sorted and merged once, so a check is a binary search even for large KRLs.
    this.sections = sections.map((s) => ({ ...s, serialRanges: normaliseRanges(s.serialRanges) }));
    this.keyIdSets = sections.map((s) => new Set(s.keyIds));
    this.keySet = new Set(revokedKeys.map((b) => b.toString('base64')));
    this.sha1Set = new Set(revokedSha1.map((b) => b.toString('hex')));
    this.sha256Set = new Set(revokedSha256.map((b) => b.toString('hex')));
  }

  isKeyRevoked(key: PublicKey): boolean {
    const blob = key.blob;
    if (this.keySet.size > 0 && this.keySet.has(blob.toString('base64'))) return true;
    if (
      this.sha256Set.size > 0 &&
      this.sha256Set.has(createHash('sha256').update(blob).digest('hex'))
    ) {
      return true;
    }
    return this.sha1Set.size > 0 && this.sha1Set.has(createHash('sha1').update(blob).digest('hex'));
  }

  /**
   * As OpenSSH's ssh_krl_check_key: the certified key, the CA key, then key ids and serials of
   * sections for that CA (or any CA). Serial 0 is never revoked by serial.
   */
  isRevoked(cert: Certificate): boolean {
    if (this.isKeyRevoked(cert.publicKey) || this.isKeyRevoked(cert.signatureKey)) return true;
    const caBlob = cert.signatureKey.blob;
    for (let i = 0; i < this.sections.length; i++) {
      const s = this.sections[i]!;
      if (s.caKey && !s.caKey.blob.equals(caBlob)) continue;
      if (this.keyIdSets[i]!.has(cert.keyId)) return true;
      if (cert.serial !== 0n && inRanges(s.serialRanges, cert.serial)) return true;
    }
    return false;
  }
}

function readExtension(r: WireReader, where: string): void {
  const name = r.cstring(`${where} extension name`);
  const critical = r.bool(`${where} extension critical flag`);
  r.bytes(`${where} extension contents`);
  r.done(`${where} extension`);
  if (critical) throw malformed(`${where}: unsupported critical extension ${JSON.stringify(name)}`);
}

function parseCertSection(r: WireReader): KrlCertSection {
  const caBlob = r.bytes('KRL CA key');
  const caKey = caBlob.length === 0 ? undefined : parseNestedPublicKey(caBlob, 'KRL CA key');
  r.bytes('KRL reserved');
  const ranges: Range[] = [];
  const keyIds: string[] = [];
  while (r.remaining > 0) {
    const type = r.u8('KRL certificate subsection type');
    const sub = r.sub('KRL certificate subsection');
    switch (type) {
      case CERT_SERIAL_LIST:
        while (sub.remaining > 0) {
          const s = sub.u64('KRL serial');
          if (s === 0n) throw malformed('KRL: serial 0 cannot be revoked');
          ranges.push([s, s]);
        }
        break;
      case CERT_SERIAL_RANGE: {
        const lo = sub.u64('KRL serial range');
        const hi = sub.u64('KRL serial range');
        sub.done('KRL serial range');
        if (lo === 0n || lo > hi) throw malformed('KRL: invalid serial range');
        ranges.push([lo, hi]);
        break;
      }
      case CERT_SERIAL_BITMAP: {
        const offset = sub.u64('KRL bitmap offset');
        const bitmap = sub.mpintPositive('KRL bitmap');
        sub.done('KRL bitmap');
        const nbits = bitmap.length * 8;
        let runStart = -1;
        for (let i = 0; i <= nbits; i++) {
          const set = i < nbits && (bitmap[bitmap.length - 1 - (i >> 3)]! & (1 << (i & 7))) !== 0;
          if (set && runStart < 0) runStart = i;
          if (!set && runStart >= 0) {
            const lo = offset + BigInt(runStart);
            const hi = offset + BigInt(i - 1);
            if (lo === 0n || hi > U64_MAX) throw malformed('KRL: bitmap serial out of range');
            ranges.push([lo, hi]);
            runStart = -1;
          }
        }
        break;
      }
      case CERT_KEY_ID:
        while (sub.remaining > 0) keyIds.push(sub.cstring('KRL key id'));
        break;
      case CERT_EXTENSION:
        readExtension(sub, 'KRL certificate section');
        break;
      default:
        throw malformed(`KRL: unknown certificate subsection type 0x${type.toString(16)}`);
    }
  }
  return caKey ? { caKey, serialRanges: ranges, keyIds } : { serialRanges: ranges, keyIds };
}

function readHashes(r: WireReader, size: number, what: string, into: Buffer[]): void {
  let prev: Buffer | undefined;
  while (r.remaining > 0) {
    const h = r.bytes(what);
    if (h.length !== size) throw malformed(`${what}: ${h.length} bytes, expected ${size}`);
    // PROTOCOL.krl: hashes appear in numeric order.
    if (prev && Buffer.compare(prev, h) > 0) throw malformed(`${what}: not sorted`);
    prev = h;
    into.push(h);
  }
}

/**
 * Parses a binary KRL (`ssh-keygen -k` output). A trailing signature section is read and
 * ignored (the KRL's transport is trusted); a critical extension we do not know is an error.
 */
export function parseKrl(blob: Buffer): Krl {
  if (!Buffer.isBuffer(blob)) throw malformed('KRL must be a Buffer');
  if (blob.length < MAGIC.length || !blob.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw malformed('not a KRL (bad magic)');
  }
  const r = new WireReader(blob, MAGIC.length);
  const format = r.u32('KRL format version');
  if (format !== FORMAT_VERSION) throw malformed(`unsupported KRL format version ${format}`);
  const version = r.u64('KRL version');
  const generatedDate = r.u64('KRL date');
  r.u64('KRL flags');
  r.bytes('KRL reserved');
  const comment = decodeCString(r.bytes('KRL comment'), 'KRL comment');
  const sections: KrlCertSection[] = [];
  const keys: Buffer[] = [];
  const sha1: Buffer[] = [];
  const sha256: Buffer[] = [];
  let sawSignature = false;
  while (r.remaining > 0) {
    const type = r.u8('KRL section type');
    if (type === SECTION_SIGNATURE) {
      r.bytes('KRL signature key');
      r.bytes('KRL signature');
      sawSignature = true;
      continue;
    }
    if (sawSignature) throw malformed('KRL: sections after the signature');
    const sub = r.sub('KRL section');
    switch (type) {
      case SECTION_CERTIFICATES:
        sections.push(parseCertSection(sub));
        break;
      case SECTION_EXPLICIT_KEY:
        while (sub.remaining > 0) {
          const k = sub.bytes('KRL revoked key');
          if (k.length === 0) throw malformed('KRL: empty revoked key');
          keys.push(k);
        }
        break;
      case SECTION_FINGERPRINT_SHA1:
        readHashes(sub, 20, 'KRL SHA1 hash', sha1);
        break;
      case SECTION_FINGERPRINT_SHA256:
        readHashes(sub, 32, 'KRL SHA256 hash', sha256);
        break;
      case SECTION_EXTENSION:
        readExtension(sub, 'KRL');
        break;
      default:
        throw malformed(`KRL: unknown section type ${type}`);
    }
  }
  return new ParsedKrl(version, generatedDate, comment, sections, keys, sha1, sha256);
}

function normaliseRanges(ranges: readonly Range[]): Range[] {
  const sorted = [...ranges].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const out: [bigint, bigint][] = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1n) {
      if (hi > last[1]) last[1] = hi;
    } else {
      out.push([lo, hi]);
    }
  }
  return out;
}

/**
 * Builds a binary KRL that `ssh-keygen -Q -f` reads. Serials must be 1..2^64-1 (OpenSSH cannot
 * revoke serial 0). Unsigned: distribute it over a trusted channel.
 */
export function createKrl(spec: KrlSpec): Buffer {
  const bad = (msg: string): never => {
    throw new SshCertError('invalid-request', msg);
  };
  const now = spec.now ?? new Date();
  const w = new WireWriter()
    .raw(MAGIC)
    .u32(FORMAT_VERSION)
    .u64(spec.version ?? 1n)
    .u64(BigInt(Math.floor(now.getTime() / 1000)))
    .u64(0n)
    .string('')
    .string(spec.comment ?? '');
  for (const section of spec.certSections ?? []) {
    for (const [lo, hi] of section.serialRanges) {
      if (lo < 1n || hi > U64_MAX || lo > hi)
        bad(`invalid serial range ${lo}-${hi}: serials are 1..2^64-1`);
    }
    for (const id of section.keyIds) {
      if (id.length === 0 || id.includes('\0')) bad('key ids must be non-empty and contain no NUL');
    }
    if (section.serialRanges.length === 0 && section.keyIds.length === 0) continue;
    const body = new WireWriter()
      .bytes(section.caKey ? section.caKey.blob : Buffer.alloc(0))
      .string('');
    const ranges = normaliseRanges(section.serialRanges);
    const singles = ranges.filter(([lo, hi]) => lo === hi);
    if (singles.length > 0) {
      const list = new WireWriter();
      for (const [s] of singles) list.u64(s);
      body.u8(CERT_SERIAL_LIST).bytes(list.toBuffer());
    }
    for (const [lo, hi] of ranges) {
      if (lo !== hi) body.u8(CERT_SERIAL_RANGE).bytes(new WireWriter().u64(lo).u64(hi).toBuffer());
    }
    const ids = [...new Set(section.keyIds)].sort();
    if (ids.length > 0) {
      const list = new WireWriter();
      for (const id of ids) list.string(id);
      body.u8(CERT_KEY_ID).bytes(list.toBuffer());
    }
    w.u8(SECTION_CERTIFICATES).bytes(body.toBuffer());
  }
  if (spec.revokedKeys && spec.revokedKeys.length > 0) {
    const list = new WireWriter();
    for (const k of spec.revokedKeys) list.bytes(k.blob);
    w.u8(SECTION_EXPLICIT_KEY).bytes(list.toBuffer());
  }
  if (spec.revokedSha256 && spec.revokedSha256.length > 0) {
    const hashes = spec.revokedSha256
      .map((k) => createHash('sha256').update(k.blob).digest())
      .sort((a, b) => Buffer.compare(a, b))
      .filter((h, i, all) => i === 0 || !h.equals(all[i - 1]!));
    const list = new WireWriter();
    for (const h of hashes) list.bytes(h);
    w.u8(SECTION_FINGERPRINT_SHA256).bytes(list.toBuffer());
  }
  return w.toBuffer();
}
