/**
 * The one place that reaches past ssh2's typed, public API. Each helper exists because ssh2
 * offers no public way to do its job; nothing else in the bastion touches ssh2 internals.
 */
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Connection, Server } from 'ssh2';

/**
 * The stream an ssh2 server-side connection runs on. ssh2's `connection` event hands over the
 * client and its address, never the stream, and for a ProxyJump virtual host the address is the
 * parent's, so the address cannot tell two hops apart. Only the private `_sock` (set once, in the
 * connection's constructor) links the connection to the stream the bastion injected.
 */
export function transportOf(client: Connection): object | undefined {
  return (client as unknown as { _sock?: object })._sock;
}

/**
 * Serves `stream` as one SSH connection of `server`. ssh2's `injectSocket` is typed for a
 * `net.Socket` but only needs a duplex stream; it reads the client address from the stream's
 * socket fields, so a stream that is not a socket (a jump channel) is given the address of the
 * TCP client behind it: `source-address` checks and logs need the real one.
 */
export function injectStream(
  server: Server,
  stream: Duplex,
  address?: { readonly ip: string; readonly port: number },
): void {
  if (address) {
    Object.assign(stream, {
      remoteAddress: address.ip,
      remotePort: address.port,
      remoteFamily: address.ip.includes(':') ? 'IPv6' : 'IPv4',
    });
  }
  server.injectSocket(stream as Socket);
}

interface ChannelWindow {
  readonly outgoing?: { packetSize?: number };
}

/**
 * Behind ProxyJump every inner SSH packet travels as data of the outer `direct-tcpip` channel.
 * Inner packets of the full 32 KiB plus their header and tag would each be split into two outer
 * packets (one tiny), doubling the per-packet work; capping the inner data size so that a whole
 * inner packet fits one outer packet keeps it one-to-one. ssh2 keeps the peer's maximum packet
 * size in the untyped `outgoing.packetSize`, reads it on every write and offers no setter.
 */
export function alignPacketSize(inner: unknown, outer: unknown): void {
  const i = (inner as ChannelWindow | undefined)?.outgoing;
  const o = (outer as ChannelWindow | undefined)?.outgoing;
  if (!i?.packetSize || !o?.packetSize) return;
  const fit = o.packetSize - 256;
  if (fit > 1024 && i.packetSize > fit) i.packetSize = fit;
}

/** RFC 4254 §5.1 reason codes; OpenSSH prints them as text ("administratively prohibited"). */
export interface ChannelOpenFailure {
  /** 1 administratively prohibited, 2 connect failed, 3 unknown channel type, 4 resource shortage. */
  readonly reason: 1 | 2 | 3 | 4;
  /** Shown by OpenSSH after the reason: `channel 2: open failed: <reason>: <description>`. */
  readonly description: string;
}

interface OpenFailSender {
  channelOpenFail(remote: number, reason: number, description: string): void;
}

/**
 * Refuses a channel with a reason and a description. ssh2's `reject()` takes neither (it sends
 * `connect failed` or `resource shortage` with an empty description), so for the duration of
 * that synchronous call the protocol's `channelOpenFail` is given ours; ssh2 keeps its own
 * bookkeeping (the reserved channel id is freed as usual).
 */
export function rejectWithReason(
  client: Connection,
  reject: () => void,
  failure: ChannelOpenFailure,
): void {
  const protocol = (client as unknown as { _protocol?: Partial<OpenFailSender> })._protocol;
  const original = protocol?.channelOpenFail;
  if (!protocol || typeof original !== 'function') return reject();
  const own = Object.prototype.hasOwnProperty.call(protocol, 'channelOpenFail');
  protocol.channelOpenFail = (remote: number) =>
    original.call(protocol, remote, failure.reason, failure.description);
  try {
    reject();
  } finally {
    if (own) protocol.channelOpenFail = original;
    else delete protocol.channelOpenFail;
  }
}
