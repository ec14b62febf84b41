/**
 * PROXY protocol headers written from the spec (haproxy's `proxy-protocol.txt`), independently
 * of the bastion's parser, for its tests and for the test balancer.
 */
import { isIPv4 } from 'node:net';

export const V2_SIGNATURE = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');

function ipBytes(ip: string): Buffer {
  if (isIPv4(ip)) return Buffer.from(ip.split('.').map(Number));
  // Test addresses are written out in full (8 groups), so no `::` to expand here.
  const groups = ip.split(':');
  if (groups.length !== 8) throw new Error(`write ${ip} with 8 groups`);
  return Buffer.concat(groups.map((g) => Buffer.from(g.padStart(4, '0'), 'hex')));
}

export interface V2Spec {
  readonly command?: 'local' | 'proxy';
  readonly source?: { ip: string; port: number };
  readonly destination?: { ip: string; port: number };
  /** Overrides the family/transport byte (0x11 TCP4, 0x21 TCP6 by default). */
  readonly familyByte?: number;
  /** Bytes after the addresses (TLVs). */
  readonly tlvs?: Buffer;
  /** Overrides the version/command byte. */
  readonly versionCommandByte?: number;
  /** Overrides the length field. */
  readonly length?: number;
}

export function v2Header(spec: V2Spec = {}): Buffer {
  const source = spec.source ?? { ip: '203.0.113.7', port: 51234 };
  const destination = spec.destination ?? { ip: '10.0.0.5', port: 22 };
  const command = spec.command ?? 'proxy';
  let addresses = Buffer.alloc(0);
  let family = 0x00;
  if (command === 'proxy' || spec.familyByte !== undefined) {
    const src = ipBytes(source.ip);
    const dst = ipBytes(destination.ip);
    const ports = Buffer.alloc(4);
    ports.writeUInt16BE(source.port, 0);
    ports.writeUInt16BE(destination.port, 2);
    addresses = Buffer.concat([src, dst, ports]);
    family = src.length === 4 ? 0x11 : 0x21;
  }
  const body = Buffer.concat([addresses, spec.tlvs ?? Buffer.alloc(0)]);
  const fixed = Buffer.alloc(4);
  fixed[0] = spec.versionCommandByte ?? (command === 'proxy' ? 0x21 : 0x20);
  fixed[1] = spec.familyByte ?? family;
  fixed.writeUInt16BE(spec.length ?? body.length, 2);
  return Buffer.concat([V2_SIGNATURE, fixed, body]);
}

/** A TLV: type, 16-bit length, value. */
export function tlv(type: number, value: Buffer): Buffer {
  const head = Buffer.alloc(3);
  head[0] = type;
  head.writeUInt16BE(value.length, 1);
  return Buffer.concat([head, value]);
}
