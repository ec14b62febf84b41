/**
 * The contract of `@neetodeploy/platform`: where apps run, behind one interface shared by the
 * bastion (consoles) and the keys-service (apps, config vars, logs). Implementations: `local`
 * (process groups under a data dir) and `kubernetes` (a cluster API).
 *
 * Every method throws only {@link AppError} subclasses for conditions a user can act on
 * (NotFound for an unknown app or process, BadRequest for an invalid name, Conflict for a stale
 * `ifMatch`); anything else is a bug or an infrastructure failure.
 */
import type { Duplex, Readable, Writable } from 'node:stream';

/**
 * App names are DNS labels; checked before any lookup. The rule is the parts' contract, so it
 * lives in `@neetodeploy/contract` (which the platform uses for this rule only).
 */
export { APP_NAME_PATTERN } from '@neetodeploy/contract';

export interface AppInfo {
  readonly name: string;
  /** Process types from the Procfile / Deployments, e.g. ['web', 'worker']. */
  readonly processTypes: readonly string[];
}

export interface ProcessInfo {
  /** Heroku-style instance name, e.g. `web.1`; for Kubernetes the pod name is in `pod`. */
  readonly name: string;
  readonly type: string;
  readonly state: 'starting' | 'running' | 'crashed' | 'stopped';
  readonly pod?: string;
  readonly startedAt?: Date;
}

/** Which process a console runs beside. Neither field: a one-off console. */
export interface ConsoleTarget {
  /** Exec into a running instance of this process type. */
  readonly process?: string;
  /** Exec into this pod (Kubernetes) or process instance such as `web.1` (local). */
  readonly pod?: string;
}

export interface PtyRequest {
  readonly term: string;
  readonly cols: number;
  readonly rows: number;
}

export interface ConsoleOptions {
  /** Command line run by the console's shell (`sh -c`); undefined: an interactive login shell. */
  readonly command?: string;
  /** Allocate a pseudo-terminal; stderr is then merged into stdout, as on a real terminal. */
  readonly pty?: PtyRequest;
  /** Extra environment from the client, already filtered by the caller's allow-list. */
  readonly env?: Readonly<Record<string, string>>;
  readonly target?: ConsoleTarget;
  /** Correlates the console with the SSH session and audit events; labels console pods. */
  readonly sessionId: string;
  /** Who opened it (email), for labels and audit. */
  readonly user: string;
  /** Progress for the user while the console is being prepared ("waiting for pod ..."). */
  readonly onStatus?: (message: string) => void;
  /** Aborting before the console is ready cancels it (and cleans up what was created). */
  readonly signal?: AbortSignal;
}

/** How a console ended. Exactly one of `code` / `signal` is set. */
export type ExitStatus =
  | { readonly code: number; readonly signal?: undefined }
  | { readonly code?: undefined; readonly signal: string; readonly coreDumped?: boolean };

/**
 * A running console, the SSH session lifecycle in one object. `stdout`/`stderr` are readable
 * streams with backpressure: a consumer that stops reading pauses the remote process's output.
 */
export interface Console {
  readonly stdin: Writable;
  readonly stdout: Readable;
  /** Empty (ends immediately) when a pty was requested. */
  readonly stderr: Readable;
  /** What actually runs it, for audit: a pod name or `local:<pid>`. */
  readonly where: string;
  /**
   * The request that started it, as the cluster's audit log records it (Kubernetes only): the
   * `pods/exec` path and the user agent naming the session, for joining the two.
   */
  readonly execRequest?: { readonly path: string; readonly userAgent: string };
  resize(cols: number, rows: number): void;
  /** POSIX signal name without `SIG` (`INT`, `TERM`, `HUP`, `KILL`, ...) sent to the process group. */
  signal(name: string): void;
  /** The client is gone: end the process (TERM, then KILL after a grace period) and clean up. */
  kill(): void;
  /** Resolves once, when the process has exited and its output streams have ended. */
  readonly done: Promise<ExitStatus>;
}

export interface LogLine {
  readonly time: Date;
  /** `app` for process output; `neetodeploy` for platform events such as restarts. */
  readonly source: string;
  /** Instance name, e.g. `web.1`. */
  readonly process: string;
  readonly line: string;
}

export interface LogOptions {
  /** Only lines from this process type. */
  readonly process?: string;
  /** Number of past lines to send first (default 100). */
  readonly tail?: number;
  /** Only lines at or after this time. */
  readonly since?: Date;
  /** Keep streaming new lines until `signal` aborts. */
  readonly follow?: boolean;
  readonly signal?: AbortSignal;
}

export interface ConfigVars {
  readonly vars: Readonly<Record<string, string>>;
  /** Opaque version for optimistic concurrency (`If-Match`). */
  readonly version: string;
}

export interface ConfigChange {
  readonly set?: Readonly<Record<string, string>>;
  readonly unset?: readonly string[];
}

export interface ConfigUpdateOptions {
  /** When set and not the current version: Conflict, nothing changes. */
  readonly ifMatch?: string;
  /** Restart the app's processes so they see the change (default true). */
  readonly restart?: boolean;
}

/** A TCP port inside a running process or pod, reached on its loopback. */
export interface PortForwardOptions {
  /** A running process type or instance (`web`, `web.1`) or pod; one-off consoles have no ports. */
  readonly target: ConsoleTarget;
  /** The port inside the target (1-65535), as the target's own loopback sees it. */
  readonly port: number;
  /** Correlates the forward with the SSH session and audit events. */
  readonly sessionId: string;
  /** Who opened it (email), for audit and the cluster's user agent. */
  readonly user: string;
  /** Aborting closes the stream and whatever the platform opened for it. */
  readonly signal?: AbortSignal;
}

/** One forwarded TCP connection: bytes both ways; `end()` half-closes, `destroy()` resets. */
export interface PortForwardStream extends Duplex {
  /** Which instance serves it (`web.1` locally, the pod name on Kubernetes), for audit. */
  readonly instance: string;
}

export interface Platform {
  /** Every app that exists, sorted by name. */
  listApps(): Promise<AppInfo[]>;
  /** Throws BadRequest for an invalid name, NotFound for an unknown app. */
  getApp(app: string): Promise<AppInfo>;
  listProcesses(app: string): Promise<ProcessInfo[]>;
  /** Starts a console; resolves once it runs. Throws NotFound for an unknown app or target. */
  openConsole(app: string, options: ConsoleOptions): Promise<Console>;
  /** Past lines (tail/since) in time order, then new lines while `follow`, until aborted. */
  streamLogs(app: string, options: LogOptions): AsyncIterable<LogLine>;
  getConfigVars(app: string): Promise<ConfigVars>;
  /**
   * Applies set and unset atomically; concurrent callers without `ifMatch` never lose each
   * other's writes. Throws Conflict when `ifMatch` is stale.
   */
  updateConfigVars(
    app: string,
    change: ConfigChange,
    options?: ConfigUpdateOptions,
  ): Promise<ConfigVars>;
  /**
   * Opens one TCP connection to `localhost:port` inside a running target. Throws NotFound for
   * an unknown app or target, BadRequest for a target that cannot serve ports (no process or
   * pod named), and PortForwardRefused (an AppError) when nothing listens on the port.
   */
  openPortForward(app: string, options: PortForwardOptions): Promise<PortForwardStream>;
  /** Stops what the platform started (local processes, watches). Idempotent. */
  close(): Promise<void>;
}
