/**
 * The /device pages: sign in, type or confirm the code the CLI shows, see the requesting client,
 * approve or deny. Every state change is a POST with a CSRF token bound to a cookie, so a link
 * alone (verification_uri_complete included) can never approve a login.
 */
import express from 'express';
import type { CookieOptions, Request, Response, Router } from 'express';
import { rateLimit } from 'express-rate-limit';
import { z } from 'zod';
import { AppError } from '@neetodeploy/platform';
import type { Authenticator } from '../auth/index.js';
import type { DomainContext } from '../domain/index.js';
import {
  approveLoginSession,
  findPendingLoginSession,
  formatUserCode,
  normaliseUserCode,
} from '../domain/index.js';
import { EVENTS } from '../events.js';
import { clientIp } from '../routes/http.js';
import { CSRF_COOKIE, CookieSigner, SESSION_COOKIE } from './cookies.js';
import type { WebSession } from './cookies.js';
import { STYLESHEET, codePage, confirmPage, donePage, messagePage, signInPage } from './pages.js';

const SESSION_TTL_MS = 30 * 60 * 1000;

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

export function createWebRouter(ctx: DomainContext, options: WebRouterOptions): Router {
  const router = express.Router();
  const signer = new CookieSigner(options.cookieSecret);
  const { authenticator } = options;
  const form = express.urlencoded({ extended: false, limit: 4096, parameterLimit: 10 });
  const cookieOptions: CookieOptions = { httpOnly: true, secure: true, sameSite: 'lax', path: '/' };

  const html = (res: Response, status: number, body: string): void => {
    res.status(status).type('html').set('Cache-Control', 'no-store').send(body);
  };

  /** The CSRF token for this browser, setting its cookie on first visit. */
  const csrfFor = (req: Request, res: Response): string => {
    let secret = (req.cookies as Record<string, string | undefined>)[CSRF_COOKIE];
    if (!secret || !/^[A-Za-z0-9_-]{32}$/.test(secret)) {
      secret = CookieSigner.newCsrfSecret();
      res.cookie(CSRF_COOKIE, secret, cookieOptions);
    }
    return signer.csrfToken(secret);
  };

  const cookieSession = (req: Request): WebSession | undefined =>
    signer.decodeSession(
      (req.cookies as Record<string, string | undefined>)[SESSION_COOKIE],
      ctx.clock(),
    );
  /** The signed-in user, if the cookie is valid and the account still exists. */
  const sessionOf = async (req: Request): Promise<WebSession | undefined> => {
    const session = cookieSession(req);
    if (!session) return undefined;
    return (await authenticator.lookup(session.email)) ? session : undefined;
  };

  /** Parses a form and checks its CSRF token; answers 400/403 itself and returns undefined. */
  const parseForm = <S extends z.ZodType<{ _csrf: string }>>(
    schema: S,
    req: Request,
    res: Response,
  ): z.output<S> | undefined => {
    const parsed = schema.safeParse(req.body ?? {});
    const csrfCookie = (req.cookies as Record<string, string | undefined>)[CSRF_COOKIE];
    const token = (req.body as Record<string, unknown> | undefined)?._csrf;
    if (!signer.checkCsrf(csrfCookie, token)) {
      ctx.metrics.failures.inc({ reason: 'csrf' });
      html(
        res,
        403,
        messagePage(
          'Request refused',
          'This form expired or did not come from this site. Reload the page and try again.',
        ),
      );
      return undefined;
    }
    if (!parsed.success) {
      html(res, 400, messagePage('Request refused', 'The form was not filled in as expected.'));
      return undefined;
    }
    return parsed.data;
  };

  const limiter = (limit: number, what: string) =>
    rateLimit({
      windowMs: 60_000,
      limit,
      standardHeaders: 'draft-7',
      legacyHeaders: false,
      handler: (_req, res) => {
        ctx.metrics.failures.inc({ reason: 'rate_limited' });
        html(
          res,
          429,
          messagePage(
            'Too many attempts',
            `Too many ${what} from this address. Wait a minute and try again.`,
          ),
        );
      },
    });
  const signInLimiter = limiter(ctx.config.limits.signInPerMinute, 'sign-in attempts');
  const codeLimiter = limiter(ctx.config.limits.codeEntryPerMinute, 'code entries');

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
      html(res, 200, signInPage({ csrf, code }));
      return;
    }
    html(res, 200, codePage({ csrf, email: session.email, code }));
  });

  router.post('/sign-in', signInLimiter, form, async (req, res) => {
    const body = parseForm(signInForm, req, res);
    if (!body) return;
    const user = await authenticator.verifyPassword(body.email, body.password);
    const csrf = csrfFor(req, res);
    if (!user) {
      ctx.metrics.logins.inc({ result: 'sign_in_failed' });
      ctx.logger.info(
        { event: EVENTS.signInFailed, email: body.email, clientIp: clientIp(req) },
        'sign-in failed',
      );
      html(
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
    res.cookie(
      SESSION_COOKIE,
      signer.encodeSession({
        email: user.email,
        expiresAt: ctx.clock().getTime() + SESSION_TTL_MS,
      }),
      { ...cookieOptions, maxAge: SESSION_TTL_MS },
    );
    const code = normaliseUserCode(body.code);
    res.redirect(303, code ? `/device?code=${formatUserCode(code)}` : '/device');
  });

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

  router.post('/sign-out', form, (req, res) => {
    if (!parseForm(signOutForm, req, res)) return;
    res.clearCookie(SESSION_COOKIE, cookieOptions);
    res.redirect(303, '/device');
  });

  router.use((err: unknown, _req: Request, res: Response, next: (e?: unknown) => void) => {
    if (res.headersSent) {
      next(err);
      return;
    }
    const status =
      err &&
      typeof err === 'object' &&
      'type' in err &&
      (err as { type?: unknown }).type === 'entity.too.large'
        ? 413
        : 400;
    if (!(err && typeof err === 'object' && 'type' in err)) {
      ctx.logger.error({ event: EVENTS.requestFailed, err }, 'device page failed');
      html(res, 500, messagePage('Something went wrong', 'Please try again.'));
      return;
    }
    html(res, status, messagePage('Request refused', 'The form could not be read.'));
  });

  return router;
}
