import { isIPv4, isIPv6 } from 'node:net';
import { malformed } from './errors.js';

/** Parses an IPv4 or IPv6 literal to 4 or 16 bytes; IPv4-mapped IPv6 becomes IPv4. */
export function parseIpAddress(text: string): Uint8Array | undefined {
  const s = text.includes('%') ? text.slice(0, text.indexOf('%')) : text;
  if (isIPv4(s)) return Uint8Array.from(s.split('.').map(Number));
  if (!isIPv6(s)) return undefined;
  const out = new Uint8Array(16);
  let tail: number[] = [];
  let body = s;
  const lastColon = s.lastIndexOf(':');
  const last = s.slice(lastColon + 1);
  if (last.includes('.')) {
    tail = last.split('.').map(Number);
    body = s.slice(0, lastColon + 1) + '0:0';
  }
  const [headText, restText] = body.split('::') as [string, string | undefined];
  const head = headText ? headText.split(':') : [];
  const rest = restText === undefined ? [] : restText ? restText.split(':') : [];
  const groups =
    restText === undefined
      ? head
      : [...head, ...new Array<string>(8 - head.length - rest.length).fill('0'), ...rest];
  if (groups.length !== 8) return undefined;
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  if (tail.length === 4) out.set(tail, 12);
  const mapped = out.subarray(0, 10).every((b) => b === 0) && out[10] === 0xff && out[11] === 0xff;
  return mapped ? out.slice(12) : out;
}

interface Cidr {
  readonly addr: Uint8Array;
  readonly bits: number;
}

function parseCidr(entry: string): Cidr {
  // OpenSSH allows only these characters in a source-address entry (no wildcards, no negation).
  if (entry.length === 0 || entry.length > 64 || !/^[0-9a-fA-F.:/]+$/.test(entry)) {
    throw malformed(`source-address: invalid entry ${JSON.stringify(entry.slice(0, 64))}`);
  }
  const slash = entry.indexOf('/');
  const addrText = slash < 0 ? entry : entry.slice(0, slash);
  const addr = parseIpAddress(addrText);
  if (!addr) throw malformed(`source-address: invalid address ${JSON.stringify(addrText)}`);
  const max = addr.length * 8;
  let bits = max;
  if (slash >= 0) {
    const lenText = entry.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lenText))
      throw malformed(`source-address: invalid prefix length in ${entry}`);
    bits = Number(lenText);
    // An IPv4-mapped IPv6 network keeps its meaning on the IPv4 side.
    if (addr.length === 4 && isIPv6(addrText)) bits -= 96;
    if (bits < 0 || bits > max)
      throw malformed(`source-address: invalid prefix length in ${entry}`);
  }
  // As OpenSSH: host bits set below the prefix is an error, not a silent mask.
  for (let i = 0; i < addr.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - 8 * i));
    const mask = keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff;
    if ((addr[i]! & ~mask & 0xff) !== 0)
      throw malformed(`source-address: ${entry} has host bits set`);
  }
  return { addr, bits };
}

function inCidr(addr: Uint8Array, cidr: Cidr): boolean {
  if (addr.length !== cidr.addr.length) return false;
  let bits = cidr.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((addr[i]! & mask) !== (cidr.addr[i]! & mask)) return false;
  }
  return true;
}

/**
 * Whether `address` matches OpenSSH's comma-separated `source-address` list of addresses and
 * CIDR networks (IPv4 and IPv6; an IPv4-mapped IPv6 client address matches IPv4 entries).
 * Throws SshCertError (`malformed`) when the list itself is invalid, as OpenSSH refuses such a
 * certificate; returns false for an address that is not an IP literal.
 */
export function matchSourceAddress(list: string, address: string): boolean {
  const entries = list.split(',').map(parseCidr);
  const addr = parseIpAddress(address);
  if (!addr) return false;
  return entries.some((c) => inCidr(addr, c));
}
