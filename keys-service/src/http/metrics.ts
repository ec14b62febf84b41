/**
 * Request metrics labelled by the route that served the request, as the router matched it
 * (`/api/v1/apps/:app/config`): a new route is labelled the moment it exists, and the label set
 * stays bounded because it is the set of route patterns. Requests no route matched share
 * {@link UNMATCHED_ROUTE}. {@link labelMatchedRoutes} must be called on the app first.
 */
import type { Express, RequestHandler } from 'express';
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

const ROUTE = Symbol('matched route');
const LABEL = Symbol('matched route label');

interface LabelledRequest {
  [ROUTE]?: MatchedRoute;
  [LABEL]?: string;
  readonly baseUrl: string;
}

/**
 * Makes `req.route` an accessor on the app's request prototype that remembers the label of the
 * last route the router matched. The router assigns `req.route` when it dispatches to a route,
 * and `req.baseUrl` is the mount path only at that moment (it is restored when the request
 * leaves a router, e.g. on an error), so the label is taken then rather than read back when the
 * response finishes. On the prototype, not on each request: an accessor defined per object
 * turns every request into a slow dictionary-mode object.
 */
export function labelMatchedRoutes(app: Express): void {
  Object.defineProperty(app.request, 'route', {
    configurable: true,
    enumerable: true,
    get(this: LabelledRequest) {
      return this[ROUTE];
    },
    set(this: LabelledRequest, value: MatchedRoute | undefined) {
      this[ROUTE] = value;
      if (value && typeof value.path === 'string') {
        this[LABEL] = routeLabel(this.baseUrl, value.path);
      }
    },
  });
}

/** Counts every request and observes its duration by route, once its response has finished. */
export function requestMetrics(metrics: KeysMetrics, logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    const method = req.method;
    res.once('finish', () => {
      const route = (req as unknown as LabelledRequest)[LABEL] ?? UNMATCHED_ROUTE;
      const status = res.statusCode;
      metrics.requests.inc({ method, route, status: String(status) });
      metrics.requestDuration.observe({ route }, (performance.now() - started) / 1000);
      logger.debug({ event: EVENTS.request, method, route, status }, 'request');
    });
    next();
  };
}
