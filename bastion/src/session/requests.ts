/**
 * The session-requests step: one SSH `session` channel collects `pty-req` and `env`, refuses
 * X11, agent forwarding and unknown subsystems, and on `shell`, `exec` or a served subsystem
 * starts the session (`lifecycle.ts`). `window-change` and `signal` reach the console once it runs.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type {
  AcceptConnection,
  ExecInfo,
  PseudoTtyInfo,
  RejectConnection,
  ServerChannel,
  Session,
  SetEnvInfo,
  SignalInfo,
  SubsystemInfo,
  WindowChangeInfo,
} from 'ssh2';
import type { PtyRequest } from '@neetodeploy/platform';
import type { ConnectionScope } from '../connection/index.js';
import { EVENTS } from '../events.js';
import { envRoomFor } from '../limits/index.js';
import { keepRequestsAfterEof } from './after-eof.js';
import { envAllowed } from './flow.js';
import { runSession } from './lifecycle.js';
import { SSH_SIGNALS } from './signals.js';
import type { SessionDeps, SessionRun } from './types.js';

/** The session's way back to its requests, so that one listener serves every session. */
const REQUESTS = Symbol('neetodeploy.sessionRequests');
type OwnedSession = Session & { [REQUESTS]: SessionRequests };
type Answer = (() => void) | undefined;

/**
 * One session channel's requests until it starts, and its console's signals and window size
 * after. A class with module-level listeners, not closures: thousands of sessions are held.
 */
class SessionRequests {
  pty: PtyRequest | undefined = undefined;
  size: { cols: number; rows: number } | undefined = undefined;
  readonly env: Record<string, string> = {};
  run: SessionRun | undefined = undefined;
  started = false;

  constructor(
    readonly id: string,
    readonly scope: ConnectionScope,
    readonly deps: SessionDeps,
  ) {}

  /** Made when a line is logged, not kept: see `Run` in `open.ts`. */
  get log(): Logger {
    return this.scope.logger.child({ sessionId: this.id });
  }

  refuse(kind: string, rej: Answer): void {
    this.deps.metrics.refusedChannels.inc({ type: kind });
    this.log.info({ event: EVENTS.requestRejected, request: kind }, `${kind} refused`);
    rej?.();
  }

  start(
    channel: ServerChannel,
    command: string | undefined,
    label: string | undefined = command,
  ): void {
    this.started = true;
    const { pty, size, env } = this;
    const request = { command, label, pty, size, env };
    this.run = runSession(channel, request, this.scope, this.deps, this.id, this.log);
  }
}

function onPty(this: OwnedSession, acc: Answer, rej: Answer, info: PseudoTtyInfo): void {
  const r = this[REQUESTS];
  if (r.started || r.scope.conn.identity.extensions['permit-pty'] === undefined) {
    r.log.info(
      { event: EVENTS.requestRejected, request: 'pty-req', reason: 'no permit-pty' },
      'pty refused',
    );
    rej?.();
    return;
  }
  r.pty = { term: info.term || 'xterm', cols: info.cols || 80, rows: info.rows || 24 };
  acc?.();
}

function onEnv(this: OwnedSession, acc: Answer, rej: Answer, info: SetEnvInfo): void {
  const r = this[REQUESTS];
  const allowed =
    !r.started &&
    envRoomFor(Object.keys(r.env).length) &&
    envAllowed(info.key, r.deps.config.session.envAllow);
  if (!allowed) return rej?.();
  r.env[info.key] = info.val;
  acc?.();
}

function onWindowChange(
  this: OwnedSession,
  acc: Answer,
  _rej: Answer,
  info: WindowChangeInfo,
): void {
  const r = this[REQUESTS];
  r.size = { cols: info.cols, rows: info.rows };
  const { run } = r;
  if (run?.console && run.request.pty) {
    run.console.resize(info.cols, info.rows);
    run.recorder?.resize(info.cols, info.rows);
  }
  acc?.();
}

function onSignal(this: OwnedSession, acc: Answer, _rej: Answer, info: SignalInfo): void {
  const r = this[REQUESTS];
  // As sshd: a name outside RFC 4254's list is ignored, never an error that ends the
  // connection (the platform throws on names the OS does not know).
  const name = info.name.replace(/^SIG/, '');
  if (SSH_SIGNALS.has(name)) r.run?.console?.signal(name);
  else r.log.info({ event: EVENTS.requestRejected, request: 'signal', name }, 'unknown signal');
  acc?.();
}

function onX11(this: OwnedSession, _acc: unknown, rej: Answer): void {
  this[REQUESTS].refuse('x11', rej);
}

function onAuthAgent(this: OwnedSession, _acc: unknown, rej: Answer): void {
  this[REQUESTS].refuse('auth-agent', rej);
}

function onSubsystem(
  this: OwnedSession,
  acc: AcceptConnection<ServerChannel>,
  rej: Answer,
  info: SubsystemInfo,
): void {
  const r = this[REQUESTS];
  const command = r.deps.config.session.subsystems[info.name];
  if (r.started || command === undefined) return r.refuse(`subsystem:${info.name}`, rej);
  r.pty = undefined; // a subsystem speaks a binary protocol: never through a terminal
  r.start(acc(), command, `subsystem:${info.name}`);
}

function onShell(this: OwnedSession, acc: AcceptConnection<ServerChannel>): void {
  const r = this[REQUESTS];
  if (r.started) return;
  r.start(acc(), undefined);
}

function onExec(
  this: OwnedSession,
  acc: AcceptConnection<ServerChannel>,
  _rej: Answer,
  info: ExecInfo,
): void {
  const r = this[REQUESTS];
  if (r.started) return;
  r.start(acc(), info.command);
}

function ignoreError(): void {
  // The channel's own close ends the session; an error on it changes nothing.
}

export function handleSession(
  accept: AcceptConnection<Session>,
  _reject: RejectConnection,
  scope: ConnectionScope,
  deps: SessionDeps,
): void {
  const session = accept() as OwnedSession;
  session.on('error', ignoreError);
  keepRequestsAfterEof(session);
  const id = randomUUID();
  session[REQUESTS] = new SessionRequests(id, scope, deps);
  session.on('pty', onPty);
  session.on('env', onEnv);
  session.on('window-change', onWindowChange);
  session.on('signal', onSignal);
  session.on('x11', onX11);
  session.on('auth-agent', onAuthAgent);
  // No 'sftp' listener: ssh2 then hands `subsystem sftp` over as a raw channel, which we map.
  session.on('subsystem', onSubsystem);
  session.on('shell', onShell);
  session.on('exec', onExec);
}
