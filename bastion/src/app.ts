/**
 * The composition root of the bastion: builds each module and hands it what it needs. Follow a
 * connection from here: `server/` admits the socket, `connection/` owns it from then on and
 * hands each SSH event to its step (`auth/`, `session/`, `jump/`); every limit is in `limits/`.
 */
import type { AddressInfo } from 'node:net';
import { createAudit } from './audit.js';
import { createAuthenticationStep, recheckConnections } from './auth/index.js';
import type { BastionConfig } from './config.js';
import { createConnectionRegistry } from './connection/index.js';
import type { ChannelSteps } from './connection/index.js';
import { EVENTS } from './events.js';
import { earliestCertificateExpiry, loadHostKeys } from './host-keys.js';
import { createForwardAudit } from './forward/index.js';
import { handleDirectTcpip, jumpTarget } from './jump/index.js';
import {
  boundLogFields,
  createConnectionGate,
  createSourcePenalties,
  createUserSessions,
} from './limits/index.js';
import { createMetrics, createMetricsServer } from './metrics/index.js';
import { createRecordings } from './recording/index.js';
import type { BastionMetrics } from './metrics/index.js';
import { createSshServer } from './server/index.js';
import { handleSession } from './session/index.js';
import { createTrustStore } from './trust/index.js';
import type { BastionDeps } from './types.js';

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

export function createBastion(config: BastionConfig, deps: BastionDeps): Bastion {
  const now = deps.now ?? (() => new Date());
  // Every field of every line is bounded, whoever logs it: clients choose many of them.
  const bounded = deps.logger.child({}, { formatters: { log: boundLogFields } });
  const logger = bounded.child({ module: 'bastion' });
  const { limits } = config;
  const metrics = createMetrics();
  const audit = createAudit(bounded);
  const trust = createTrustStore(config.trust, logger.child({ module: 'trust' }), now);
  const penalties = createSourcePenalties(limits.perSourcePenalties, () => now().getTime());
  const gate = createConnectionGate(limits, Math.random, penalties);
  const userSessions = createUserSessions(limits.maxSessionsPerUser);

  const recordings = createRecordings(config.recording, { metrics });
  const sessionDeps = {
    platform: deps.platform,
    config,
    metrics,
    audit,
    userSessions,
    now,
    recordings,
  };
  const forward = {
    platform: deps.platform,
    config: config.portForwarding,
    perUser: createUserSessions(config.portForwarding.maxPerUser),
    metrics,
    audit: createForwardAudit(bounded),
    now,
  };
  const jumpDeps = { suffix: config.virtualHostSuffix, metrics, forward };
  const channels: ChannelSteps = {
    onSession: (accept, reject, scope) => handleSession(accept, reject, scope, sessionDeps),
    onDirectTcpip: (accept, reject, request, scope) =>
      handleDirectTcpip(accept, reject, request, scope, jumpDeps),
    isPortForward: (request, scope) =>
      jumpTarget(request, scope.conn, config.virtualHostSuffix) === undefined,
  };
  const connections = createConnectionRegistry({
    limits,
    penalties,
    logger,
    metrics,
    now,
    authentication: createAuthenticationStep({
      trust: () => trust.current(),
      now,
      limits,
      metrics,
      audit,
      penalties,
    }),
    channels,
    draining: () => server.draining,
    serve: (transport) => server.serve(transport),
  });
  const server = createSshServer({
    listen: config.listen,
    limits,
    algorithms: config.algorithms,
    gate,
    connections,
    metrics,
    logger,
    now,
  });
  // Revocation reaches live sessions: each new trusted state is checked against every
  // authenticated connection, within one poll or reload interval of the change.
  trust.onChange((snapshot) =>
    recheckConnections(connections.all(), snapshot, { now, metrics, logger }),
  );
  let metricsServer: ReturnType<typeof createMetricsServer> | undefined;
  let stopped = false;

  async function listenForMetrics(): Promise<AddressInfo | undefined> {
    if (!config.metrics) return undefined;
    metricsServer = createMetricsServer(metrics, () => {
      if (server.draining) return { ok: false, reason: 'draining' };
      if (!trust.current()) return { ok: false, reason: 'no trusted CA loaded' };
      return { ok: true };
    });
    return metricsServer.listen(config.metrics.host, config.metrics.port);
  }

  const bastion: Bastion = {
    metrics,
    activeSessions: () => connections.sessions().length,
    unauthenticated: () => gate.unauthenticated,
    async start() {
      await trust.start();
      const hostKeys = await loadHostKeys(config.hostKeys);
      const expiry = earliestCertificateExpiry(hostKeys);
      if (expiry !== undefined) metrics.hostCertificateExpiry.set(expiry);
      const ssh = await server.listen(hostKeys);
      const metricsAddr = await listenForMetrics();
      logger.info({ event: EVENTS.listening, ssh, metrics: metricsAddr }, 'bastion listening');
      return { ssh, metrics: metricsAddr };
    },
    async drain() {
      if (server.draining) return;
      await server.drain(config.drain.timeoutMs);
      await bastion.stop();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      trust.stop();
      await server.stop();
      await recordings?.close();
      await metricsServer?.close();
    },
  };
  return bastion;
}
