/**
 * Request metrics labelled by the route that served the request, as the router matched it
 * (`/api/v1/apps/:app/config`): a new route is labelled the moment it exists, and the label set
 * stays bounded because it is the set of route patterns. Requests no route matched share
 * {@link UNMATCHED_ROUTE}.
 */
import type { Request, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { EVENTS } from '../events.js';
import type { KeysMetrics } from '../metrics.js';

/** The label of requests no route matched (404s, wrong methods). */
export const UNMATCHED_ROUTE = 'other';

/** A route's label: the mount path of its router joined to its own path. */
export function routeLabel(baseUrl: string, routePath: string): string {
  if (routePath === '/' && baseUrl !== '') return baseUrl;
  return `${baseUrl}${routePath}`;
}

interface MatchedRoute {
  readonly path: unknown;
}

/**
 * Remembers the label of the last route the router matched for this request. The router
 * assigns `req.route` when it dispatches to a route, and `req.baseUrl` is the mount path only
 * at that moment (it is restored when the request leaves a router, e.g. on an error), so the
 * label is taken then, through an accessor, rather than read back when the response finishes.
 */
function trackMatchedRoute(req: Request): () => string {
  let label = UNMATCHED_ROUTE;
  let route: MatchedRoute | undefined;
  Object.defineProperty(req, 'route', {
    configurable: true,
    enumerable: true,
    get: () => route,
    set: (value: MatchedRoute | undefined) => {
      route = value;
      if (value && typeof value.path === 'string') label = routeLabel(req.baseUrl, value.path);
    },
  });
  return () => label;
}

/** Counts every request and observes its duration by route, once its response has finished. */
export function requestMetrics(metrics: KeysMetrics, logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    const method = req.method;
    const matched = trackMatchedRoute(req);
    res.once('finish', () => {
      const route = matched();
      const status = res.statusCode;
      metrics.requests.inc({ method, route, status: String(status) });
      metrics.requestDuration.observe({ route }, (performance.now() - started) / 1000);
      logger.debug({ event: EVENTS.request, method, route, status }, 'request');
    });
    next();
  };
}
