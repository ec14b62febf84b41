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
import type { ChannelBudget, Deadline, SessionClocks } from '../limits/index.js';
import type { AuthenticatedConnection, ConnectionInfo } from '../types.js';
import { routeChannels, type ChannelRouting } from './channels.js';
import { closeGracefully, endSessionsThen } from './closing.js';
import { createScope, type ScopeOwner } from './scope.js';
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
  log: () => Logger,
  end: () => void,
): Deadline | undefined {
  const ms = Number(conn.identity.validBefore) * 1000 - deps.now().getTime();
  if (ms > MAX_TIMER_MS) return undefined;
  return armDeadline(Math.max(0, ms), () => {
    deps.metrics.limitRejections.inc({ limit: 'certificate-expired' });
    log().info({ event: EVENTS.limit, limit: 'certificate-expired' }, 'certificate expired');
    end();
  });
}

/** The ssh2 client's way back to its connection, so that one listener serves every connection. */
const OWNER = Symbol('neetodeploy.connection');
type OwnedClient = Connection & { [OWNER]?: Live };

function onClientError(this: OwnedClient, err: Error & { level?: string }): void {
  this[OWNER]?.onError(err);
}
function onClientHandshake(this: OwnedClient, negotiated: NegotiatedAlgorithms): void {
  this[OWNER]?.onHandshake(negotiated);
}
function onClientClose(this: OwnedClient): void {
  this[OWNER]?.onClose();
}

/**
 * A class, not a closure over locals: thousands are held at once, and methods on a prototype
 * cost a held connection nothing, where each closure cost it a function and a share of a context.
 */
class Live implements LiveConnection, ScopeOwner, ChannelRouting {
  state: ConnectionState = 'pending';
  scope: ConnectionScope | undefined = undefined;
  readonly budget: ChannelBudget;
  /** Created on first use: a hop's carrier has no sessions of its own, a virtual host no children. */
  private own: Set<ActiveSession> | undefined = undefined;
  private children: Set<LiveConnection> | undefined = undefined;
  private client: Connection | undefined = undefined;
  private clocks: SessionClocks | undefined = undefined;
  private expiry: Deadline | undefined = undefined;
  /** Dropped once authenticated: a held connection keeps no spent timers. */
  private deadlines: PreAuthDeadlines | undefined;

  constructor(
    private readonly transport: Transport,
    readonly deps: LiveDeps,
    private readonly carrier: Carrier | undefined,
  ) {
    this.budget = createChannelBudget(deps.limits.maxChannelsPerConnection);
    this.deadlines = armPreAuthDeadlines(
      transport,
      deps,
      this.logger,
      () => this.scope !== undefined,
    );
  }

  get info(): ConnectionInfo {
    return this.transport.info;
  }

  /**
   * Made when a line is logged (a few per connection), not kept: a held pino child costs a
   * connection about half a kilobyte, two per jump session.
   */
  get logger(): Logger {
    const { info } = this.transport;
    return this.deps.logger.child({ connectionId: info.id, ip: info.ip, kind: info.kind });
  }

  get authenticated(): AuthenticatedConnection | undefined {
    return this.scope?.conn;
  }

  touch(): void {
    this.clocks?.touch();
    this.carrier?.touch();
  }

  sessionStarted(session: ActiveSession): void {
    (this.own ??= new Set()).add(session);
  }

  sessionEnded(session: ActiveSession): void {
    this.own?.delete(session);
  }

  childOpened(child: LiveConnection): void {
    (this.children ??= new Set()).add(child);
  }

  childClosed(child: LiveConnection): void {
    this.children?.delete(child);
  }

  sessions(): ActiveSession[] {
    return this.own ? [...this.own] : [];
  }

  attach(c: Connection): void {
    this.client = c;
    (c as OwnedClient)[OWNER] = this;
    this.deps.metrics.activeConnections.inc({ kind: this.info.kind });
    c.on('error', onClientError);
    c.once('handshake', onClientHandshake);
    c.on('close', onClientClose);
    const pending = {
      state: 'pending',
      info: this.info,
      carrierCertificate: this.transport.carrierCertificate,
    } as const;
    this.deps.authentication.attach(c, pending, this.logger, (conn) => this.onAuthenticated(conn));
    routeChannels(c, this);
  }

  onError(err: Error & { level?: string }): void {
    this.logger.debug(
      { event: EVENTS.connectionError, err: err.message, level: err.level },
      'connection error',
    );
    if (this.scope) return;
    // Before authentication ssh2 answers a protocol error (an oversized packet, say) with a
    // half-close and goes on reading and discarding whatever the client still sends: 32 MiB
    // for a compression-bomb user name. Stop reading now; drop the socket after a short grace
    // that lets the disconnect message out.
    this.transport.stream.pause();
    armDeadline(PROTOCOL_ERROR_GRACE_MS, () => this.transport.kill());
  }

  onHandshake(negotiated: NegotiatedAlgorithms): void {
    this.deadlines?.keyExchanged();
    this.transport.admitted?.keyExchanged();
    this.deps.metrics.handshakes.inc({ result: 'ok' });
    this.deps.metrics.keyExchanges.inc({ kex: negotiated.kex });
    // Which key exchange a client got (post-quantum or not) is what an audit asks first.
    this.logger.debug(
      { event: EVENTS.handshake, kex: negotiated.kex, cipher: negotiated.cs.cipher },
      'key exchange done',
    );
  }

  onClose(): void {
    this.clocks?.clear();
    this.expiry?.clear();
    this.deps.metrics.activeConnections.dec({ kind: this.info.kind });
    if (!this.scope) this.deps.metrics.handshakes.inc({ result: 'closed-before-auth' });
    this.logger.debug({ event: EVENTS.connectionClosed }, 'connection closed');
  }

  private onAuthenticated(conn: AuthenticatedConnection): void {
    const { deps } = this;
    if (this.state === 'pending') this.state = 'authenticated';
    this.transport.admitted?.authenticated();
    this.deadlines?.clear();
    this.deadlines = undefined;
    this.clocks = startSessionClocks(deps.limits, (limit) => {
      deps.metrics.limitRejections.inc({ limit });
      this.logger.info({ event: EVENTS.limit, limit }, CLOCK_MESSAGES[limit].log);
      this.end(CLOCK_MESSAGES[limit].user);
    });
    this.scope = createScope(conn, this, deps);
    if (deps.limits.disconnectExpiredCertificates) {
      this.expiry = armCertificateExpiry(
        conn,
        deps,
        () => this.logger,
        () => this.end(CERTIFICATE_EXPIRED),
      );
    }
  }

  private disconnect(): void {
    if (!this.client) return this.transport.kill();
    try {
      this.client.end();
    } catch {
      // already gone
    }
  }

  end(reason: string): void {
    if (this.state === 'closing') return;
    this.state = 'closing';
    const all = [...this.sessions(), ...[...(this.children ?? [])].flatMap((c) => c.sessions())];
    const disconnect = (): void => this.disconnect();
    // A disconnect that overtakes a console's client makes OpenSSH exit before it prints the
    // reason it was sent: let such a client hang up first (it does, once its channel closes).
    const afterSessions = all.some((s) => s.kind === 'console')
      ? () => void closeGracefully(this.transport.stream, disconnect)
      : disconnect;
    endSessionsThen(all, reason, afterSessions);
  }

  hangUp(): void {
    this.state = 'closing';
    this.disconnect();
  }

  close(): Promise<void> {
    this.state = 'closing';
    return closeGracefully(this.transport.stream, () => this.disconnect());
  }
}

type LiveDeps = ConnectionDeps & { readonly registry: ConnectionRegistry };

export function createLiveConnection(
  transport: Transport,
  deps: LiveDeps,
  carrier?: Carrier,
): LiveConnection {
  return new Live(transport, deps, carrier);
}
