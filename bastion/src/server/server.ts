/**
 * Listens, drains and stops: everything between a TCP socket and the connection registry. Each
 * socket is admitted (`limits/`) or refused before SSH starts on it. Behind a load balancer that
 * speaks PROXY protocol, the socket first gives its header (`proxy-header.ts`) and is admitted
 * as the client the header names.
 */
import net from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import ssh2 from 'ssh2';
import type { Logger } from 'pino';
import type { LimitsConfig, ProxyProtocolConfig } from '../config.js';
import { directTransport, normalizeIp } from '../connection/index.js';
import type { ConnectionRegistry } from '../connection/index.js';
import { EVENTS } from '../events.js';
import type { ConnectionGate } from '../limits/index.js';
import type { BastionMetrics } from '../metrics/index.js';
import { injectStream } from '../ssh2-internals.js';
import type { AlgorithmOptions } from './algorithms.js';
import { serverAlgorithms } from './algorithms.js';
import { drainConnections } from './drain.js';
import { createProxyFront } from './proxy-header.js';
import type { HeaderOutcome } from './proxy-header.js';
import type { SshServer } from './types.js';

export interface SshServerDeps {
  /** Where to listen, and whether a load balancer in front speaks PROXY protocol. */
  readonly listen: {
    readonly host: string;
    readonly port: number;
    readonly proxyProtocol?: ProxyProtocolConfig;
  };
  readonly limits: LimitsConfig;
  readonly algorithms: AlgorithmOptions;
  readonly gate: ConnectionGate;
  readonly connections: ConnectionRegistry;
  readonly metrics: BastionMetrics;
  readonly logger: Logger;
  readonly now: () => Date;
}

export function createSshServer(deps: SshServerDeps): SshServer {
  const { logger, metrics, connections } = deps;
  let ssh: ssh2.Server | undefined;
  let tcp: net.Server | undefined;
  let draining = false;
  let stopped = false;

  function refuse(socket: Socket, ip: string, reason: string): void {
    metrics.limitRejections.inc({ limit: reason });
    // A penalised source retrying in a loop would otherwise write a log line per attempt.
    const level = reason === 'per-source-penalty' ? 'debug' : 'warn';
    logger[level]({ event: EVENTS.connectionRejected, ip, reason }, 'connection refused');
    socket.destroy();
  }

  const proxyProtocol = deps.listen.proxyProtocol;
  const proxy = proxyProtocol?.enabled
    ? createProxyFront(proxyProtocol, deps.limits.maxStartups.full, () =>
        metrics.limitRejections.inc({ limit: 'proxy-header-evicted' }),
      )
    : undefined;

  /** The first step of every connection, before a single SSH byte is read. */
  function onTcp(socket: Socket): void {
    socket.on('error', () => undefined);
    socket.setNoDelay(true);
    const peer = normalizeIp(socket.remoteAddress);
    if (draining) return refuse(socket, peer, 'draining');
    if (!proxy) return admit(socket, { ip: peer, port: socket.remotePort ?? 0 });
    // Only a balancer may say who the client is: anyone else could claim any address.
    if (!proxy.trusts(peer)) return refuse(socket, peer, 'proxy-protocol-untrusted-source');
    void proxy.readHeader(socket).then((outcome) => afterHeader(socket, peer, outcome));
  }

  function afterHeader(socket: Socket, peer: string, outcome: HeaderOutcome): void {
    if (!outcome.ok) {
      if (outcome.reason === 'closed') return;
      metrics.limitRejections.inc({ limit: outcome.reason });
      logger.warn(
        {
          event: EVENTS.connectionRejected,
          ip: peer,
          reason: outcome.reason,
          problem: outcome.problem,
        },
        'connection refused: no valid PROXY protocol header',
      );
      socket.destroy();
      return;
    }
    if (draining) return refuse(socket, peer, 'draining');
    const { header } = outcome;
    // LOCAL (the balancer's health check) and UNSPEC name no client: the balancer is the client.
    const client =
      header.kind === 'proxied' ? header.source : { ip: peer, port: socket.remotePort ?? 0 };
    admit(socket, client, peer);
  }

  /** Admission (`limits/`) of `client`, then SSH. `proxiedBy`: the balancer that named it. */
  function admit(
    socket: Socket,
    client: { readonly ip: string; readonly port: number },
    proxiedBy?: string,
  ): void {
    const { ip } = client;
    const admission = deps.gate.admit(socket, ip);
    if (!admission.ok) return refuse(socket, ip, admission.reason);
    if (admission.evicted > 0) {
      metrics.limitRejections.inc({ limit: 'max-startups-evicted' }, admission.evicted);
      logger.warn(
        { event: EVENTS.limit, limit: 'max-startups-evicted', count: admission.evicted },
        'evicted unauthenticated connections',
      );
    }
    socket.on('close', () => admission.release());
    const transport = directTransport(socket, client, admission, deps.now());
    if (proxiedBy !== undefined) {
      logger.debug(
        { event: EVENTS.connectionAccepted, connectionId: transport.info.id, ip, proxiedBy },
        'client named by PROXY protocol header',
      );
    }
    connections.open(transport);
    ssh?.injectSocket(socket);
  }

  return {
    get draining() {
      return draining;
    },
    async listen(hostKeys) {
      ssh = new ssh2.Server(
        {
          hostKeys: hostKeys.map((k) => ({ key: k.key, certificate: k.certificate })),
          ident: 'neetodeploy_bastion',
          algorithms: serverAlgorithms(deps.algorithms),
          keepaliveInterval: deps.limits.keepaliveIntervalMs,
          keepaliveCountMax: deps.limits.keepaliveCountMax,
        },
        (client) => connections.attach(client),
      );
      const server = net.createServer({ noDelay: true }, onTcp);
      tcp = server;
      server.maxConnections = 65536;
      return new Promise<AddressInfo>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: deps.listen.host, port: deps.listen.port, backlog: 1024 }, () =>
          resolve(server.address() as AddressInfo),
        );
      });
    },
    serve(transport) {
      if (!ssh) return transport.kill();
      const { ip, port } = transport.info;
      injectStream(ssh, transport.stream, { ip, port });
    },
    async drain(timeoutMs) {
      if (draining) return;
      draining = true;
      tcp?.close();
      proxy?.closeAll();
      await drainConnections(connections, timeoutMs, logger);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      draining = true;
      proxy?.closeAll();
      for (const s of connections.sessions()) s.close();
      await Promise.all(connections.all().map((c) => c.close()));
      await new Promise<void>((resolve) => {
        if (!tcp?.listening) return resolve();
        tcp.close(() => resolve());
      });
    },
  };
}
