/**
 * One connection's home. A connection is created when its transport arrives (a TCP socket the
 * server admitted, or a ProxyJump channel of a parent connection), lives through
 * `pending → authenticated → closing`, and hands each SSH event to one small step, in the spirit
 * of ContainerSSH's handler chain:
 *
 *   admission (server, `limits/`) → authentication ({@link AuthenticationStep})
 *     → channel open (budget, here) → {@link ChannelSteps}: session requests (`session/`),
 *       forwarding (`jump/`)
 *
 * The steps receive an {@link AuthenticatedConnection} inside a {@link ConnectionScope}, never the
 * live connection, so post-auth code cannot see an unauthenticated value or reach another
 * connection.
 */
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type {
  AcceptConnection,
  Connection,
  RejectConnection,
  ServerChannel,
  Session,
  TcpipRequestInfo,
} from 'ssh2';
import type { Certificate } from '@neetodeploy/sshcert';
import type { LimitsConfig } from '../config.js';
import type { Admitted, SourcePenalties } from '../limits/index.js';
import type { BastionMetrics } from '../metrics/index.js';
import type { ChannelOpenFailure } from '../ssh2-internals.js';
import type { AuthenticatedConnection, ConnectionInfo, PendingConnection } from '../types.js';

export type ConnectionState = 'pending' | 'authenticated' | 'closing';

/** A console session as its connection sees it: something to tell, end or close. */
export interface ActiveSession {
  readonly id: string;
  /**
   * A console session's client (a shell, an `exec`) goes away by itself once its channel
   * closes; a forward's client (`ssh -N -L`) stays until it is disconnected.
   */
  readonly kind: 'console' | 'forward';
  /** Writes a line to the client's stderr (the terminal when a pty was allocated). */
  notify(message: string): void;
  /** Ends the session gracefully: the console is ended; its exit status still reaches the client. */
  terminate(): void;
  /** Ends the session now: the console is killed, the channel closed. */
  close(): void;
  /** Resolves when the session has fully ended (console gone, audit written). */
  readonly ended: Promise<void>;
}

/** What carries a connection, known before SSH starts on it. */
export interface Transport {
  readonly info: ConnectionInfo;
  /** The stream ssh2 runs on: the TCP socket, or the parent's `direct-tcpip` channel. */
  readonly stream: Duplex;
  /** The TCP admission slot; absent for a virtual host (its parent holds the slot). */
  readonly admitted?: Admitted;
  /** For a virtual host: the certificate its carrying connection authenticated with. */
  readonly carrierCertificate?: Certificate;
  /** Ends the transport without SSH (authentication deadline, stop before SSH started). */
  kill(): void;
}

/** One live connection, from its transport's arrival to its close. */
export interface LiveConnection {
  readonly info: ConnectionInfo;
  readonly state: ConnectionState;
  /** Set once authentication succeeded, never unset. */
  readonly authenticated: AuthenticatedConnection | undefined;
  /** Console sessions open on this connection itself (`end` reaches its virtual hosts' too). */
  sessions(): ActiveSession[];
  /**
   * Called by the server once ssh2 has read the client's identification on this connection's
   * transport. Called at most once; wires authentication and channels.
   */
  attach(client: Connection): void;
  /**
   * Ends the connection for `reason` (idle, maximum length, revocation, certificate expiry): every
   * session is
   * told `reason` on stderr and its console ended, so its exit status still reaches the client;
   * then, after at most a short grace, the SSH connection is closed. Idempotent; never throws.
   */
  end(reason: string): void;
  /** Disconnects now (drain of unauthenticated connections). Idempotent; never throws. */
  hangUp(): void;
  /**
   * Closes for `stop()`: waits briefly for a direct client to hang up by itself, then disconnects,
   * then destroys the socket. Resolves once closed; never rejects.
   */
  close(): Promise<void>;
}

/** What a channel step knows of the connection it serves. */
export interface ConnectionScope {
  readonly conn: AuthenticatedConnection;
  /** Carries `connectionId`, `ip` and `kind`. */
  readonly logger: Logger;
  /** Called on channel traffic: restarts the idle timeout here and on the carrying connection. */
  touch(): void;
  /**
   * Called when a console session starts, so that ending, draining or stopping the connection
   * reaches it. Returns the function to call once, when the session has ended.
   */
  track(session: ActiveSession): () => void;
  /**
   * Serves `channel`, an accepted `direct-tcpip` channel of this connection, as a new SSH
   * connection to the virtual host of `app` (ProxyJump). Never throws.
   */
  serveVirtualHost(channel: ServerChannel, app: string): void;
}

/** Authentication: the only way from a pending to an authenticated connection. */
export interface AuthenticationStep {
  /**
   * Called once per connection, when ssh2 has read the client's identification. Answers ssh2's
   * `authentication` events; calls `onAuthenticated` at most once, before ssh2 reports success,
   * with the only {@link AuthenticatedConnection} this connection will ever get. Ends the client
   * itself after too many failures. Never throws.
   */
  attach(
    client: Connection,
    pending: PendingConnection,
    logger: Logger,
    onAuthenticated: (conn: AuthenticatedConnection) => void,
  ): void;
}

/**
 * Channels of an authenticated connection, called only within the connection's channel budget
 * and never while the bastion drains. Each must call exactly one of `accept` or `reject`; the
 * budget is given back when the channel closes or is rejected. Never throw.
 */
export interface ChannelSteps {
  /** A `session` channel: its requests (pty, env, shell, exec, subsystem, signals) until it closes. */
  onSession(
    accept: AcceptConnection<Session>,
    reject: RejectConnection,
    scope: ConnectionScope,
  ): void;
  /**
   * A `direct-tcpip` channel: ProxyJump to a virtual host, or a port forward. `reject` may say
   * why, as OpenSSH shows it (`channel 2: open failed: administratively prohibited: ...`).
   */
  onDirectTcpip(
    accept: AcceptConnection<ServerChannel>,
    reject: (failure?: ChannelOpenFailure) => void,
    request: TcpipRequestInfo,
    scope: ConnectionScope,
  ): void;
  /**
   * Whether a `direct-tcpip` request is a port forward: those are bounded by the forwarding
   * step's own per-connection limit, not by the channel budget (a browser opens many at once).
   * Absent: every `direct-tcpip` channel counts against the channel budget.
   */
  isPortForward?(request: TcpipRequestInfo, scope: ConnectionScope): boolean;
}

/** A connection that carries others (the outer hop of ProxyJump), as its virtual hosts see it. */
export interface Carrier {
  /** Called on the carried connection's traffic: the carrier is not idle either. */
  touch(): void;
}

/** Every live connection of one bastion, found by transport, for the server and the drain. */
export interface ConnectionRegistry {
  /**
   * Called when a transport arrives, before SSH starts on it: creates the pending connection and
   * arms its authentication deadline. The connection leaves the registry when its stream closes.
   */
  open(transport: Transport, carrier?: Carrier): LiveConnection;
  /**
   * Called for ssh2's `connection` event: hands the client to the connection of its transport.
   * A client on a transport the registry never opened is ended.
   */
  attach(client: Connection): void;
  /** Called when a console session starts; returns the function to call once it ended. */
  track(session: ActiveSession): () => void;
  all(): LiveConnection[];
  /** Every open console session, whatever its connection's state. */
  sessions(): ActiveSession[];
}

/** What every connection shares. */
export interface ConnectionDeps {
  readonly limits: LimitsConfig;
  /** Told when a direct connection misses its key-exchange or authentication deadline. */
  readonly penalties?: SourcePenalties;
  /** The bastion's logger; each connection logs through a child naming it. */
  readonly logger: Logger;
  readonly metrics: BastionMetrics;
  readonly now: () => Date;
  readonly authentication: AuthenticationStep;
  readonly channels: ChannelSteps;
  /** True once the bastion drains or stops: no new channels. */
  readonly draining: () => boolean;
  /** Starts SSH on a transport (the server's ssh2 instance); used for virtual hosts. */
  readonly serve: (transport: Transport) => void;
}
