/**
 * The JSON API under /api/v1. Each route parses and validates, then calls one use-case.
 * `POST /api/v1/certificates` is served outside express (./certificates.ts).
 */
import express from 'express';
import type { NextFunction, Request, Response, Router } from 'express';
import { rateLimit } from 'express-rate-limit';
import { z } from 'zod';
import { NotFound, RateLimited } from '@neetodeploy/platform';
import type { Caller, DomainContext } from '../domain/index.js';
import {
  authenticateToken,
  createCaBundleSource,
  createLoginSession,
  listAppsForCaller,
  pollLoginSession,
  revokeCurrentToken,
} from '../domain/index.js';
import { apiErrorHandler, bearerToken, clientIp, parseBody } from './http.js';
import { createConfigVarsRouter } from './config-vars.js';
import { createLogsRouter } from './logs.js';

const loginSessionBody = z
  .object({
    client_description: z.string().min(1).max(200).optional(),
    hostname: z.string().min(1).max(253).optional(),
    client_version: z.string().min(1).max(64).optional(),
  })
  .strict();

const tokenBody = z
  .object({
    device_code: z.string().min(1).max(128),
    grant_type: z.literal('urn:ietf:params:oauth:grant-type:device_code').optional(),
  })
  .strict();

/** Printable, single line: the description ends up on the approval page and in logs. */
function cleanDescription(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}

type AuthedRequest = Request & { caller?: Caller };

function callerOf(req: Request): Caller {
  const caller = (req as AuthedRequest).caller;
  if (!caller) throw new Error('route needs requireToken');
  return caller;
}

export interface ApiRouterOptions {
  /** Base URL for verification links (config.publicUrl or the bound address). */
  readonly baseUrl: () => string;
}

export function createApiRouter(ctx: DomainContext, options: ApiRouterOptions): Router {
  const router = express.Router();
  const json = express.json({ limit: ctx.config.limits.jsonBodyBytes, strict: true, type: '*/*' });
  const caBundle = createCaBundleSource(ctx);

  const requireToken = async (req: Request, _res: Response, next: NextFunction): Promise<void> => {
    (req as AuthedRequest).caller = await authenticateToken(
      ctx,
      bearerToken(req.get('authorization')),
    );
    next();
  };

  const loginSessionLimiter = rateLimit({
    windowMs: 60_000,
    limit: ctx.config.limits.loginSessionsPerMinute,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    handler: (_req, _res, next) => {
      next(new RateLimited('too many sign-in attempts from this address; wait a minute'));
    },
  });

  router.post('/login-sessions', loginSessionLimiter, json, async (req, res) => {
    const body = parseBody(loginSessionBody, req.body);
    const description = cleanDescription(
      body.client_description ??
        `${body.client_version ? `neetodeploy ${body.client_version}` : 'unknown client'} on ${body.hostname ?? 'unknown host'}`,
    );
    const session = await createLoginSession(ctx, {
      clientDescription: description,
      clientIp: clientIp(req),
      baseUrl: options.baseUrl(),
    });
    res.status(201).json(session);
  });

  router.post('/login-sessions/token', json, async (req, res) => {
    const body = parseBody(tokenBody, req.body);
    const result = await pollLoginSession(ctx, {
      deviceCode: body.device_code,
      clientIp: clientIp(req),
    });
    res.set('Cache-Control', 'no-store');
    const messages: Record<Exclude<typeof result.status, 'approved'>, string> = {
      authorization_pending: 'waiting for the user to approve the sign-in in the browser',
      slow_down: 'polling too fast; wait longer between polls',
      expired_token: 'the sign-in expired: start again',
      access_denied: 'the sign-in was denied',
      invalid_grant: 'unknown or already used device code',
    };
    if (result.status === 'approved') {
      const { token } = result;
      res.json({
        access_token: token.token,
        token_type: 'Bearer',
        email: token.email,
        expires_at: token.expiresAt.toISOString(),
        expires_in: Math.round((token.expiresAt.getTime() - ctx.clock().getTime()) / 1000),
      });
      return;
    }
    res.status(400).json({
      error: {
        code: result.status,
        message: messages[result.status],
        ...(result.status === 'slow_down' ? { interval: result.interval } : {}),
      },
    });
  });

  router.get('/me', requireToken, (req, res) => {
    const caller = callerOf(req);
    const groups = [...ctx.policy.current().groupsOf(caller)].sort();
    res.json({
      email: caller.email,
      groups,
      token: {
        expires_at: caller.tokenExpiresAt.toISOString(),
        created_at: caller.tokenCreatedAt.toISOString(),
        client_description: caller.clientDescription,
      },
    });
  });

  router.delete('/tokens/current', requireToken, async (req, res) => {
    await revokeCurrentToken(ctx, callerOf(req), clientIp(req));
    res.status(204).end();
  });

  router.get('/apps', requireToken, async (req, res) => {
    const apps = await listAppsForCaller(ctx, callerOf(req));
    res.json({
      apps: apps.map((a) => ({
        name: a.name,
        permissions: a.permissions,
        ...(a.processTypes ? { process_types: a.processTypes } : {}),
      })),
    });
  });

  router.get('/ca', async (req, res) => {
    const { bundle, etag } = await caBundle();
    res.set('ETag', etag);
    res.set('Cache-Control', 'no-cache');
    const inm = req.get('if-none-match');
    const matches = (t: string): boolean => t === '*' || t === etag || t === `W/${etag}`;
    if (inm && inm.split(',').some((t) => matches(t.trim()))) {
      res.status(304).end();
      return;
    }
    res.json(bundle);
  });

  router.use(createConfigVarsRouter(ctx), createLogsRouter(ctx));

  router.use((_req, _res, next) => {
    next(new NotFound('no such endpoint', { code: 'no_such_endpoint' }));
  });
  router.use(apiErrorHandler(ctx.logger, ctx.metrics));
  return router;
}
