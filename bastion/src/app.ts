/**
 * The one place that wires the bastion's modules together: TCP admission (limits), ssh2
 * transport, authentication, session channels, ProxyJump virtual hosts, metrics, drain.
 */
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import ssh2 from 'ssh2';
import type { Connection, ServerChannel } from 'ssh2';
import { createAudit } from './audit.js';
import { attachAuthenticator } from './auth/index.js';
import type { BastionConfig } from './config.js';
import { EVENTS } from './events.js';
import { loadHostKeys } from './host-keys.js';
import { handleDirectTcpip } from './jump/index.js';
import { createConnectionGate, createUserSessions } from './limits/index.js';
import type { Admitted } from './limits/index.js';
import { createMetrics, createMetricsServer } from './metrics/index.js';
import type { BastionMetrics } from './metrics/index.js';
import { handleSession } from './session/index.js';
import type { ActiveSession } from './session/index.js';
import { createTrustStore } from './trust/index.js';
import type { AuthenticatedConnection, BastionDeps, ConnectionInfo } from './types.js';

/** How long a closing connection may take to flush before its socket is destroyed. */
const CLOSE_GRACE_MS = 1000;

export interface BastionAddresses {
  readonly ssh: AddressInfo;
  readonly metrics?: AddressInfo;
}

export interface Bastion {
  /** Loads trust and host keys, then listens; resolves with the bound addresses (port 0 works). */
  start(): Promise<BastionAddresses>;
  /**
   * Graceful drain: stop accepting, tell open sessions on stderr that the bastion is restarting,
   * wait for them up to `drain.timeoutMs`, then close everything.
   */
  drain(): Promise<void>;
  /** Closes everything now. Idempotent. */
  stop(): Promise<void>;
  readonly metrics: BastionMetrics;
  /** Open console sessions (for tests and the drain). */
  activeSessions(): number;
  /** Unauthenticated connections right now. */
  unauthenticated(): number;
}

interface Live {
  readonly info: ConnectionInfo;
  readonly client: Connection;
  authenticated?: AuthenticatedConnection;
  channels: number;
  touch(): void;
  timers: NodeJS.Timeout[];
  admitted?: Admitted;
}

function normalizeIp(ip: string | undefined): string {
  if (!ip) return 'unknown';
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

export function createBastion(config: BastionConfig, deps: BastionDeps): Bastion {
  const now = deps.now ?? (() => new Date());
  const logger = deps.logger.child({ module: 'bastion' });
  const metrics = createMetrics();
  const audit = createAudit(deps.logger);
  const trust = createTrustStore(config.trust, logger.child({ module: 'trust' }), now);
  const gate = createConnectionGate(config.limits);
  const userSessions = createUserSessions(config.limits.maxSessionsPerUser);
  const sessions = new Set<ActiveSession>();
  const lives = new Map<ConnectionInfo, Live>();
  // ssh2 gives the connection handler its client, not our socket; this maps the transport
  // stream (TCP socket or jump channel) to what we know about it.
  const deadlines = new WeakMap<ConnectionInfo, () => void>();
  const pendingInfo = new WeakMap<
    object,
    { info: ConnectionInfo; admitted?: Admitted; parent?: Live }
  >();
  const limits = config.limits;

  let sshServer: ssh2.Server | undefined;
  let tcpServer: net.Server | undefined;
  let metricsServer: ReturnType<typeof createMetricsServer> | undefined;
  let draining = false;
  let stopped = false;

  const refuseTcp = (socket: Socket, ip: string, reason: string): void => {
    metrics.limitRejections.inc({ limit: reason });
    logger.warn({ event: EVENTS.connectionRejected, ip, reason }, 'connection refused');
    socket.destroy();
  };

  function onTcp(socket: Socket): void {
    socket.on('error', () => undefined);
    socket.setNoDelay(true);
    const ip = normalizeIp(socket.remoteAddress);
    if (draining) {
      refuseTcp(socket, ip, 'draining');
      return;
    }
    const admission = gate.admit(socket, ip);
    if (!admission.ok) {
      refuseTcp(socket, ip, admission.reason);
      return;
    }
    if (admission.evicted > 0) {
      metrics.limitRejections.inc({ limit: 'max-startups-evicted-silent' }, admission.evicted);
      logger.warn(
        { event: EVENTS.limit, limit: 'max-startups-evicted-silent', count: admission.evicted },
        'evicted silent connections',
      );
    }
    socket.once('close', () => admission.release());
    const info: ConnectionInfo = {
      id: randomUUID(),
      ip,
      port: socket.remotePort ?? 0,
      kind: 'direct',
      transport: [socket],
      startedAt: now(),
    };
    socket.setMaxListeners(50);
    pendingInfo.set(socket, { info, admitted: admission });
    armAuthDeadline(socket, info, () => socket.destroy());
    metrics.connections.inc({ kind: 'direct' });
    sshServer?.injectSocket(socket);
  }

  /** LoginGraceTime: `kill` ends the transport if authentication has not succeeded by then. */
  function armAuthDeadline(stream: Duplex, info: ConnectionInfo, kill: () => void): void {
    const timer = setTimeout(() => {
      if (lives.get(info)?.authenticated) return;
      metrics.limitRejections.inc({ limit: 'auth-timeout' });
      logger.warn(
        { event: EVENTS.limit, limit: 'auth-timeout', connectionId: info.id, ip: info.ip },
        'authentication deadline passed',
      );
      kill();
    }, limits.authTimeoutMs);
    timer.unref();
    stream.once('close', () => clearTimeout(timer));
    deadlines.set(info, () => clearTimeout(timer));
  }

  function serveVirtualHost(
    channel: ServerChannel,
    app: string,
    parent: AuthenticatedConnection,
  ): void {
    const parentLive = lives.get(parent.info);
    const info: ConnectionInfo = {
      id: randomUUID(),
      ip: parent.info.ip,
      port: parent.info.port,
      kind: 'jump',
      virtualHostApp: app,
      parentId: parent.info.id,
      transport: [channel, ...parent.info.transport],
      startedAt: now(),
    };
    // ssh2 reads the client address from the "socket"; source-address checks need the real one.
    Object.assign(channel, {
      remoteAddress: parent.info.ip,
      remotePort: parent.info.port,
      remoteFamily: 'IPv4',
    });
    // A killed client ends the outer channel; end ours too or the inner session lingers.
    channel.once('end', () => channel.end());
    channel.setMaxListeners(50);
    pendingInfo.set(channel, { info, parent: parentLive });
    // Closing the channel (not destroying the stream) tells the client's jump hop it is over.
    armAuthDeadline(channel, info, () => channel.close());
    metrics.connections.inc({ kind: 'jump' });
    sshServer?.injectSocket(channel as unknown as Socket);
  }

  function onSshConnection(client: Connection): void {
    const sock = (client as unknown as { _sock?: object })._sock;
    const known = sock ? pendingInfo.get(sock) : undefined;
    if (!known) {
      client.end();
      return;
    }
    const { info, admitted, parent } = known;
    const log = logger.child({ connectionId: info.id, ip: info.ip, kind: info.kind });
    let idleTimer: NodeJS.Timeout | undefined;
    const live: Live = {
      info,
      client,
      channels: 0,
      timers: [],
      admitted,
      touch() {
        idleTimer?.refresh();
        parent?.touch();
      },
    };
    lives.set(info, live);
    metrics.activeConnections.inc({ kind: info.kind });

    client.on('error', (err: Error & { level?: string }) => {
      log.debug(
        { event: EVENTS.connectionError, err: err.message, level: err.level },
        'connection error',
      );
    });
    client.once('handshake', () => metrics.handshakes.inc({ result: 'ok' }));
    client.once('close', () => {
      lives.delete(info);
      for (const t of live.timers) clearTimeout(t);
      metrics.activeConnections.dec({ kind: info.kind });
      if (!live.authenticated) metrics.handshakes.inc({ result: 'closed-before-auth' });
      log.debug({ event: EVENTS.connectionClosed }, 'connection closed');
    });

    attachAuthenticator(
      client,
      { state: 'pending', info },
      { trust: () => trust.current(), now, limits, logger: log, metrics, audit },
      (conn) => {
        live.authenticated = conn;
        admitted?.authenticated();
        deadlines.get(info)?.();
        idleTimer = setTimeout(() => {
          metrics.limitRejections.inc({ limit: 'idle-timeout' });
          log.info({ event: EVENTS.limit, limit: 'idle-timeout' }, 'idle connection closed');
          endConnection(live, 'neetodeploy: connection idle for too long, closing');
        }, limits.idleTimeoutMs);
        const maxTimer = setTimeout(() => {
          metrics.limitRejections.inc({ limit: 'max-session-length' });
          log.info(
            { event: EVENTS.limit, limit: 'max-session-length' },
            'maximum session length reached',
          );
          endConnection(live, 'neetodeploy: maximum session length reached, closing');
        }, limits.maxSessionMs);
        idleTimer.unref();
        maxTimer.unref();
        live.timers.push(idleTimer, maxTimer);
      },
    );

    const reserveChannel = (type: string): boolean => {
      if (live.channels >= limits.maxChannelsPerConnection) {
        metrics.limitRejections.inc({ limit: 'channels-per-connection' });
        log.warn(
          { event: EVENTS.limit, limit: 'channels-per-connection', type },
          'too many channels',
        );
        return false;
      }
      live.channels++;
      return true;
    };

    client.on('session', (accept, reject) => {
      const conn = live.authenticated;
      if (!conn || draining || !reserveChannel('session')) {
        reject();
        return;
      }
      handleSession(
        () => {
          const s = accept();
          s.once('close', () => live.channels--);
          return s;
        },
        reject,
        conn,
        {
          platform: deps.platform,
          config,
          logger: log,
          metrics,
          audit,
          userSessions,
          sessions,
          now,
          touch: () => live.touch(),
        },
      );
    });
    client.on('tcpip', (accept, reject, request) => {
      const conn = live.authenticated;
      if (!conn || draining || !reserveChannel('direct-tcpip')) {
        reject();
        return;
      }
      handleDirectTcpip(
        () => {
          const ch = accept();
          ch.once('close', () => live.channels--);
          return ch;
        },
        () => {
          live.channels--;
          reject();
        },
        request,
        conn,
        { suffix: config.virtualHostSuffix, logger: log, metrics, serveVirtualHost },
      );
    });
    client.on('request', (_accept, reject, name) => {
      metrics.refusedChannels.inc({ type: name });
      log.warn({ event: EVENTS.requestRejected, request: name }, 'global request refused');
      reject?.();
    });
    client.on('openssh.streamlocal', (_accept, reject) => {
      metrics.refusedChannels.inc({ type: 'streamlocal' });
      log.warn(
        { event: EVENTS.channelRejected, channel: 'direct-streamlocal' },
        'streamlocal refused',
      );
      reject();
    });
  }

  /** Tells the connection's sessions why, lets their consoles end, then closes it. */
  function endConnection(live: Live, message: string): void {
    const mine = [...sessions].filter(
      (s) => s.connectionId === live.info.id || s.parentId === live.info.id,
    );
    for (const s of mine) {
      s.notify(message);
      s.terminate();
    }
    let timer: NodeJS.Timeout | undefined;
    void Promise.race([
      Promise.all(mine.map((s) => s.ended)),
      new Promise<void>((r) => (timer = setTimeout(r, 2000))),
    ]).then(() => {
      clearTimeout(timer);
      try {
        live.client.end();
      } catch {
        // already closed
      }
    });
  }

  /**
   * An OpenSSH client whose last channel has just closed hangs up by itself; an SSH disconnect
   * sent before that makes it exit 255 and lose the exit status it already received, and
   * destroying the socket drops what ssh2 still has queued. So: wait for the client, then
   * disconnect, then destroy, each after a short grace.
   */
  function closeConnection(live: Live): Promise<void> {
    const sock = live.info.kind === 'direct' ? live.info.transport.at(-1) : undefined;
    const disconnect = (): void => {
      try {
        live.client.end();
      } catch {
        // already gone
      }
    };
    if (!(sock instanceof net.Socket) || sock.destroyed) {
      disconnect();
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const ending = setTimeout(disconnect, CLOSE_GRACE_MS);
      const killing = setTimeout(() => sock.destroy(), 2 * CLOSE_GRACE_MS);
      sock.once('close', () => {
        clearTimeout(ending);
        clearTimeout(killing);
        resolve();
      });
    });
  }

  async function closeAll(): Promise<void> {
    for (const s of [...sessions]) s.close();
    await Promise.all([...lives.values()].map(closeConnection));
    await new Promise<void>((resolve) => {
      if (!tcpServer?.listening) return resolve();
      tcpServer.close(() => resolve());
    });
  }

  return {
    metrics,
    activeSessions: () => sessions.size,
    unauthenticated: () => gate.unauthenticated,
    async start() {
      await trust.start();
      const hostKeys = await loadHostKeys(config.hostKeys);
      sshServer = new ssh2.Server(
        {
          hostKeys: hostKeys.map((k) => ({ key: k.key, certificate: k.certificate })),
          ident: 'neetodeploy_bastion',
          keepaliveInterval: limits.keepaliveIntervalMs,
          keepaliveCountMax: limits.keepaliveCountMax,
        },
        onSshConnection,
      );
      tcpServer = net.createServer({ noDelay: true }, onTcp);
      tcpServer.maxConnections = 65536;
      const ssh = await new Promise<AddressInfo>((resolve, reject) => {
        tcpServer!.once('error', reject);
        tcpServer!.listen(
          { host: config.listen.host, port: config.listen.port, backlog: 1024 },
          () => resolve(tcpServer!.address() as AddressInfo),
        );
      });
      let metricsAddr: AddressInfo | undefined;
      if (config.metrics) {
        metricsServer = createMetricsServer(metrics, () => {
          if (draining) return { ok: false, reason: 'draining' };
          if (!trust.current()) return { ok: false, reason: 'no trusted CA loaded' };
          return { ok: true };
        });
        metricsAddr = await metricsServer.listen(config.metrics.host, config.metrics.port);
      }
      logger.info({ event: EVENTS.listening, ssh, metrics: metricsAddr }, 'bastion listening');
      return { ssh, metrics: metricsAddr };
    },
    async drain() {
      if (draining) return;
      draining = true;
      logger.info({ event: EVENTS.drainStart, sessions: sessions.size }, 'draining');
      tcpServer?.close();
      for (const l of [...lives.values()]) if (!l.authenticated) l.client.end();
      const seconds = Math.ceil(config.drain.timeoutMs / 1000);
      for (const s of sessions) {
        s.notify(
          `neetodeploy: the bastion is restarting; this session will be closed within ${seconds}s. Reconnect to continue.`,
        );
      }
      const all = Promise.all([...sessions].map((s) => s.ended));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        all,
        new Promise<void>((r) => (timer = setTimeout(r, config.drain.timeoutMs))),
      ]);
      clearTimeout(timer);
      logger.info({ event: EVENTS.drainDone, remaining: sessions.size }, 'drain done');
      await this.stop();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      draining = true;
      trust.stop();
      await closeAll();
      await metricsServer?.close();
    },
  };
}
