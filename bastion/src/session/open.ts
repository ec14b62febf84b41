/**
 * Opening a session: the checks a session must pass before it costs anything (a target its
 * certificate grants, room under the user's session cap), its registration with the connection
 * and the audit log, then the console.
 */
import type { Logger } from 'pino';
import type { ServerChannel } from 'ssh2';
import type { Console } from '@neetodeploy/platform';
import type { SessionRecorder } from '@neetodeploy/recording';
import { parseUsername } from '../auth/username.js';
import type { ActiveSession, ConnectionScope } from '../connection/index.js';
import { EVENTS } from '../events.js';
import { alignPacketSize } from '../ssh2-internals.js';
import type { AuthenticatedConnection } from '../types.js';
import type { SessionDeps, SessionRequest, SessionRun } from './types.js';

/** `demo`, `demo:web` or `demo:pod=web-1`, as the audit log names a target. */
function targetLabel(conn: AuthenticatedConnection): string {
  const t = conn.target;
  if (!t) return '';
  if (t.pod) return `${t.app}:pod=${t.pod}`;
  if (t.process) return `${t.app}:${t.process}`;
  return t.app;
}

/** Tells the client why, with an exit status, and ends the channel. */
function finishEarly(channel: ServerChannel, say: (m: string) => void, message: string): void {
  say(message);
  channel.exit(1);
  channel.end();
}

/**
 * Checks, registers and audits the session; undefined (the client was told why) when it may not
 * run. Synchronous, so that requests arriving next find the session.
 */
export function beginSession(
  channel: ServerChannel,
  request: SessionRequest,
  scope: ConnectionScope,
  deps: SessionDeps,
  id: string,
  log: Logger,
): SessionRun | undefined {
  const { conn } = scope;
  if (conn.info.kind === 'jump') alignPacketSize(channel, conn.info.transport[0]);
  // A client that vanishes mid-write must not crash the bastion; the close handler cleans up.
  channel.on('error', () => undefined);
  channel.stderr.on('error', () => undefined);
  const eol = request.pty ? '\r\n' : '\n';
  const say = (m: string): void => {
    if (channel.stderr.writable) channel.stderr.write(`${m}${eol}`);
  };
  const target = conn.target;
  if (!target) {
    const app = parseUsername(conn.username)?.app ?? conn.username;
    finishEarly(
      channel,
      say,
      `neetodeploy: certificate does not grant access to app \`${app}\` (it grants: ${conn.identity.principals.join(', ')}): run \`neetodeploy apps\` to see the apps you can use`,
    );
    return undefined;
  }
  const user = conn.identity.user;
  if (!deps.userSessions.tryAcquire(user)) {
    deps.metrics.limitRejections.inc({ limit: 'sessions-per-user' });
    log.warn({ event: EVENTS.limit, limit: 'sessions-per-user', user }, 'too many sessions');
    finishEarly(
      channel,
      say,
      `neetodeploy: too many open sessions for ${user} (limit ${deps.config.limits.maxSessionsPerUser}): close one and retry`,
    );
    return undefined;
  }
  const targetName = targetLabel(conn);
  const run = new Run(channel, request, scope, { id, target, targetName, user, say }, deps.now());
  deps.metrics.activeSessions.inc();
  deps.metrics.sessions.inc({ kind: conn.info.kind });
  deps.audit.sessionStart({
    connectionId: conn.info.id,
    sessionId: id,
    user,
    keyId: conn.identity.keyId,
    app: target.app,
    target: targetName,
    command: request.label ?? null,
    pty: Boolean(request.pty),
    ip: conn.info.ip,
    kind: conn.info.kind,
  });
  return run;
}

/** The channel's way back to its session, so that one close listener serves every session. */
const RUN = Symbol('neetodeploy.sessionRun');
type RunChannel = ServerChannel & { [RUN]?: Run };

function onChannelClose(this: RunChannel): void {
  this[RUN]?.channelGone();
}

type RunParts = Pick<SessionRun, 'id' | 'target' | 'targetName' | 'user' | 'say'>;

/**
 * The session's shared state, tracked by its connection until `done`. A class rather than an
 * object literal of closures, as thousands are held; its logger is made when a line is logged
 * (a few per session), not kept, as a held pino child costs about half a kilobyte.
 */
class Run implements SessionRun, ActiveSession {
  readonly kind = 'console';
  readonly id: string;
  readonly target: SessionRun['target'];
  readonly targetName: string;
  readonly user: string;
  readonly say: (message: string) => void;
  readonly abort = new AbortController();
  readonly closed: Promise<void>;
  readonly ended: Promise<void>;
  channelClosed = false;
  console: Console | undefined = undefined;
  recorder: SessionRecorder | undefined = undefined;
  bytesIn = 0;
  bytesOut = 0;
  private closedResolve!: () => void;
  private endedResolve!: () => void;
  private readonly untrack: () => void;

  constructor(
    readonly channel: ServerChannel,
    readonly request: SessionRequest,
    readonly scope: ConnectionScope,
    parts: RunParts,
    readonly startedAt: Date,
  ) {
    ({ id: this.id, target: this.target, targetName: this.targetName, user: this.user } = parts);
    this.say = parts.say;
    this.closed = new Promise<void>((resolve) => (this.closedResolve = resolve));
    this.ended = new Promise<void>((resolve) => (this.endedResolve = resolve));
    this.untrack = scope.track(this);
    (channel as RunChannel)[RUN] = this;
    channel.once('close', onChannelClose);
  }

  get log(): Logger {
    return this.scope.logger.child({ sessionId: this.id });
  }

  notify(message: string): void {
    this.say(message);
  }

  terminate(): void {
    if (this.console) this.console.kill();
    else this.abort.abort();
  }

  close(): void {
    this.console?.kill();
    this.channel.close();
  }

  done(): void {
    this.untrack();
    this.endedResolve();
  }

  channelGone(): void {
    this.channelClosed = true;
    this.closedResolve();
    this.abort.abort();
    this.console?.kill();
  }
}

/** Opens the console the request names; rejects as the platform does. */
export async function openConsole(run: SessionRun, deps: SessionDeps): Promise<Console> {
  const { request, target } = run;
  const c = await deps.platform.openConsole(target.app, {
    command: request.command,
    pty: request.pty && request.size ? { ...request.pty, ...request.size } : request.pty,
    env: request.env,
    target: { process: target.process, pod: target.pod },
    sessionId: run.id,
    user: run.user,
    onStatus: run.say,
    signal: run.abort.signal,
  });
  run.console = c;
  return c;
}
