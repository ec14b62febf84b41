/**
 * What carries a connection: a TCP socket the server admitted, or the `direct-tcpip` channel of
 * a parent connection serving a ProxyJump virtual host.
 */
import { randomUUID } from 'node:crypto';
import type { Socket } from 'node:net';
import type { ServerChannel } from 'ssh2';
import type { Admitted } from '../limits/index.js';
import type { AuthenticatedConnection, ConnectionInfo } from '../types.js';
import type { Transport } from './types.js';

/** ssh2 and the limits attach several listeners per transport; more is not a leak. */
const TRANSPORT_LISTENERS = 50;

/** `::ffff:10.0.0.1` → `10.0.0.1`, so IPv4 clients read the same in limits, checks and logs. */
export function normalizeIp(ip: string | undefined): string {
  if (!ip) return 'unknown';
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

/**
 * An admitted TCP client at `client`: the socket's peer, or the address a trusted load balancer
 * gave in a PROXY protocol header (the socket's peer is then the balancer).
 */
export function directTransport(
  socket: Socket,
  client: { readonly ip: string; readonly port: number },
  admitted: Admitted,
  startedAt: Date,
): Transport {
  const info: ConnectionInfo = {
    id: randomUUID(),
    ip: client.ip,
    port: client.port,
    kind: 'direct',
    transport: [socket],
    startedAt,
  };
  socket.setMaxListeners(TRANSPORT_LISTENERS);
  return { info, stream: socket, admitted, kill: () => socket.destroy() };
}

/** The jump channel `channel` of `carrier`, to be served as the virtual host of `app`. */
export function virtualHostTransport(
  channel: ServerChannel,
  app: string,
  carrier: AuthenticatedConnection,
  startedAt: Date,
): Transport {
  const parent = carrier.info;
  const info: ConnectionInfo = {
    id: randomUUID(),
    ip: parent.ip,
    port: parent.port,
    kind: 'jump',
    virtualHostApp: app,
    parentId: parent.id,
    transport: [channel, ...parent.transport],
    startedAt,
  };
  // A killed client ends the outer channel; end ours too or the inner session lingers.
  channel.on('end', () => channel.end());
  channel.setMaxListeners(TRANSPORT_LISTENERS);
  // Closing the channel (not destroying the stream) tells the client's jump hop it is over.
  return {
    info,
    stream: channel,
    carrierCertificate: carrier.identity.certificate,
    kill: () => channel.close(),
  };
}
