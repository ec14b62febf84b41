/**
 * Prometheus metrics of one keys-service instance, in its own registry (several instances can
 * live in one test process).
 */
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface KeysMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'method' | 'route' | 'status'>;
  readonly requestDuration: Histogram<'route'>;
  readonly logins: Counter<'result'>;
  readonly certificatesIssued: Counter;
  readonly failures: Counter<'reason'>;
}

export function createMetrics(options: { processMetrics: boolean }): KeysMetrics {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  return {
    registry,
    requests: new Counter({
      name: 'neetodeploy_keys_http_requests_total',
      help: 'HTTP requests by method, route and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    }),
    requestDuration: new Histogram({
      name: 'neetodeploy_keys_http_request_duration_seconds',
      help: 'HTTP request duration by route',
      labelNames: ['route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    logins: new Counter({
      name: 'neetodeploy_keys_logins_total',
      help: 'Device logins by result (approved, denied, sign_in_failed, token_issued)',
      labelNames: ['result'],
      registers: [registry],
    }),
    certificatesIssued: new Counter({
      name: 'neetodeploy_keys_certificates_issued_total',
      help: 'User certificates issued',
      registers: [registry],
    }),
    failures: new Counter({
      name: 'neetodeploy_keys_failures_total',
      help: 'Refused or failed requests by reason (error code)',
      labelNames: ['reason'],
      registers: [registry],
    }),
  };
}
