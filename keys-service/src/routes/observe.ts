/**
 * What every request gets, whichever handler serves it: the security headers, the request
 * counter and duration histogram by route, and a debug log line.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { EVENTS } from '../events.js';
import type { KeysMetrics } from '../metrics.js';
import { setSecurityHeaders } from './security-headers.js';

/** The routes metrics are labelled with; anything else is `other` (bounded cardinality). */
const KNOWN_ROUTES = new Set([
  '/api/v1/login-sessions',
  '/api/v1/login-sessions/token',
  '/api/v1/me',
  '/api/v1/tokens/current',
  '/api/v1/apps',
  '/api/v1/certificates',
  '/api/v1/ca',
  '/device',
  '/device/sign-in',
  '/device/code',
  '/device/decision',
  '/device/sign-out',
  '/device/style.css',
  '/healthz',
  '/readyz',
  '/metrics',
]);

export function pathnameOf(url: string | undefined): string {
  const u = url ?? '/';
  const q = u.indexOf('?');
  return q < 0 ? u : u.slice(0, q);
}

export function routeLabel(pathname: string): string {
  return KNOWN_ROUTES.has(pathname) ? pathname : 'other';
}

export interface RequestObserver {
  /** Sets the security headers and records the request once its response has finished. */
  observe(req: IncomingMessage, res: ServerResponse): void;
  /** Records a request whose handler wrote the answer itself (started: `performance.now()`). */
  record(method: string, route: string, status: number, started: number): void;
}

export function createRequestObserver(metrics: KeysMetrics, logger: Logger): RequestObserver {
  const record = (method: string, route: string, status: number, started: number): void => {
    metrics.requests.inc({ method, route, status: String(status) });
    metrics.requestDuration.observe({ route }, (performance.now() - started) / 1000);
    logger.debug({ event: EVENTS.request, method, route, status }, 'request');
  };
  return {
    record,
    observe(req, res) {
      setSecurityHeaders(res);
      const started = performance.now();
      // Read the URL now: express rewrites req.url relative to each router.
      const route = routeLabel(pathnameOf(req.url));
      const method = req.method ?? 'GET';
      res.once('finish', () => record(method, route, res.statusCode, started));
    },
  };
}
