/**
 * What every /device page handler uses: HTML answers, the CSRF token and its cookie, the
 * signed-in session, form parsing with the CSRF check, and rate limiters that answer in HTML.
 */
import type { CookieOptions, Request, RequestHandler, Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { z } from 'zod';
import type { Authenticator } from '../../auth/index.js';
import type { DomainContext } from '../../domain/index.js';
import { CSRF_COOKIE, CookieSigner, SESSION_COOKIE } from './cookies.js';
import type { WebSession } from './cookies.js';
import { messagePage } from './pages.js';

export interface PageKit {
  readonly signer: CookieSigner;
  readonly cookieOptions: CookieOptions;
  readonly html: (res: Response, status: number, body: string) => void;
  /** The CSRF token for this browser, setting its cookie on first visit. */
  readonly csrfFor: (req: Request, res: Response) => string;
  /**
   * The signed-in user, if the cookie is valid, its epoch is still the user's current one (not
   * ended by sign-out, a password change or revocation) and the account still exists.
   */
  readonly sessionOf: (req: Request) => Promise<WebSession | undefined>;
  /** Signs `email` in: sets the session cookie under the user's current epoch. */
  readonly startSession: (res: Response, email: string) => Promise<void>;
  /** Ends every browser session of `email` and clears this browser's cookie. */
  readonly endSessions: (res: Response, email: string) => Promise<void>;
  /** Parses a form and checks its CSRF token; answers 400/403 itself and returns undefined. */
  readonly parseForm: <S extends z.ZodType<{ _csrf: string }>>(
    schema: S,
    req: Request,
    res: Response,
  ) => z.output<S> | undefined;
  /** At most `limit` requests a minute per client address; then a 429 page. */
  readonly limiter: (limit: number, what: string) => RequestHandler;
}

/** How long a browser stays signed in. */
export const SESSION_TTL_MS = 30 * 60 * 1000;

const cookiesOf = (req: Request): Record<string, string | undefined> =>
  req.cookies as Record<string, string | undefined>;

export function createPageKit(
  ctx: DomainContext,
  options: { readonly authenticator: Authenticator; readonly cookieSecret: Buffer },
): PageKit {
  const signer = new CookieSigner(options.cookieSecret);
  const cookieOptions: CookieOptions = { httpOnly: true, secure: true, sameSite: 'lax', path: '/' };
  const html = (res: Response, status: number, body: string): void => {
    res.status(status).type('html').set('Cache-Control', 'no-store').send(body);
  };
  return {
    signer,
    cookieOptions,
    html,
    csrfFor: (req, res) => {
      let secret = cookiesOf(req)[CSRF_COOKIE];
      if (!secret || !/^[A-Za-z0-9_-]{32}$/.test(secret)) {
        secret = CookieSigner.newCsrfSecret();
        res.cookie(CSRF_COOKIE, secret, cookieOptions);
      }
      return signer.csrfToken(secret);
    },
    sessionOf: async (req) => {
      const session = signer.decodeSession(cookiesOf(req)[SESSION_COOKIE], ctx.clock());
      if (!session) return undefined;
      const epoch = await ctx.store.revocations.sessionEpoch(session.email);
      if (epoch !== session.epoch) return undefined;
      return (await options.authenticator.lookup(session.email)) ? session : undefined;
    },
    startSession: async (res, email) => {
      const epoch = await ctx.store.revocations.sessionEpoch(email);
      const expiresAt = ctx.clock().getTime() + SESSION_TTL_MS;
      res.cookie(SESSION_COOKIE, signer.encodeSession({ email, expiresAt, epoch }), {
        ...cookieOptions,
        maxAge: SESSION_TTL_MS,
      });
    },
    endSessions: async (res, email) => {
      await ctx.store.revocations.endSessions(email);
      res.clearCookie(SESSION_COOKIE, cookieOptions);
    },
    parseForm: (schema, req, res) => {
      const parsed = schema.safeParse(req.body ?? {});
      const token = (req.body as Record<string, unknown> | undefined)?._csrf;
      if (!signer.checkCsrf(cookiesOf(req)[CSRF_COOKIE], token)) {
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
    },
    limiter: (limit, what) => {
      return rateLimit({
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
    },
  };
}
