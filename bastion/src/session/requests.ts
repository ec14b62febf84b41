/**
 * The session-requests step: one SSH `session` channel collects `pty-req` and `env`, refuses
 * X11, agent forwarding and unknown subsystems, and on `shell`, `exec` or a served subsystem
 * starts the session (`lifecycle.ts`). `window-change` and `signal` reach the console once it runs.
 */
import { randomUUID } from 'node:crypto';
import type { AcceptConnection, RejectConnection, Session } from 'ssh2';
import type { PtyRequest } from '@neetodeploy/platform';
import type { ConnectionScope } from '../connection/index.js';
import { EVENTS } from '../events.js';
import { envRoomFor } from '../limits/index.js';
import { keepRequestsAfterEof } from './after-eof.js';
import { envAllowed } from './flow.js';
import { runSession } from './lifecycle.js';
import { SSH_SIGNALS } from './signals.js';
import type { SessionDeps, SessionRun } from './types.js';

export function handleSession(
  accept: AcceptConnection<Session>,
  _reject: RejectConnection,
  scope: ConnectionScope,
  deps: SessionDeps,
): void {
  const session = accept();
  session.on('error', () => undefined);
  keepRequestsAfterEof(session);
  const id = randomUUID();
  const log = scope.logger.child({ sessionId: id });
  const { conn } = scope;
  let pty: PtyRequest | undefined;
  let size: { cols: number; rows: number } | undefined;
  const env: Record<string, string> = {};
  let run: SessionRun | undefined;
  let started = false;

  const refuse = (kind: string) => (_acc: unknown, rej?: () => void) => {
    deps.metrics.refusedChannels.inc({ type: kind });
    log.info({ event: EVENTS.requestRejected, request: kind }, `${kind} refused`);
    rej?.();
  };
  const start = (command: string | undefined, label: string | undefined = command) => {
    started = true;
    return { command, label, pty, size, env };
  };

  session.on('pty', (acc, rej, info) => {
    if (started || conn.identity.extensions['permit-pty'] === undefined) {
      log.info(
        { event: EVENTS.requestRejected, request: 'pty-req', reason: 'no permit-pty' },
        'pty refused',
      );
      rej?.();
      return;
    }
    pty = { term: info.term || 'xterm', cols: info.cols || 80, rows: info.rows || 24 };
    acc?.();
  });
  session.on('env', (acc, rej, info) => {
    const allowed =
      !started &&
      envRoomFor(Object.keys(env).length) &&
      envAllowed(info.key, deps.config.session.envAllow);
    if (!allowed) return rej?.();
    env[info.key] = info.val;
    acc?.();
  });
  session.on('window-change', (acc, _rej, info) => {
    size = { cols: info.cols, rows: info.rows };
    if (run?.console && run.request.pty) {
      run.console.resize(info.cols, info.rows);
      run.recorder?.resize(info.cols, info.rows);
    }
    acc?.();
  });
  session.on('signal', (acc, _rej, info) => {
    // As sshd: a name outside RFC 4254's list is ignored, never an error that ends the
    // connection (the platform throws on names the OS does not know).
    const name = info.name.replace(/^SIG/, '');
    if (SSH_SIGNALS.has(name)) run?.console?.signal(name);
    else log.info({ event: EVENTS.requestRejected, request: 'signal', name }, 'unknown signal');
    acc?.();
  });
  session.on('x11', refuse('x11'));
  session.on('auth-agent', refuse('auth-agent'));
  // No 'sftp' listener: ssh2 then hands `subsystem sftp` over as a raw channel, which we map.
  session.on('subsystem', (acc, rej, info) => {
    const command = deps.config.session.subsystems[info.name];
    if (started || command === undefined) return refuse(`subsystem:${info.name}`)(acc, rej);
    pty = undefined; // a subsystem speaks a binary protocol: never through a terminal
    run = runSession(acc(), start(command, `subsystem:${info.name}`), scope, deps, id, log);
  });
  session.on('shell', (acc) => {
    if (started) return;
    run = runSession(acc(), start(undefined), scope, deps, id, log);
  });
  session.on('exec', (acc, _rej, info) => {
    if (started) return;
    run = runSession(acc(), start(info.command), scope, deps, id, log);
  });
}
