/**
 * One connection's state and lifecycle: `pending` from its transport's arrival, with the
 * authentication deadline armed; `authenticated` once the authentication step says so, with the
 * idle and maximum-length clocks running and channels routed to their steps; `closing` once it
 * is being ended. Virtual hosts it serves are its children: ending it ends their sessions too.
 */
import type { Connection } from 'ssh2';
import { EVENTS } from '../events.js';
import { armDeadline, createChannelBudget, startSessionClocks } from '../limits/index.js';
import type { SessionClocks } from '../limits/index.js';
import type { AuthenticatedConnection } from '../types.js';
import { routeChannels } from './channels.js';
import { closeGracefully, endSessionsThen } from './closing.js';
import { createScope } from './scope.js';
import type {
  ActiveSession,
  Carrier,
  ConnectionDeps,
  ConnectionRegistry,
  ConnectionScope,
  ConnectionState,
  LiveConnection,
  Transport,
} from './types.js';

/** What the client reads when a clock of its connection ran out. */
const CLOCK_MESSAGES = {
  'idle-timeout': {
    log: 'idle connection closed',
    user: 'neetodeploy: connection idle for too long, closing',
  },
  'max-session-length': {
    log: 'maximum session length reached',
    user: 'neetodeploy: maximum session length reached, closing',
  },
} as const;

export function createLiveConnection(
  transport: Transport,
  deps: ConnectionDeps & { readonly registry: ConnectionRegistry },
  carrier?: Carrier,
): LiveConnection {
  const { info } = transport;
  const log = deps.logger.child({ connectionId: info.id, ip: info.ip, kind: info.kind });
  const own = new Set<ActiveSession>();
  const children = new Set<LiveConnection>();
  const budget = createChannelBudget(deps.limits.maxChannelsPerConnection);
  let state: ConnectionState = 'pending';
  let client: Connection | undefined;
  let scope: ConnectionScope | undefined;
  let clocks: SessionClocks | undefined;

  // LoginGraceTime: the transport ends if authentication has not succeeded by then.
  const authDeadline = armDeadline(deps.limits.authTimeoutMs, () => {
    if (scope) return;
    deps.metrics.limitRejections.inc({ limit: 'auth-timeout' });
    log.warn({ event: EVENTS.limit, limit: 'auth-timeout' }, 'authentication deadline passed');
    transport.kill();
  });
  transport.stream.once('close', () => authDeadline.clear());

  const touch = (): void => {
    clocks?.touch();
    carrier?.touch();
  };
  const disconnect = (): void => {
    if (!client) return transport.kill();
    try {
      client.end();
    } catch {
      // already gone
    }
  };

  function onAuthenticated(conn: AuthenticatedConnection): void {
    if (state === 'pending') state = 'authenticated';
    transport.admitted?.authenticated();
    authDeadline.clear();
    clocks = startSessionClocks(deps.limits, (limit) => {
      deps.metrics.limitRejections.inc({ limit });
      log.info({ event: EVENTS.limit, limit }, CLOCK_MESSAGES[limit].log);
      self.end(CLOCK_MESSAGES[limit].user);
    });
    scope = createScope(conn, { logger: log, touch, sessions: own, children }, deps);
  }

  function attach(c: Connection): void {
    client = c;
    deps.metrics.activeConnections.inc({ kind: info.kind });
    c.on('error', (err: Error & { level?: string }) => {
      log.debug(
        { event: EVENTS.connectionError, err: err.message, level: err.level },
        'connection error',
      );
    });
    c.once('handshake', () => deps.metrics.handshakes.inc({ result: 'ok' }));
    c.once('close', () => {
      clocks?.clear();
      deps.metrics.activeConnections.dec({ kind: info.kind });
      if (!scope) deps.metrics.handshakes.inc({ result: 'closed-before-auth' });
      log.debug({ event: EVENTS.connectionClosed }, 'connection closed');
    });
    deps.authentication.attach(c, { state: 'pending', info }, log, onAuthenticated);
    routeChannels(c, {
      scope: () => scope,
      budget,
      steps: deps.channels,
      draining: deps.draining,
      metrics: deps.metrics,
      logger: log,
    });
  }

  const self: LiveConnection = {
    info,
    get state() {
      return state;
    },
    get authenticated() {
      return scope?.conn;
    },
    sessions: () => [...own],
    attach,
    end(reason) {
      if (state === 'closing') return;
      state = 'closing';
      const all = [...own, ...[...children].flatMap((c) => c.sessions())];
      endSessionsThen(all, reason, disconnect);
    },
    hangUp() {
      state = 'closing';
      disconnect();
    },
    close() {
      state = 'closing';
      return closeGracefully(transport.stream, disconnect);
    },
  };
  return self;
}
