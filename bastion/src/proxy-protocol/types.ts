/**
 * The PROXY protocol header a load balancer puts in front of a TCP stream to say who the client
 * is (haproxy's `proxy-protocol.txt`, versions 1 and 2). The parser is pure and never throws: it
 * is handed the bytes read so far and says whether they hold a whole header, need more bytes, or
 * can never become a valid header.
 */

/** An endpoint named by the header. */
export interface ProxyEndpoint {
  /** Canonical text: dotted IPv4, compressed IPv6 (an IPv4-mapped IPv6 address reads as IPv4). */
  readonly ip: string;
  readonly port: number;
}

/**
 * What the header says. `proxied`: the connection was relayed for `source`, which stands for the
 * client from then on. `unproxied`: the balancer speaks for itself (its health checks, command
 * LOCAL) or gives no address (`UNSPEC`, v1 `UNKNOWN`): the socket's own address stays.
 */
export type ProxyHeader =
  | {
      readonly kind: 'proxied';
      readonly version: 1 | 2;
      readonly family: 'tcp4' | 'tcp6';
      readonly source: ProxyEndpoint;
      readonly destination: ProxyEndpoint;
    }
  | {
      readonly kind: 'unproxied';
      readonly version: 1 | 2;
      readonly reason: 'local' | 'unspecified';
    };

/** Why bytes can never be a valid header (bounded, safe to log). */
export type ProxyHeaderProblem =
  | 'not-a-proxy-header'
  | 'unsupported-version'
  | 'unsupported-command'
  | 'unsupported-family'
  | 'address-block-too-short'
  | 'too-long'
  | 'malformed-v1';

export type ProxyParseResult =
  /** The bytes so far are a valid beginning: read more (the caller's deadline bounds the wait). */
  | { readonly status: 'incomplete' }
  /** `length` bytes are the header; whatever follows them is the client's own data. */
  | { readonly status: 'complete'; readonly header: ProxyHeader; readonly length: number }
  | { readonly status: 'invalid'; readonly problem: ProxyHeaderProblem };

export interface ProxyParseOptions {
  /** Versions accepted. Default: both. */
  readonly versions?: readonly (1 | 2)[];
  /** Longest v2 header accepted, signature and TLVs included. Default {@link MAX_V2_HEADER_BYTES}. */
  readonly maxBytes?: number;
}

/**
 * Default cap of a v2 header. Its length field allows 65,551 bytes; the addresses take at most 52
 * (TCP over IPv6) and the TLVs cloud balancers add (AWS VPC endpoint id, Azure Private Link id,
 * GCP PSC connection id) take tens, so 4 KiB loses no real header and bounds what a socket
 * buffers before a single check.
 */
export const MAX_V2_HEADER_BYTES = 4096;
/** A v1 header is one line of at most 107 bytes, CRLF included (spec section 2.1). */
export const MAX_V1_HEADER_BYTES = 107;
