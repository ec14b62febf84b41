/**
 * The CLI's side of the device login (RFC 8628 shape): `POST /login-sessions` starts one,
 * `POST /login-sessions/token` polls it until the user approves in the browser.
 */
import express from 'express';
import type { Router } from 'express';
import { rateLimit } from 'express-rate-limit';
// The token body's `grant_type` is the contract's DEVICE_CODE_GRANT_TYPE (inside its schema).
import { loginSessionRequestSchema, loginTokenRequestSchema } from '@neetodeploy/contract';
import type { ApiErrorBody, LoginPollErrorCode, LoginToken } from '@neetodeploy/contract';
import { createLoginSession, pollLoginSession } from '../../domain/index.js';
import type { DomainContext } from '../../domain/index.js';
import { RateLimited } from '../errors.js';
import { clientIp, parseBody } from '../request.js';

const POLL_MESSAGES: Readonly<Record<LoginPollErrorCode, string>> = {
  authorization_pending: 'waiting for the user to approve the sign-in in the browser',
  slow_down: 'polling too fast; wait longer between polls',
  expired_token: 'the sign-in expired: start again',
  access_denied: 'the sign-in was denied',
  invalid_grant: 'unknown or already used device code',
};

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
    const body = parseBody(loginSessionRequestSchema, req.body);
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
    const body = parseBody(loginTokenRequestSchema, req.body);
    const result = await pollLoginSession(ctx, {
      deviceCode: body.device_code,
      clientIp: clientIp(req),
      ...(body.replaces_token !== undefined ? { replacesToken: body.replaces_token } : {}),
    });
    res.set('Cache-Control', 'no-store');
    if (result.status === 'approved') {
      const { token } = result;
      const answer: LoginToken = {
        access_token: token.token,
        token_type: 'Bearer',
        email: token.email,
        expires_at: token.expiresAt.toISOString(),
        expires_in: Math.round((token.expiresAt.getTime() - ctx.clock().getTime()) / 1000),
      };
      res.json(answer);
      return;
    }
    const refusal: ApiErrorBody = {
      error: {
        code: result.status,
        message: POLL_MESSAGES[result.status],
        ...(result.status === 'slow_down' ? { interval: result.interval } : {}),
      },
    };
    res.status(400).json(refusal);
  });

  return router;
}
