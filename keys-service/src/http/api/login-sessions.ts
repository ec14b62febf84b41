/**
 * The CLI's side of the device login (RFC 8628 shape): `POST /login-sessions` starts one,
 * `POST /login-sessions/token` polls it until the user approves in the browser.
 */
import express from 'express';
import type { Router } from 'express';
import { rateLimit } from 'express-rate-limit';
import { z } from 'zod';
import { createLoginSession, pollLoginSession } from '../../domain/index.js';
import type { DomainContext } from '../../domain/index.js';
import { RateLimited } from '../errors.js';
import { clientIp, parseBody } from '../request.js';

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

const POLL_MESSAGES = {
  authorization_pending: 'waiting for the user to approve the sign-in in the browser',
  slow_down: 'polling too fast; wait longer between polls',
  expired_token: 'the sign-in expired: start again',
  access_denied: 'the sign-in was denied',
  invalid_grant: 'unknown or already used device code',
} as const;

/** Printable, single line: the description ends up on the approval page and in logs. */
function cleanDescription(s: string): string {
  return s.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
}

export function createLoginSessionsRouter(
  ctx: DomainContext,
  options: { readonly baseUrl: () => string },
): Router {
  const router = express.Router();
  const json = express.json({ limit: ctx.config.limits.jsonBodyBytes, strict: true, type: '*/*' });
  const limiter = rateLimit({
    windowMs: 60_000,
    limit: ctx.config.limits.loginSessionsPerMinute,
    standardHeaders: 'draft-7',
    legacyHeaders: false,
    handler: (_req, _res, next) => {
      next(new RateLimited('too many sign-in attempts from this address; wait a minute'));
    },
  });

  router.post('/login-sessions', limiter, json, async (req, res) => {
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
        message: POLL_MESSAGES[result.status],
        ...(result.status === 'slow_down' ? { interval: result.interval } : {}),
      },
    });
  });

  return router;
}
