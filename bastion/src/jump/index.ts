/**
 * ProxyJump without TCP: a `direct-tcpip` channel to `<app>.neetodeploy:22` is handed to the
 * in-process SSH server as if it were a socket (ssh2 `injectSocket`), where the certificate is
 * authenticated again for that app. Every other target is refused and logged.
 */
import type { AcceptConnection, RejectConnection, ServerChannel, TcpipRequestInfo } from 'ssh2';
import type { Logger } from 'pino';
import { virtualHostApp } from '../auth/index.js';
import { EVENTS } from '../events.js';
import type { BastionMetrics } from '../metrics/index.js';
import type { AuthenticatedConnection } from '../types.js';

export interface JumpDeps {
  readonly suffix: string;
  readonly logger: Logger;
  readonly metrics: BastionMetrics;
  /** Serves the channel as an SSH connection to the virtual host of `app`. */
  readonly serveVirtualHost: (
    channel: ServerChannel,
    app: string,
    parent: AuthenticatedConnection,
  ) => void;
}

export function handleDirectTcpip(
  accept: AcceptConnection<ServerChannel>,
  reject: RejectConnection,
  request: TcpipRequestInfo,
  conn: AuthenticatedConnection,
  deps: JumpDeps,
): void {
  const app = conn.info.kind === 'direct' ? virtualHostApp(request.destIP, deps.suffix) : undefined;
  if (app === undefined || request.destPort !== 22) {
    deps.metrics.refusedChannels.inc({ type: 'direct-tcpip' });
    deps.logger.warn(
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
  deps.logger.info(
    { event: EVENTS.jumpOpen, app, user: conn.identity.user },
    'jump to virtual host',
  );
  const channel = accept();
  channel.on('error', () => undefined);
  deps.serveVirtualHost(channel, app, conn);
}
