/**
 * `direct-tcpip` channels. ProxyJump without TCP: a channel of a direct connection to
 * `<app>.neetodeploy:22` is served by the in-process SSH server as if it were a socket, where the
 * certificate is authenticated again for that app. Every other destination is a port forward,
 * which `forward/` serves to `localhost:PORT` inside the connection's target or refuses with a
 * reason the client prints.
 */
import type { AcceptConnection, ServerChannel, TcpipRequestInfo } from 'ssh2';
import { virtualHostApp } from '../auth/index.js';
import type { ConnectionScope } from '../connection/index.js';
import { EVENTS } from '../events.js';
import { handleForward, type ForwardDeps } from '../forward/index.js';
import type { BastionMetrics } from '../metrics/index.js';
import type { ChannelOpenFailure } from '../ssh2-internals.js';
import type { AuthenticatedConnection } from '../types.js';

export interface JumpDeps {
  readonly suffix: string;
  readonly metrics: BastionMetrics;
  readonly forward: ForwardDeps;
}

/** The app whose virtual host a request asks for (ProxyJump), or undefined for a port forward. */
export function jumpTarget(
  request: TcpipRequestInfo,
  conn: AuthenticatedConnection,
  suffix: string,
): string | undefined {
  // A virtual host does not jump again: its channels can only be port forwards.
  if (conn.info.kind !== 'direct' || request.destPort !== 22) return undefined;
  return virtualHostApp(request.destIP, suffix);
}

export function handleDirectTcpip(
  accept: AcceptConnection<ServerChannel>,
  reject: (failure?: ChannelOpenFailure) => void,
  request: TcpipRequestInfo,
  scope: ConnectionScope,
  deps: JumpDeps,
): void {
  const { conn, logger } = scope;
  const app = jumpTarget(request, conn, deps.suffix);
  if (app === undefined) {
    const refuse = (failure?: ChannelOpenFailure): void => {
      deps.metrics.refusedChannels.inc({ type: 'direct-tcpip' });
      logger.warn(
        {
          event: EVENTS.channelRejected,
          channel: 'direct-tcpip',
          dest: `${request.destIP}:${request.destPort}`,
          user: conn.identity.user,
          nested: conn.info.kind === 'jump',
        },
        'forwarding refused',
      );
      reject(failure);
    };
    handleForward(accept, refuse, request, scope, deps.forward);
    return;
  }
  logger.info({ event: EVENTS.jumpOpen, app, user: conn.identity.user }, 'jump to virtual host');
  const channel = accept();
  channel.on('error', () => undefined);
  scope.serveVirtualHost(channel, app);
}
