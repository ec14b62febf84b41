/**
 * One SSH `session` channel: collects `pty-req` and `env`, then on `shell` or `exec` opens a
 * console through the Platform and ties the two lifecycles together (data both ways with
 * backpressure, EOF both ways, window-change, signals, exit-status / exit-signal).
 */
import { randomUUID } from 'node:crypto';
import type { AcceptConnection, RejectConnection, ServerChannel, Session } from 'ssh2';
import { AppError } from '@neetodeploy/platform';
import type { Console, ExitStatus, PtyRequest } from '@neetodeploy/platform';
import { parseUsername } from '../auth/username.js';
import { EVENTS } from '../events.js';
import type { AuthenticatedConnection } from '../types.js';
import { envAllowed, pump } from './flow.js';
import type { ActiveSession, SessionDeps } from './types.js';

const MAX_ENV = 64;

function targetLabel(conn: AuthenticatedConnection): string {
  const t = conn.target;
  if (!t) return '';
  if (t.pod) return `${t.app}:pod=${t.pod}`;
  if (t.process) return `${t.app}:${t.process}`;
  return t.app;
}

interface ChannelInternals {
  outgoing?: { packetSize?: number };
}

/**
 * Behind ProxyJump every inner SSH packet travels as data of the outer `direct-tcpip` channel.
 * Inner packets of the full 32 KiB plus their header and tag would each be split into two outer
 * packets (one tiny), doubling the per-packet work; capping the inner data size so that a whole
 * inner packet fits one outer packet keeps it one-to-one. (ssh2 keeps the peer's maximum packet
 * size in `outgoing.packetSize` and never re-reads it.)
 */
function alignPacketSize(inner: unknown, outer: unknown): void {
  const i = (inner as ChannelInternals).outgoing;
  const o = (outer as ChannelInternals | undefined)?.outgoing;
  if (!i?.packetSize || !o?.packetSize) return;
  const fit = o.packetSize - 256;
  if (fit > 1024 && i.packetSize > fit) i.packetSize = fit;
}

export function handleSession(
  accept: AcceptConnection<Session>,
  _reject: RejectConnection,
  conn: AuthenticatedConnection,
  deps: SessionDeps,
): void {
  const session = accept();
  session.on('error', () => undefined);
  const sessionId = randomUUID();
  const log = deps.logger.child({ sessionId });
  let pty: PtyRequest | undefined;
  let size: { cols: number; rows: number } | undefined;
  const env: Record<string, string> = {};
  let started = false;
  let console_: Console | undefined;

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
    if (
      !started &&
      Object.keys(env).length < MAX_ENV &&
      envAllowed(info.key, deps.config.session.envAllow)
    ) {
      env[info.key] = info.val;
      acc?.();
    } else {
      rej?.();
    }
  });
  session.on('window-change', (acc, _rej, info) => {
    size = { cols: info.cols, rows: info.rows };
    if (console_ && pty) console_.resize(info.cols, info.rows);
    acc?.();
  });
  session.on('signal', (acc, _rej, info) => {
    console_?.signal(info.name.replace(/^SIG/, ''));
    acc?.();
  });
  const refuse = (kind: string) => (_acc: unknown, rej?: () => void) => {
    deps.metrics.refusedChannels.inc({ type: kind });
    log.info({ event: EVENTS.requestRejected, request: kind }, `${kind} refused`);
    rej?.();
  };
  session.on('x11', refuse('x11'));
  session.on('auth-agent', refuse('auth-agent'));
  // No 'sftp' listener: ssh2 then hands `subsystem sftp` over as a raw channel, which we map.
  session.on('subsystem', (acc, rej, info) => {
    const command = deps.config.session.subsystems[info.name];
    if (started || command === undefined) {
      refuse(`subsystem:${info.name}`)(acc, rej);
      return;
    }
    started = true;
    pty = undefined; // a subsystem speaks a binary protocol: never through a terminal
    void run(acc(), command, `subsystem:${info.name}`);
  });

  session.on('shell', (acc) => {
    if (started) return;
    started = true;
    void run(acc(), undefined);
  });
  session.on('exec', (acc, _rej, info) => {
    if (started) return;
    started = true;
    void run(acc(), info.command);
  });

  async function run(
    channel: ServerChannel,
    command: string | undefined,
    label: string | undefined = command,
  ): Promise<void> {
    if (conn.info.kind === 'jump') alignPacketSize(channel, conn.info.transport[0]);
    // A client that vanishes mid-write must not crash the bastion; the close handler cleans up.
    channel.on('error', () => undefined);
    channel.stderr.on('error', () => undefined);
    const eol = pty ? '\r\n' : '\n';
    const say = (m: string): void => {
      if (channel.stderr.writable) channel.stderr.write(`${m}${eol}`);
    };
    const finishEarly = (message: string, code: number): void => {
      say(message);
      channel.exit(code);
      channel.end();
    };
    if (!conn.target) {
      finishEarly(
        `neetodeploy: certificate does not grant access to app \`${parseUsername(conn.username)?.app ?? conn.username}\` (it grants: ${conn.identity.principals.join(', ')}): run \`neetodeploy apps\` to see the apps you can use`,
        1,
      );
      return;
    }
    const target = conn.target;
    const user = conn.identity.user;
    if (!deps.userSessions.tryAcquire(user)) {
      deps.metrics.limitRejections.inc({ limit: 'sessions-per-user' });
      log.warn({ event: EVENTS.limit, limit: 'sessions-per-user', user }, 'too many sessions');
      finishEarly(
        `neetodeploy: too many open sessions for ${user} (limit ${deps.config.limits.maxSessionsPerUser}): close one and retry`,
        1,
      );
      return;
    }

    const startedAt = deps.now();
    let bytesIn = 0;
    let bytesOut = 0;
    let closedResolve!: () => void;
    const closed = new Promise<void>((r) => (closedResolve = r));
    let endedResolve!: () => void;
    const ended = new Promise<void>((r) => (endedResolve = r));
    const abort = new AbortController();
    let channelClosed = false;
    const active: ActiveSession = {
      id: sessionId,
      connectionId: conn.info.id,
      parentId: conn.info.parentId,
      notify: say,
      terminate: () => {
        if (console_) console_.kill();
        else abort.abort();
      },
      close: () => {
        console_?.kill();
        channel.close();
      },
      ended,
    };
    deps.sessions.add(active);
    deps.metrics.activeSessions.inc();
    deps.metrics.sessions.inc({ kind: conn.info.kind });
    channel.once('close', () => {
      channelClosed = true;
      closedResolve();
      abort.abort();
      console_?.kill();
    });
    deps.audit.sessionStart({
      connectionId: conn.info.id,
      sessionId,
      user,
      keyId: conn.identity.keyId,
      app: target.app,
      target: targetLabel(conn),
      command: label ?? null,
      pty: Boolean(pty),
      ip: conn.info.ip,
      kind: conn.info.kind,
    });

    let status: ExitStatus | undefined;
    let error: string | undefined;
    try {
      const c = await deps.platform.openConsole(target.app, {
        command,
        pty: pty && size ? { ...pty, ...size } : pty,
        env,
        target: { process: target.process, pod: target.pod },
        sessionId,
        user,
        onStatus: say,
        signal: abort.signal,
      });
      console_ = c;
      if (channelClosed) {
        c.kill();
      } else {
        channel.on('data', (chunk: Buffer) => {
          bytesIn += chunk.length;
          deps.touch();
          if (!c.stdin.write(chunk)) {
            channel.pause();
            c.stdin.once('drain', () => channel.resume());
          }
        });
        channel.once('end', () => c.stdin.end());
        c.stdin.on('error', () => channel.resume()); // the process closed its stdin: drop input
      }
      const onOut = (n: number): void => {
        bytesOut += n;
        deps.touch();
      };
      const transport = conn.info.transport;
      await Promise.all([
        pump(c.stdout, channel, transport, closed, onOut),
        pump(c.stderr, channel.stderr, transport, closed, onOut),
      ]);
      status = await c.done;
    } catch (err) {
      if (err instanceof AppError) {
        error = `${err.code}: ${err.message}`;
        if (!channelClosed) say(`neetodeploy: ${err.userMessage}`);
      } else {
        error = (err as Error).message;
        log.error({ err }, 'console failed');
        if (!channelClosed)
          say(
            'neetodeploy: the console could not be started; try again, and tell your administrator if it persists',
          );
      }
    } finally {
      deps.userSessions.release(user);
      deps.sessions.delete(active);
      deps.metrics.activeSessions.dec();
      deps.metrics.bytes.inc({ direction: 'in' }, bytesIn);
      deps.metrics.bytes.inc({ direction: 'out' }, bytesOut);
      if (!channelClosed) {
        if (status?.signal !== undefined)
          channel.exit(status.signal, status.coreDumped ?? false, '');
        else channel.exit(status?.code ?? 1);
        channel.end();
      }
      deps.audit.sessionEnd({
        connectionId: conn.info.id,
        sessionId,
        user,
        app: target.app,
        target: targetLabel(conn),
        where: console_?.where,
        exitCode: status?.code,
        exitSignal: status?.signal,
        bytesIn,
        bytesOut,
        durationMs: deps.now().getTime() - startedAt.getTime(),
        error,
      });
      endedResolve();
    }
  }
}
