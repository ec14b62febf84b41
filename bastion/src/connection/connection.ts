/**
 * One connection's state and lifecycle: `pending` from its transport's arrival, with the
 * authentication deadline armed; `authenticated` once the authentication step says so, with the
 * idle and maximum-length clocks running and channels routed to their steps; `closing` once it
 * is being ended. Virtual hosts it serves are its children: ending it ends their sessions too.
 */
import type { Logger } from 'pino';
import type { Connection, NegotiatedAlgorithms } from 'ssh2';
import { EVENTS } from '../events.js';
import { armDeadline, createChannelBudget, startSessionClocks } from '../limits/index.js';
import type { Deadline, SessionClocks } from '../limits/index.js';
import type { AuthenticatedConnection, OwnedBy } from '../types.js';
import { routeChannels } from './channels.js';
import { closeGracefully, endSessionsThen } from './closing.js';
import { createScope } from './scope.js';
import type {
  ActiveSession,
  Carrier,
  ConnectionDeps,
  ConnectionRegistry,
  ConnectionScope,
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

const CERTIFICATE_EXPIRED =
  'neetodeploy: your certificate expired, closing: run `neetodeploy login` and connect again';
/** How long a client that broke the protocol before authentication has to read why. */
const PROTOCOL_ERROR_GRACE_MS = 500;
/** Longest delay a Node timer takes; a certificate valid longer is not timed. */
const MAX_TIMER_MS = 2 ** 31 - 1;

interface PreAuthDeadlines {
  keyExchanged(): void;
  clear(): void;
}

/**
 * The clocks of a pending connection: LoginGraceTime (`authTimeoutMs`), and a much shorter one
 * for key exchange (`kexTimeoutMs`), so that a client that sends a banner (or nothing) and waits
 * holds a pre-auth slot for seconds, not for the whole LoginGraceTime. Missing either kills the
 * transport and, for a direct client, costs its source a penalty.
 */
function armPreAuthDeadlines(
  transport: Transport,
  deps: ConnectionDeps,
  log: Logger,
  authenticated: () => boolean,
): PreAuthDeadlines {
  const { info } = transport;
  const missed = (limit: 'auth-timeout' | 'kex-timeout', message: string): void => {
    if (authenticated()) return;
    deps.metrics.limitRejections.inc({ limit });
    log.warn({ event: EVENTS.limit, limit }, message);
    if (info.kind === 'direct') deps.penalties?.offend(info.ip, 'graceExceeded');
    transport.kill();
  };
  const auth = armDeadline(deps.limits.authTimeoutMs, () =>
    missed('auth-timeout', 'authentication deadline passed'),
  );
  const kex = armDeadline(deps.limits.kexTimeoutMs, () =>
    missed('kex-timeout', 'key exchange deadline passed'),
  );
  const clear = (): void => {
    auth.clear();
    kex.clear();
    transport.stream.off('close', clear);
  };
  transport.stream.on('close', clear);
  return { keyExchanged: () => kex.clear(), clear };
}

/** Ends the connection when its certificate expires (`limits.disconnectExpiredCertificates`). */
function armCertificateExpiry(
  conn: AuthenticatedConnection,
  deps: ConnectionDeps,
  log: Logger,
  end: () => void,
): Deadline | undefined {
  const ms = Number(conn.identity.validBefore) * 1000 - deps.now().getTime();
  if (ms > MAX_TIMER_MS) return undefined;
  return armDeadline(Math.max(0, ms), () => {
    deps.metrics.limitRejections.inc({ limit: 'certificate-expired' });
    log.info({ event: EVENTS.limit, limit: 'certificate-expired' }, 'certificate expired');
    end();
  });
}

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
  let client: Connection | undefined;
  let scope: ConnectionScope | undefined;
  let clocks: SessionClocks | undefined;
  let expiry: Deadline | undefined;

  // Dropped once authenticated: a held connection keeps no spent timers.
  let deadlines: PreAuthDeadlines | undefined = armPreAuthDeadlines(
    transport,
    deps,
    log,
    () => scope !== undefined,
  );

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
    if (self.state === 'pending') self.state = 'authenticated';
    self.authenticated = conn;
    transport.admitted?.authenticated();
    deadlines?.clear();
    deadlines = undefined;
    clocks = startSessionClocks(deps.limits, (limit) => {
      deps.metrics.limitRejections.inc({ limit });
      log.info({ event: EVENTS.limit, limit }, CLOCK_MESSAGES[limit].log);
      self.end(CLOCK_MESSAGES[limit].user);
    });
    scope = createScope(conn, { logger: log, touch, sessions: own, children }, deps);
    if (deps.limits.disconnectExpiredCertificates) {
      expiry = armCertificateExpiry(conn, deps, log, () => self.end(CERTIFICATE_EXPIRED));
    }
  }

  function attach(c: Connection): void {
    client = c;
    deps.metrics.activeConnections.inc({ kind: info.kind });
    c.on('error', (err: Error & { level?: string }) => {
      log.debug(
        { event: EVENTS.connectionError, err: err.message, level: err.level },
        'connection error',
      );
      if (scope) return;
      // Before authentication ssh2 answers a protocol error (an oversized packet, say) with a
      // half-close and goes on reading and discarding whatever the client still sends: 32 MiB
      // for a compression-bomb user name. Stop reading now; drop the socket after a short grace
      // that lets the disconnect message out.
      transport.stream.pause();
      armDeadline(PROTOCOL_ERROR_GRACE_MS, () => transport.kill());
    });
    c.once('handshake', (negotiated: NegotiatedAlgorithms) => {
      deadlines?.keyExchanged();
      transport.admitted?.keyExchanged();
      deps.metrics.handshakes.inc({ result: 'ok' });
      deps.metrics.keyExchanges.inc({ kex: negotiated.kex });
      // Which key exchange a client got (post-quantum or not) is what an audit asks first.
      log.debug(
        { event: EVENTS.handshake, kex: negotiated.kex, cipher: negotiated.cs.cipher },
        'key exchange done',
      );
    });
    c.on('close', () => {
      clocks?.clear();
      expiry?.clear();
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

  const self: OwnedBy<LiveConnection, 'state' | 'authenticated'> = {
    info,
    state: 'pending',
    authenticated: undefined,
    sessions: () => [...own],
    attach,
    end(reason) {
      if (self.state === 'closing') return;
      self.state = 'closing';
      const all = [...own, ...[...children].flatMap((c) => c.sessions())];
      // A disconnect that overtakes a console's client makes OpenSSH exit before it prints the
      // reason it was sent: let such a client hang up first (it does, once its channel closes).
      const afterSessions = all.some((s) => s.kind === 'console')
        ? () => void closeGracefully(transport.stream, disconnect)
        : disconnect;
      endSessionsThen(all, reason, afterSessions);
    },
    hangUp() {
      self.state = 'closing';
      disconnect();
    },
    close() {
      self.state = 'closing';
      return closeGracefully(transport.stream, disconnect);
    },
  };
  return self;
}
