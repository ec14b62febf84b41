import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** The bastion's Prometheus metrics, on a registry of its own (several bastions per process in tests). */
export interface BastionMetrics {
  readonly registry: Registry;
  readonly connections: Counter<'kind'>;
  readonly activeConnections: Gauge<'kind'>;
  readonly handshakes: Counter<'result'>;
  /** Finished key exchanges by algorithm: how many clients get a post-quantum one. */
  readonly keyExchanges: Counter<'kex'>;
  readonly authResults: Counter<'result' | 'reason'>;
  readonly limitRejections: Counter<'limit'>;
  readonly activeSessions: Gauge;
  readonly sessions: Counter<'kind'>;
  readonly bytes: Counter<'direction'>;
  readonly refusedChannels: Counter<'type'>;
  /** Port forwards (`direct-tcpip` to localhost:PORT in a process) open right now. */
  readonly activeForwards: Gauge;
  /** Forwarded bytes; direction "in" is from the client. */
  readonly forwardBytes: Counter<'direction'>;
  /** Refused port forwards by reason (not-permitted, destination, no-target, limit, ...). */
  readonly forwardRefusals: Counter<'reason'>;
  /** The earliest `valid before` of the host certificates served (the chart alerts on it). */
  readonly hostCertificateExpiry: Gauge;
  /** Session recordings by outcome (`stored`, `failed`, `refused`, `off`). */
  readonly recordings: Counter<'result'>;
  /** Recording bytes left out (policy `output-only` input excluded): past the limit or the spool. */
  readonly recordingDroppedBytes: Counter;
}

export function createMetrics(): BastionMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'neetodeploy_bastion_' });
  const p = 'neetodeploy_bastion_';
  return {
    registry,
    connections: new Counter({
      name: `${p}connections_total`,
      help: 'Accepted connections',
      labelNames: ['kind'],
      registers: [registry],
    }),
    activeConnections: new Gauge({
      name: `${p}active_connections`,
      help: 'Open connections',
      labelNames: ['kind'],
      registers: [registry],
    }),
    handshakes: new Counter({
      name: `${p}handshakes_total`,
      help: 'SSH handshakes',
      labelNames: ['result'],
      registers: [registry],
    }),
    keyExchanges: new Counter({
      name: `${p}key_exchanges_total`,
      help: 'Finished key exchanges by algorithm',
      labelNames: ['kex'],
      registers: [registry],
    }),
    authResults: new Counter({
      name: `${p}auth_results_total`,
      help: 'Authentication results by reason',
      labelNames: ['result', 'reason'],
      registers: [registry],
    }),
    limitRejections: new Counter({
      name: `${p}limit_rejections_total`,
      help: 'Connections, channels or sessions refused by a limit',
      labelNames: ['limit'],
      registers: [registry],
    }),
    activeSessions: new Gauge({
      name: `${p}active_sessions`,
      help: 'Open console sessions',
      registers: [registry],
    }),
    sessions: new Counter({
      name: `${p}sessions_total`,
      help: 'Console sessions started',
      labelNames: ['kind'],
      registers: [registry],
    }),
    bytes: new Counter({
      name: `${p}session_bytes_total`,
      help: 'Console bytes; direction "in" is from the client',
      labelNames: ['direction'],
      registers: [registry],
    }),
    refusedChannels: new Counter({
      name: `${p}refused_requests_total`,
      help: 'Refused channels and requests (forwarding, agent, X11, subsystems)',
      labelNames: ['type'],
      registers: [registry],
    }),
    activeForwards: new Gauge({
      name: `${p}active_forwards`,
      help: 'Open port forwards',
      registers: [registry],
    }),
    forwardBytes: new Counter({
      name: `${p}forward_bytes_total`,
      help: 'Port-forwarded bytes; direction "in" is from the client',
      labelNames: ['direction'],
      registers: [registry],
    }),
    forwardRefusals: new Counter({
      name: `${p}forward_refusals_total`,
      help: 'Refused port forwards by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    hostCertificateExpiry: new Gauge({
      name: `${p}host_certificate_expiry_timestamp_seconds`,
      help: 'When the first of the host certificates served expires (Unix seconds)',
      registers: [registry],
    }),
    recordings: new Counter({
      name: `${p}recordings_total`,
      help: 'Session recordings by result (stored, failed, refused, off)',
      labelNames: ['result'],
      registers: [registry],
    }),
    recordingDroppedBytes: new Counter({
      name: `${p}recording_dropped_bytes_total`,
      help: 'Session bytes kept only as hashes (past the per-session limit, or a slow store)',
      registers: [registry],
    }),
  };
}

/** `/metrics`, `/healthz` (process alive) and `/readyz` (trust loaded, not draining). */
export function createMetricsServer(
  metrics: BastionMetrics,
  ready: () => { ok: boolean; reason?: string },
): { listen(host: string, port: number): Promise<AddressInfo>; close(): Promise<void> } {
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (req.method !== 'GET') {
      res.writeHead(405).end();
      return;
    }
    if (url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (url === '/readyz') {
      const r = ready();
      res
        .writeHead(r.ok ? 200 : 503, { 'content-type': 'text/plain' })
        .end(r.ok ? 'ready\n' : `${r.reason ?? 'not ready'}\n`);
    } else if (url === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    } else {
      res.writeHead(404).end();
    }
  });
  return {
    listen: (host, port) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve(server.address() as AddressInfo));
      }),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
