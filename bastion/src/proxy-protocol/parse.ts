/**
 * PROXY protocol v1 and v2 headers (haproxy's `proxy-protocol.txt`), parsed from the bytes read
 * so far. Strict: anything the spec does not define, or that this bastion cannot use, is
 * `invalid`, never guessed at. Invalid bytes are reported as early as they can be told apart, so
 * a client that speaks SSH straight to a listener expecting a header is refused at its first
 * byte, not after a deadline.
 */
import { isIPv4, isIPv6, SocketAddress } from 'node:net';
import type {
  ProxyHeader,
  ProxyHeaderProblem,
  ProxyParseOptions,
  ProxyParseResult,
} from './types.js';
import { MAX_V1_HEADER_BYTES, MAX_V2_HEADER_BYTES } from './types.js';

const V2_SIGNATURE = Uint8Array.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);
const V1_PREFIX = Uint8Array.from(Buffer.from('PROXY ', 'ascii'));
/** Signature, version and command, family and transport, length. */
const V2_FIXED_BYTES = 16;
const V2_COMMAND_LOCAL = 0x0;
const V2_COMMAND_PROXY = 0x1;
const V2_TCP4 = 0x11;
const V2_TCP6 = 0x21;
/** Source and destination addresses, then source and destination ports. */
const V2_TCP4_ADDRESS_BYTES = 12;
const V2_TCP6_ADDRESS_BYTES = 36;

const INCOMPLETE: ProxyParseResult = { status: 'incomplete' };
const invalid = (problem: ProxyHeaderProblem): ProxyParseResult => ({ status: 'invalid', problem });
const complete = (header: ProxyHeader, length: number): ProxyParseResult => ({
  status: 'complete',
  header,
  length,
});

/** Whether `bytes` could still grow into something starting with `prefix`. */
function startsLike(bytes: Uint8Array, prefix: Uint8Array): boolean {
  const n = Math.min(bytes.length, prefix.length);
  for (let i = 0; i < n; i++) if (bytes[i] !== prefix[i]) return false;
  return true;
}

/** 4 or 16 address bytes as canonical text; an IPv4-mapped IPv6 address reads as IPv4. */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return bytes.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return canonicalIp(groups.join(':'), 'ipv6');
}

function canonicalIp(text: string, family: 'ipv4' | 'ipv6'): string {
  const address = new SocketAddress({ address: text, family }).address;
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

function parseV2(bytes: Uint8Array, maxBytes: number): ProxyParseResult {
  if (bytes.length <= V2_SIGNATURE.length) return INCOMPLETE;
  const versionCommand = bytes[12]!;
  if (versionCommand >> 4 !== 0x2) return invalid('unsupported-version');
  const command = versionCommand & 0x0f;
  if (command !== V2_COMMAND_LOCAL && command !== V2_COMMAND_PROXY) {
    return invalid('unsupported-command');
  }
  if (bytes.length < V2_FIXED_BYTES) return INCOMPLETE;
  const length = V2_FIXED_BYTES + ((bytes[14]! << 8) | bytes[15]!);
  if (length > maxBytes) return invalid('too-long');
  if (bytes.length < length) return INCOMPLETE;
  // LOCAL: the balancer's own connection (a health check); the spec says to ignore the rest.
  if (command === V2_COMMAND_LOCAL) {
    return complete({ kind: 'unproxied', version: 2, reason: 'local' }, length);
  }
  const familyTransport = bytes[13]!;
  if (familyTransport >> 4 === 0x0) {
    return complete({ kind: 'unproxied', version: 2, reason: 'unspecified' }, length);
  }
  // The spec lets a receiver fall back to the socket's address for families it does not
  // implement. A TCP listener handed a UDP or unix-socket header has a misconfigured balancer in
  // front of it; falling back would merge every client under the balancer's address for the
  // per-source limits, so the connection is refused instead.
  const v4 = familyTransport === V2_TCP4;
  if (!v4 && familyTransport !== V2_TCP6) return invalid('unsupported-family');
  const need = v4 ? V2_TCP4_ADDRESS_BYTES : V2_TCP6_ADDRESS_BYTES;
  if (length - V2_FIXED_BYTES < need) return invalid('address-block-too-short');
  const size = v4 ? 4 : 16;
  const at = V2_FIXED_BYTES;
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  const ports = at + 2 * size;
  // TLVs after the addresses are skipped: nothing here needs what they carry.
  return complete(
    {
      kind: 'proxied',
      version: 2,
      family: v4 ? 'tcp4' : 'tcp6',
      source: { ip: formatIp(bytes.subarray(at, at + size)), port: view.readUInt16BE(ports) },
      destination: {
        ip: formatIp(bytes.subarray(at + size, at + 2 * size)),
        port: view.readUInt16BE(ports + 2),
      },
    },
    length,
  );
}

/** A v1 port: decimal 0-65535 without leading zeros. */
function parsePort(text: string): number | undefined {
  if (!/^(0|[1-9][0-9]{0,4})$/.test(text)) return undefined;
  const port = Number(text);
  return port <= 65535 ? port : undefined;
}

function parseV1(bytes: Uint8Array): ProxyParseResult {
  const window = Math.min(bytes.length, MAX_V1_HEADER_BYTES);
  let end = -1;
  for (let i = 0; i < window; i++) {
    const b = bytes[i]!;
    if (b === 0x0d && i + 1 < bytes.length && bytes[i + 1] === 0x0a) {
      end = i;
      break;
    }
    // Printable ASCII only; a lone CR may still be followed by its LF.
    if (b === 0x0d && i + 1 === bytes.length) break;
    if (b < 0x20 || b > 0x7e) return invalid('malformed-v1');
  }
  if (end < 0) return bytes.length >= MAX_V1_HEADER_BYTES ? invalid('too-long') : INCOMPLETE;
  const length = end + 2;
  const fields = Buffer.from(bytes.subarray(0, end)).toString('latin1').split(' ');
  if (fields[1] === 'UNKNOWN') {
    return complete({ kind: 'unproxied', version: 1, reason: 'unspecified' }, length);
  }
  if (fields.length !== 6) return invalid('malformed-v1');
  const [, protocol, src, dst, srcPort, dstPort] = fields as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const isIp = protocol === 'TCP4' ? isIPv4 : protocol === 'TCP6' ? isIPv6 : undefined;
  if (!isIp) return invalid('unsupported-family');
  const sourcePort = parsePort(srcPort);
  const destinationPort = parsePort(dstPort);
  if (!isIp(src) || !isIp(dst) || sourcePort === undefined || destinationPort === undefined) {
    return invalid('malformed-v1');
  }
  const family = protocol === 'TCP4' ? 'ipv4' : 'ipv6';
  return complete(
    {
      kind: 'proxied',
      version: 1,
      family: protocol === 'TCP4' ? 'tcp4' : 'tcp6',
      source: { ip: canonicalIp(src, family), port: sourcePort },
      destination: { ip: canonicalIp(dst, family), port: destinationPort },
    },
    length,
  );
}

/**
 * Parses the PROXY header at the start of `bytes` (everything read from the socket so far).
 * Never throws. `complete` gives the header's length: the bytes after it belong to the client.
 */
export function parseProxyHeader(
  bytes: Uint8Array,
  options: ProxyParseOptions = {},
): ProxyParseResult {
  const versions = options.versions ?? [1, 2];
  const maxBytes = options.maxBytes ?? MAX_V2_HEADER_BYTES;
  // The first byte tells the versions apart (CR for v2, `P` for v1).
  if (bytes.length === 0) return INCOMPLETE;
  if (versions.includes(2) && startsLike(bytes, V2_SIGNATURE)) return parseV2(bytes, maxBytes);
  if (versions.includes(1) && startsLike(bytes, V1_PREFIX)) return parseV1(bytes);
  return invalid('not-a-proxy-header');
}
