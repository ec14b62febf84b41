/**
 * Byte-level mutators shared by the certificate and protocol fuzzers, and the SSH wire encoding
 * (RFC 4251 §5) they need to rebuild a message after a field-aware mutation. Every mutator is
 * driven by an {@link Rng} only, so a case is reproducible from its seed.
 */
import type { Rng } from './prng.js';

export function sshString(body: Buffer | string): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  const len = Buffer.allocUnsafe(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

export function u32(v: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(v >>> 0);
  return b;
}

export function u64(v: bigint): Buffer {
  const b = Buffer.allocUnsafe(8);
  b.writeBigUInt64BE(BigInt.asUintN(64, v));
  return b;
}

/** Length values that break parsers: zero, off by one, sign bit, all ones, the input's size. */
export function interestingLength(rng: Rng, actual: number, total: number): number {
  return rng.pick([
    0,
    1,
    actual + 1,
    Math.max(0, actual - 1),
    total,
    total + 1,
    0x7fffffff,
    0x80000000,
    0xffffffff,
    0xfffffffe,
    0x10000,
    rng.next(),
  ]);
}

/** Strings that stress text handling: NUL, bad UTF-8, huge, control and format characters. */
export function interestingText(rng: Rng): Buffer {
  const long = (n: number): Buffer => Buffer.alloc(n, rng.pick(['a', '%', '\u00e9', '*']));
  return rng.pick<() => Buffer>([
    () => Buffer.alloc(0),
    () => Buffer.from('demo\0evil'),
    () => Buffer.from([0xff, 0xfe, 0xc0, 0x80]),
    () => Buffer.from('\x1b[2J\r\n\u202e'),
    () => long(256),
    () => long(257),
    () => long(4096),
    () => long(65_536),
    () => Buffer.from('*'),
    () => Buffer.from('demo,other'),
    () => Buffer.from('demo '),
    () => Buffer.from('DEMO'),
    () => Buffer.from('../../etc/passwd'),
    () => Buffer.from('%s%n%x'),
    () => Buffer.from('\ud83d\ude00'),
    () => rng.bytes(1 + rng.int(64)),
  ])();
}

/**
 * One random byte-level mutation: bit flips, byte changes, insertion, deletion, truncation,
 * duplication of a range, or a uint32 (likely a length field) set to an interesting value.
 */
export function mutateBytes(orig: Buffer, rng: Rng): Buffer {
  if (orig.length === 0) return rng.bytes(1 + rng.int(8));
  const pos = rng.int(orig.length);
  switch (rng.int(9)) {
    case 0:
      return Buffer.from(orig.subarray(0, rng.int(orig.length)));
    case 1: {
      const m = Buffer.from(orig);
      if (m.length < 4) return Buffer.concat([m, u32(rng.next())]);
      const at = Math.min(pos, m.length - 4);
      m.writeUInt32BE(interestingLength(rng, m.readUInt32BE(at), m.length) >>> 0, at);
      return m;
    }
    case 2:
      return Buffer.concat([orig, rng.bytes(1 + rng.int(16))]);
    case 3:
      return Buffer.concat([orig.subarray(0, pos), orig.subarray(pos + 1 + rng.int(8))]);
    case 4:
      return Buffer.concat([orig.subarray(0, pos), rng.bytes(1 + rng.int(8)), orig.subarray(pos)]);
    case 5: {
      const end = Math.min(orig.length, pos + 1 + rng.int(64));
      return Buffer.concat([orig.subarray(0, end), orig.subarray(pos, end), orig.subarray(end)]);
    }
    case 6: {
      const m = Buffer.from(orig);
      m[pos] = rng.pick([0, 0x7f, 0x80, 0xff, 1]);
      return m;
    }
    default: {
      const m = Buffer.from(orig);
      const n = 1 + rng.int(4);
      for (let i = 0; i < n; i++) {
        const p = i === 0 ? pos : rng.int(m.length);
        m[p] = rng.chance(0.5) ? m[p]! ^ (1 << rng.int(8)) : rng.next() & 0xff;
      }
      return m;
    }
  }
}

/** A top-level field of a wire message: a length-prefixed string or a fixed-size integer. */
export interface WireField {
  readonly kind: 'string' | 'u8' | 'u32' | 'u64';
  readonly value: Buffer;
}

/** Encodes fields back to bytes; string lengths are recomputed (so the result parses). */
export function encodeFields(fields: readonly WireField[]): Buffer {
  return Buffer.concat(fields.map((f) => (f.kind === 'string' ? sshString(f.value) : f.value)));
}

/** Reads `layout` from `buf`; returns undefined when the bytes do not fit it exactly. */
export function decodeFields(
  buf: Buffer,
  layout: readonly WireField['kind'][],
  start = 0,
): WireField[] | undefined {
  const out: WireField[] = [];
  let p = start;
  for (const kind of layout) {
    const size = kind === 'u8' ? 1 : kind === 'u32' ? 4 : kind === 'u64' ? 8 : -1;
    if (size > 0) {
      if (p + size > buf.length) return undefined;
      out.push({ kind, value: buf.subarray(p, p + size) });
      p += size;
      continue;
    }
    if (p + 4 > buf.length) return undefined;
    const len = buf.readUInt32BE(p);
    if (p + 4 + len > buf.length) return undefined;
    out.push({ kind, value: buf.subarray(p + 4, p + 4 + len) });
    p += 4 + len;
  }
  return p === buf.length ? out : undefined;
}

/** A list of length-prefixed strings (principals, name/value option pairs). */
export function encodeStrings(items: readonly (Buffer | string)[]): Buffer {
  return Buffer.concat(items.map((i) => sshString(i)));
}
