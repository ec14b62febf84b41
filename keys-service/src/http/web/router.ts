/**
 * The /device pages: sign in, type or confirm the code the CLI shows, see the requesting client,
 * approve or deny. Every state change is a POST with a CSRF token bound to a cookie, so a link
 * alone (verification_uri_complete included) can never approve a login.
 */
import express from 'express';
import type { ErrorRequestHandler, RequestHandler, Router } from 'express';
import * as z from 'zod';
import { AppError } from '@neetodeploy/platform';
import type { Authenticator, PasswordAuthenticator } from '../../auth/index.js';
import type { DomainContext } from '../../domain/index.js';
import {
  approveLoginSession,
  findPendingLoginSession,
  formatUserCode,
  normaliseUserCode,
} from '../../domain/index.js';
import { EVENTS } from '../../events.js';
import { httpStatusFor, normaliseError } from '../errors.js';
import { clientIp } from '../request.js';
import { SESSION_COOKIE } from './cookies.js';
import { createPageKit } from './kit.js';
import { mountOidcRoutes, oidcSignInPage } from './oidc.js';
import type { PageKit } from './kit.js';
import { createSessionPagesRouter } from './sessions.js';
import { STYLESHEET, codePage, confirmPage, donePage, messagePage, signInPage } from './pages.js';

const signInForm = z
  .object({
    _csrf: z.string(),
    code: z.string().max(32).default(''),
    email: z.string().min(1).max(254),
    password: z.string().min(1).max(1024),
  })
  .strict();
const codeForm = z.object({ _csrf: z.string(), user_code: z.string().max(32) }).strict();
const decisionForm = z
  .object({
    _csrf: z.string(),
    user_code: z.string().max(32),
    decision: z.enum(['approve', 'deny']),
  })
  .strict();
const signOutForm = z.object({ _csrf: z.string() }).strict();

export interface WebRouterOptions {
  readonly authenticator: Authenticator;
  readonly cookieSecret: Buffer;
}

/** `POST /sign-in`: checks the password, sets the session cookie, back to the code page. */
function signIn(
  ctx: DomainContext,
  kit: PageKit,
  authenticator: PasswordAuthenticator,
): RequestHandler {
  return async (req, res) => {
    const body = kit.parseForm(signInForm, req, res);
    if (!body) return;
    const user = await authenticator.verifyPassword(body.email, body.password);
    const csrf = kit.csrfFor(req, res);
    if (!user) {
      ctx.metrics.logins.inc({ result: 'sign_in_failed' });
      ctx.logger.info(
        { event: EVENTS.signInFailed, email: body.email, clientIp: clientIp(req) },
        'sign-in failed',
      );
      kit.html(
        res,
        401,
        signInPage({ csrf, code: body.code, email: body.email, error: 'Wrong email or password.' }),
      );
      return;
    }
    ctx.logger.info(
      { event: EVENTS.signedIn, email: user.email, clientIp: clientIp(req) },
      'signed in',
    );
    await kit.startSession(res, user.email);
    const code = normaliseUserCode(body.code);
    res.redirect(303, code ? `/device?code=${formatUserCode(code)}` : '/device');
  };
}

/** Unreadable forms are a page saying so (413 when too large); anything else is a 500 page. */
function pageErrorHandler(ctx: DomainContext, kit: PageKit): ErrorRequestHandler {
  return (err: unknown, _req, res, next) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    if (!(err && typeof err === 'object' && 'type' in err)) {
      ctx.logger.error({ event: EVENTS.requestFailed, err }, 'device page failed');
      kit.html(res, 500, messagePage('Something went wrong', 'Please try again.'));
      return;
    }
    const typed = normaliseError(err);
    const status = typed instanceof AppError ? httpStatusFor(typed) : 400;
    kit.html(res, status, messagePage('Request refused', 'The form could not be read.'));
  };
}

export function createWebRouter(ctx: DomainContext, options: WebRouterOptions): Router {
  const router = express.Router();
  const kit = createPageKit(ctx, options);
  const { html, csrfFor, sessionOf, parseForm } = kit;
  const form = express.urlencoded({ extended: false, limit: 4096, parameterLimit: 10 });
  const signInLimiter = kit.limiter(ctx.config.limits.signInPerMinute, 'sign-in attempts');
  const codeLimiter = kit.limiter(ctx.config.limits.codeEntryPerMinute, 'code entries');

  router.get('/style.css', (_req, res) => {
    res.type('css').set('Cache-Control', 'public, max-age=3600').send(STYLESHEET);
  });

  router.get('/', async (req, res) => {
    const csrf = csrfFor(req, res);
    const raw = typeof req.query.code === 'string' ? req.query.code : '';
    const normalised = normaliseUserCode(raw);
    const code = normalised ? formatUserCode(normalised) : '';
    const session = await sessionOf(req);
    if (!session) {
      html(
        res,
        200,
        options.authenticator.kind === 'redirect'
          ? oidcSignInPage({ displayName: options.authenticator.displayName, code })
          : signInPage({ csrf, code }),
      );
      return;
    }
    html(res, 200, codePage({ csrf, email: session.email, code }));
  });

  const { authenticator } = options;
  if (authenticator.kind === 'password') {
    router.post('/sign-in', signInLimiter, form, signIn(ctx, kit, authenticator));
  } else {
    mountOidcRoutes(router, ctx, kit, {
      authenticator,
      cookieSecret: options.cookieSecret,
      limiter: signInLimiter,
    });
  }

  router.post('/code', codeLimiter, form, async (req, res) => {
    const session = await sessionOf(req);
    if (!session) {
      res.redirect(303, '/device');
      return;
    }
    const body = parseForm(codeForm, req, res);
    if (!body) return;
    const csrf = csrfFor(req, res);
    try {
      const pending = await findPendingLoginSession(ctx, body.user_code);
      html(
        res,
        200,
        confirmPage({
          csrf,
          email: session.email,
          userCode: formatUserCode(pending.userCode),
          client: pending.clientDescription,
          clientIp: pending.clientIp,
          requestedAt: pending.createdAt,
        }),
      );
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      ctx.metrics.failures.inc({ reason: err.code });
      html(
        res,
        400,
        codePage({ csrf, email: session.email, code: body.user_code, error: err.userMessage }),
      );
    }
  });

  router.post('/decision', codeLimiter, form, async (req, res) => {
    const session = await sessionOf(req);
    if (!session) {
      res.redirect(303, '/device');
      return;
    }
    const body = parseForm(decisionForm, req, res);
    if (!body) return;
    try {
      await approveLoginSession(ctx, {
        userCode: body.user_code,
        email: session.email,
        decision: body.decision,
        clientIp: clientIp(req),
      });
      html(res, 200, donePage(body.decision === 'approve'));
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      ctx.metrics.failures.inc({ reason: err.code });
      html(res, 400, messagePage('Sign-in not changed', err.userMessage));
    }
  });

  router.post('/sign-out', form, async (req, res) => {
    if (!parseForm(signOutForm, req, res)) return;
    // Ends the session server-side too: a copy of the cookie must not outlive the sign-out.
    const session = await sessionOf(req);
    if (session) await kit.endSessions(res, session.email);
    else res.clearCookie(SESSION_COOKIE, kit.cookieOptions);
    res.redirect(303, '/device');
  });

  router.use(createSessionPagesRouter(ctx, kit, options.authenticator));
  router.use(pageErrorHandler(ctx, kit));
  return router;
}
