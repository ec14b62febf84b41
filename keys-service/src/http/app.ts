/**
 * The express app of the keys-service: security headers and request metrics on everything,
 * health endpoints, the JSON API under /api/v1, the sign-in pages under /device,
 * and a JSON 404 for the rest.
 */
import cookieParser from 'cookie-parser';
import express from 'express';
import type { Express } from 'express';
import { NotFound } from '@neetodeploy/platform';
import type { Authenticator } from '../auth/index.js';
import type { DomainContext } from '../domain/index.js';
import { EVENTS } from '../events.js';
import { createApiRouter } from './api/router.js';
import { apiErrorHandler } from './errors.js';
import { labelMatchedRoutes, requestMetrics } from './metrics.js';
import { securityHeaders } from './security-headers.js';
import { createWebRouter } from './web/router.js';

export interface HttpAppOptions {
  /** Base URL for verification links (config.publicUrl or the bound address). */
  readonly baseUrl: () => string;
  /** True once the service is stopping: /readyz answers 503 so load balancers move away. */
  readonly draining: () => boolean;
  readonly authenticator: Authenticator;
  /** Signs the sign-in pages' cookies (shared by replicas). */
  readonly cookieSecret: Buffer;
}

export function createHttpApp(ctx: DomainContext, options: HttpAppOptions): Express {
  const { config, logger, metrics } = ctx;
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('trust proxy', config.trustProxyHops);
  labelMatchedRoutes(app);
  app.use(securityHeaders(), requestMetrics(metrics, logger));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    if (options.draining()) {
      res.status(503).json({ status: 'draining' });
      return;
    }
    try {
      await ctx.store.ready();
      res.json({ status: 'ready' });
    } catch (err) {
      logger.error({ event: EVENTS.notReady, err }, 'store not reachable');
      res.status(503).json({ status: 'not ready' });
    }
  });
  app.get('/', (_req, res) => {
    res.redirect(302, '/device');
  });
  app.use('/api/v1', createApiRouter(ctx, { baseUrl: options.baseUrl }));
  app.use(
    '/device',
    cookieParser(),
    createWebRouter(ctx, {
      authenticator: options.authenticator,
      cookieSecret: options.cookieSecret,
    }),
  );
  app.use((_req, _res, next) => {
    next(new NotFound('no such page', { code: 'no_such_endpoint' }));
  });
  app.use(apiErrorHandler(logger, metrics));
  return app;
}

/**
 * The metrics listener's app: `/metrics` (and the health probes) only. It is a separate server
 * because the API port faces the internet and metrics name routes, failures and volumes.
 */
export function createMetricsApp(ctx: Pick<DomainContext, 'metrics'>): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/metrics', async (_req, res) => {
    res.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
  });
  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.use((_req, res) => {
    res.status(404).type('text').send('not found\n');
  });
  return app;
}
