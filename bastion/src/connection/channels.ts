/**
 * Channel open: every channel an authenticated client asks for is counted against the
 * connection's budget and handed to its step; global requests and streamlocal channels are
 * refused and logged.
 */
import type {
  AcceptConnection,
  Connection,
  RejectConnection,
  ServerChannel,
  Session,
  TcpipRequestInfo,
} from 'ssh2';
import type { Logger } from 'pino';
import { EVENTS } from '../events.js';
import type { ChannelBudget } from '../limits/index.js';
import type { BastionMetrics } from '../metrics/index.js';
import { rejectWithReason, type ChannelOpenFailure } from '../ssh2-internals.js';
import type { ChannelSteps, ConnectionScope } from './types.js';

/** What routes one connection's channels: that connection. */
export interface ChannelRouting {
  /** The scope once authenticated; undefined before. */
  readonly scope: ConnectionScope | undefined;
  readonly budget: ChannelBudget;
  readonly logger: Logger;
  readonly deps: {
    readonly channels: ChannelSteps;
    readonly draining: () => boolean;
    readonly metrics: BastionMetrics;
  };
}

/** The client's way back to its routing, so that one listener serves every connection. */
const ROUTING = Symbol('neetodeploy.channelRouting');
type RoutedClient = Connection & { [ROUTING]: ChannelRouting };

/** The budget a channel holds a slot of, until it gives it back. */
const BUDGET = Symbol('neetodeploy.channelBudget');
type Budgeted = { [BUDGET]?: ChannelBudget | undefined };

/**
 * Gives a channel's slot back, once: ssh2 emits `close` on a session again for every
 * CHANNEL_CLOSE a client repeats while the session never started, and each release would free
 * another slot.
 */
function releaseSlot(this: Budgeted): void {
  const budget = this[BUDGET];
  if (!budget) return;
  this[BUDGET] = undefined;
  budget.release();
}

function holdSlot<T extends Session | ServerChannel>(channel: T, budget: ChannelBudget): T {
  (channel as T & Budgeted)[BUDGET] = budget;
  channel.on('close', releaseSlot);
  return channel;
}

/** The connection's scope when a channel of `type` may open now, counted against its budget. */
function admit(r: ChannelRouting, type: string): ConnectionScope | undefined {
  const { scope } = r;
  if (!scope || r.deps.draining()) return undefined;
  if (r.budget.tryReserve()) return scope;
  r.deps.metrics.limitRejections.inc({ limit: 'channels-per-connection' });
  r.logger.warn(
    { event: EVENTS.limit, limit: 'channels-per-connection', type },
    'too many channels',
  );
  return undefined;
}

function onSession(
  this: RoutedClient,
  accept: AcceptConnection<Session>,
  reject: RejectConnection,
): void {
  const r = this[ROUTING];
  const scope = admit(r, 'session');
  if (!scope) return reject();
  r.deps.channels.onSession(
    () => holdSlot(accept(), r.budget),
    () => {
      r.budget.release();
      reject();
    },
    scope,
  );
}

function onTcpip(
  this: RoutedClient,
  accept: AcceptConnection<ServerChannel>,
  reject: RejectConnection,
  request: TcpipRequestInfo,
): void {
  const r = this[ROUTING];
  const refuse = (failure?: ChannelOpenFailure): void =>
    failure ? rejectWithReason(this, reject, failure) : reject();
  const current = r.scope;
  const steps = r.deps.channels;
  if (current && !r.deps.draining() && steps.isPortForward?.(request, current)) {
    steps.onDirectTcpip(accept, refuse, request, current);
    return;
  }
  const scope = admit(r, 'direct-tcpip');
  if (!scope) return reject();
  steps.onDirectTcpip(
    () => holdSlot(accept(), r.budget),
    (failure) => {
      r.budget.release();
      refuse(failure);
    },
    request,
    scope,
  );
}

function onGlobalRequest(
  this: RoutedClient,
  _accept: unknown,
  reject: (() => void) | undefined,
  name: string,
): void {
  const r = this[ROUTING];
  r.deps.metrics.refusedChannels.inc({ type: name });
  r.logger.warn({ event: EVENTS.requestRejected, request: name }, 'global request refused');
  reject?.();
}

function onStreamlocal(this: RoutedClient, _accept: unknown, reject: RejectConnection): void {
  const r = this[ROUTING];
  r.deps.metrics.refusedChannels.inc({ type: 'streamlocal' });
  r.logger.warn(
    { event: EVENTS.channelRejected, channel: 'direct-streamlocal' },
    'streamlocal refused',
  );
  reject();
}

export function routeChannels(client: Connection, routing: ChannelRouting): void {
  (client as RoutedClient)[ROUTING] = routing;
  client.on('session', onSession);
  client.on('tcpip', onTcpip);
  client.on('request', onGlobalRequest);
  client.on('openssh.streamlocal', onStreamlocal);
}
