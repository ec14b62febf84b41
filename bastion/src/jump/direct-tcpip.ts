/**
 * The forwarding step. ProxyJump without TCP: a `direct-tcpip` channel to `<app>.neetodeploy:22`
 * is served by the in-process SSH server as if it were a socket, where the certificate is
 * authenticated again for that app. Every other target is refused and logged.
 */
import type { AcceptConnection, RejectConnection, ServerChannel, TcpipRequestInfo } from 'ssh2';
import { virtualHostApp } from '../auth/index.js';
import type { ConnectionScope } from '../connection/index.js';
import { EVENTS } from '../events.js';
import type { BastionMetrics } from '../metrics/index.js';

export interface JumpDeps {
  readonly suffix: string;
  readonly metrics: BastionMetrics;
}

export function handleDirectTcpip(
  accept: AcceptConnection<ServerChannel>,
  reject: RejectConnection,
  request: TcpipRequestInfo,
  scope: ConnectionScope,
  deps: JumpDeps,
): void {
  const { conn, logger } = scope;
  const app = conn.info.kind === 'direct' ? virtualHostApp(request.destIP, deps.suffix) : undefined;
  if (app === undefined || request.destPort !== 22) {
    deps.metrics.refusedChannels.inc({ type: 'direct-tcpip' });
    logger.warn(
      {
        event: EVENTS.channelRejected,
        channel: 'direct-tcpip',
        dest: `${request.destIP}:${request.destPort}`,
        user: conn.identity.user,
        nested: conn.info.kind === 'jump',
      },
      'forwarding refused: only <app>' + deps.suffix + ':22 is served',
    );
    reject();
    return;
  }
  logger.info({ event: EVENTS.jumpOpen, app, user: conn.identity.user }, 'jump to virtual host');
  const channel = accept();
  channel.on('error', () => undefined);
  scope.serveVirtualHost(channel, app);
}
