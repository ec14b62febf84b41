/**
 * The JSON API under /api/v1. Each route parses and validates, then calls one use-case; unknown
 * paths are a JSON 404.
 */
import express from 'express';
import type { Router } from 'express';
import { NotFound } from '@neetodeploy/platform';
import type { DomainContext } from '../../domain/index.js';
import { apiErrorHandler } from '../errors.js';
import { createAccountRouter } from './account.js';
import { createCaRouter } from './ca.js';
import { createCertificatesRouter } from './certificates.js';
import { createConfigVarsRouter } from './config-vars.js';
import { createLoginSessionsRouter } from './login-sessions.js';
import { createLogsRouter } from './logs.js';
import { createSessionsRouter } from './sessions.js';

export interface ApiRouterOptions {
  /** Base URL for verification links (config.publicUrl or the bound address). */
  readonly baseUrl: () => string;
}

export function createApiRouter(ctx: DomainContext, options: ApiRouterOptions): Router {
  const router = express.Router();
  router.use(
    // First: the route on every `neetodeploy exec` and `ssh` is matched without passing others.
    createCertificatesRouter(ctx),
    createLoginSessionsRouter(ctx, options),
    createAccountRouter(ctx),
    createCaRouter(ctx),
    createConfigVarsRouter(ctx),
    createLogsRouter(ctx),
    createSessionsRouter(ctx),
  );
  router.use((_req, _res, next) => {
    next(new NotFound('no such endpoint', { code: 'no_such_endpoint' }));
  });
  router.use(apiErrorHandler(ctx.logger, ctx.metrics));
  return router;
}
