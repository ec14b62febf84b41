/**
 * SSH wire encoding (RFC 4251 §5): a bounds-checked reader that returns views into its input
 * (never copies, never allocates from a length field) and a small writer.
 */
import { isUtf8 } from 'node:buffer';
import { malformed } from './errors.js';

export class WireReader {
  private pos: number;
  private readonly end: number;

  constructor(
    readonly buf: Buffer,
    start = 0,
    end = buf.length,
  ) {
    this.pos = start;
    this.end = end;
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** Throws unless everything was consumed: trailing bytes are never silently accepted. */
  done(what: string): void {
    if (this.pos !== this.end) throw malformed(`${what}: ${this.end - this.pos} trailing bytes`);
  }

  private need(n: number, what: string): void {
    if (n > this.end - this.pos) throw malformed(`${what}: truncated`);
  }

  u8(what = 'byte'): number {
    this.need(1, what);
    return this.buf[this.pos++]!;
  }

  u32(what = 'uint32'): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  u64(what = 'uint64'): bigint {
    this.need(8, what);
    const v = this.buf.readBigUInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  bool(what = 'boolean'): boolean {
    return this.u8(what) !== 0;
  }

  /** A length-prefixed string as a view of the input. */
  bytes(what = 'string'): Buffer {
    const len = this.u32(what);
    this.need(len, what);
    const start = this.pos;
    this.pos += len;
    return this.buf.subarray(start, this.pos);
  }

  /** Start/end offsets of a length-prefixed string, for nested readers without a view. */
  span(what = 'string'): [number, number] {
    const len = this.u32(what);
    this.need(len, what);
    const start = this.pos;
    this.pos += len;
    return [start, this.pos];
  }

  /** A nested reader over the next length-prefixed string. */
  sub(what = 'string'): WireReader {
    const [s, e] = this.span(what);
    return new WireReader(this.buf, s, e);
  }

  /** ASCII/UTF-8 text, refusing invalid UTF-8 and embedded NULs (OpenSSH reads C strings). */
  cstring(what = 'string'): string {
    const b = this.bytes(what);
    return decodeCString(b, what);
  }

  /** An mpint that must be non-negative and minimally encoded; returns its magnitude bytes. */
  mpintPositive(what = 'mpint'): Buffer {
    const b = this.bytes(what);
    if (b.length === 0) return b;
    if (b[0]! & 0x80) throw malformed(`${what}: negative`);
    if (b[0] === 0) {
      if (b.length === 1 || !(b[1]! & 0x80)) throw malformed(`${what}: not minimally encoded`);
      return b.subarray(1);
    }
    return b;
  }
}

export function decodeCString(b: Buffer, what: string): string {
  if (b.includes(0)) throw malformed(`${what}: contains NUL`);
  if (!isUtf8(b)) throw malformed(`${what}: invalid UTF-8`);
  return b.toString('utf8');
}

export class WireWriter {
  private readonly parts: Buffer[] = [];
  private len = 0;

  raw(b: Buffer): this {
    this.parts.push(b);
    this.len += b.length;
    return this;
  }

  u8(v: number): this {
    return this.raw(Buffer.from([v & 0xff]));
  }

  u32(v: number): this {
    const b = Buffer.allocUnsafe(4);
    b.writeUInt32BE(v >>> 0);
    return this.raw(b);
  }

  u64(v: bigint): this {
    const b = Buffer.allocUnsafe(8);
    b.writeBigUInt64BE(BigInt.asUintN(64, v));
    return this.raw(b);
  }

  bool(v: boolean): this {
    return this.u8(v ? 1 : 0);
  }

  bytes(b: Buffer | Uint8Array): this {
    const buf = Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    this.u32(buf.length);
    return this.raw(buf);
  }

  string(s: string): this {
    return this.bytes(Buffer.from(s, 'utf8'));
  }

  /** Positive mpint from big-endian magnitude bytes (leading zeros stripped, 0x00 added if needed). */
  mpint(magnitude: Buffer): this {
    let i = 0;
    while (i < magnitude.length && magnitude[i] === 0) i++;
    const m = magnitude.subarray(i);
    if (m.length > 0 && m[0]! & 0x80) {
      this.u32(m.length + 1);
      this.raw(Buffer.from([0]));
      return this.raw(m);
    }
    return this.bytes(m);
  }

  get length(): number {
    return this.len;
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.parts, this.len);
  }

  /**
   * The same bytes in memory of their own. A small `toBuffer()` result is a slice of Buffer's
   * shared 8 KiB pool, and a value cached for as long as a connection lives would keep the
   * whole slab alive: one slab per session held by the bastion.
   */
  toStandaloneBuffer(): Buffer {
    const out = Buffer.allocUnsafeSlow(this.len);
    let at = 0;
    for (const part of this.parts) at += part.copy(out, at);
    return out;
  }
}

export function bigintToBytes(v: bigint): Buffer {
  if (v === 0n) return Buffer.alloc(0);
  let hex = v.toString(16);
  if (hex.length % 2) hex = '0' + hex;
  return Buffer.from(hex, 'hex');
}

export function bytesToBigint(b: Buffer): bigint {
  return b.length === 0 ? 0n : BigInt('0x' + b.toString('hex'));
}

/** Strict base64 (standard alphabet, padding as produced by encoders) to bytes. */
export function decodeBase64Strict(s: string, what: string): Buffer {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) {
    throw malformed(`${what}: invalid base64`);
  }
  return Buffer.from(s, 'base64');
}
