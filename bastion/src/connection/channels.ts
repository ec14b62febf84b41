/**
 * Channel open: every channel an authenticated client asks for is counted against the
 * connection's budget and handed to its step; global requests and streamlocal channels are
 * refused and logged.
 */
import type { Connection } from 'ssh2';
import type { Logger } from 'pino';
import { EVENTS } from '../events.js';
import type { ChannelBudget } from '../limits/index.js';
import type { BastionMetrics } from '../metrics/index.js';
import { rejectWithReason, type ChannelOpenFailure } from '../ssh2-internals.js';
import type { ChannelSteps, ConnectionScope } from './types.js';

export interface ChannelRouting {
  /** The scope once authenticated; undefined before. */
  readonly scope: () => ConnectionScope | undefined;
  readonly budget: ChannelBudget;
  readonly steps: ChannelSteps;
  readonly draining: () => boolean;
  readonly metrics: BastionMetrics;
  readonly logger: Logger;
}

export function routeChannels(client: Connection, r: ChannelRouting): void {
  const admit = (type: string): ConnectionScope | undefined => {
    const scope = r.scope();
    if (!scope || r.draining()) return undefined;
    if (r.budget.tryReserve()) return scope;
    r.metrics.limitRejections.inc({ limit: 'channels-per-connection' });
    r.logger.warn(
      { event: EVENTS.limit, limit: 'channels-per-connection', type },
      'too many channels',
    );
    return undefined;
  };
  const release = (): void => r.budget.release();

  client.on('session', (accept, reject) => {
    const scope = admit('session');
    if (!scope) return reject();
    r.steps.onSession(
      () => accept().once('close', release),
      () => {
        release();
        reject();
      },
      scope,
    );
  });
  client.on('tcpip', (accept, reject, request) => {
    const refuse = (failure?: ChannelOpenFailure): void =>
      failure ? rejectWithReason(client, reject, failure) : reject();
    const current = r.scope();
    if (current && !r.draining() && r.steps.isPortForward?.(request, current)) {
      r.steps.onDirectTcpip(accept, refuse, request, current);
      return;
    }
    const scope = admit('direct-tcpip');
    if (!scope) return reject();
    r.steps.onDirectTcpip(
      () => accept().once('close', release),
      (failure) => {
        release();
        refuse(failure);
      },
      request,
      scope,
    );
  });
  client.on('request', (_accept, reject, name) => {
    r.metrics.refusedChannels.inc({ type: name });
    r.logger.warn({ event: EVENTS.requestRejected, request: name }, 'global request refused');
    reject?.();
  });
  client.on('openssh.streamlocal', (_accept, reject) => {
    r.metrics.refusedChannels.inc({ type: 'streamlocal' });
    r.logger.warn(
      { event: EVENTS.channelRejected, channel: 'direct-streamlocal' },
      'streamlocal refused',
    );
    reject();
  });
}
