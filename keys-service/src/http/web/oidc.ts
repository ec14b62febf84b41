/**
 * The /device pages' OpenID Connect sign-in: `GET /device/oidc/start` sends the browser to the
 * provider, `GET /device/oidc/callback` brings it back. Between the two, `state`, `nonce`, the
 * PKCE verifier and the CLI's user code wait in a short-lived signed cookie bound to this
 * browser (stateless, so any replica can take the callback). The callback only signs the
 * browser in: the user still confirms the code the CLI shows, as with a password.
 */
import crypto from 'node:crypto';
import type { Request, RequestHandler, Response, Router } from 'express';
import type { AuthenticatedUser, PendingSignIn, RedirectAuthenticator } from '../../auth/index.js';
import { SignInFailed } from '../../auth/oidc.js';
import type { DomainContext } from '../../domain/index.js';
import { formatUserCode, normaliseUserCode } from '../../domain/index.js';
import { EVENTS } from '../../events.js';
import { clientIp } from '../request.js';
import type { PageKit } from './kit.js';
import { escapeHtml, layout, messagePage } from './pages.js';

export const OIDC_COOKIE = '__Host-nd_oidc';
export const OIDC_CALLBACK_PATH = '/device/oidc/callback';
/** Time to sign in at the provider (a password manager, a second factor). */
const PENDING_TTL_MS = 10 * 60 * 1000;

/** What the pending cookie holds: the authenticator's checks plus the CLI's code, if any. */
interface PendingCookie extends PendingSignIn {
  readonly code: string;
}

/** HMAC-signed JSON with an expiry, keyed by the pages' cookie secret under its own purpose. */
export class PendingSignInCodec {
  constructor(private readonly secret: Buffer) {}

  private mac(payload: string): string {
    return crypto.createHmac('sha256', this.secret).update(`oidc|${payload}`).digest('base64url');
  }

  encode(pending: PendingCookie, expiresAt: number): string {
    const payload = Buffer.from(JSON.stringify({ ...pending, x: expiresAt })).toString('base64url');
    return `${payload}.${this.mac(payload)}`;
  }

  /** Undefined for a missing, forged or expired cookie. */
  decode(cookie: string | undefined, now: Date): PendingCookie | undefined {
    const dot = cookie?.indexOf('.') ?? -1;
    if (!cookie || dot <= 0) return undefined;
    const payload = cookie.slice(0, dot);
    const given = Buffer.from(cookie.slice(dot + 1));
    const expected = Buffer.from(this.mac(payload));
    if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected))
      return undefined;
    try {
      const data = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<
        string,
        unknown
      >;
      const { state, nonce, codeVerifier, redirectUri, code, x } = data;
      if (typeof x !== 'number' || x <= now.getTime()) return undefined;
      if (
        typeof state !== 'string' ||
        typeof nonce !== 'string' ||
        typeof codeVerifier !== 'string' ||
        typeof redirectUri !== 'string' ||
        typeof code !== 'string'
      )
        return undefined;
      return { state, nonce, codeVerifier, redirectUri, code };
    } catch {
      return undefined;
    }
  }
}

/**
 * The sign-in page when users sign in at a provider: a link, not a form, because the CSP's
 * `form-action 'self'` would stop a form's redirect to the provider.
 */
export function oidcSignInPage(p: { displayName: string; code: string }): string {
  const query = p.code ? `?code=${encodeURIComponent(p.code)}` : '';
  return layout(
    'Sign in',
    `<p>Sign in to connect the neetoDeploy CLI to your account.</p>
<p><a href="/device/oidc/start${escapeHtml(query)}" id="sign-in">Sign in with ${escapeHtml(p.displayName)}</a></p>`,
  );
}

const STATUS: Record<SignInFailed['code'], number> = {
  provider_unreachable: 502,
  access_denied: 403,
  email_not_verified: 403,
  email_domain_not_allowed: 403,
  missing_email: 403,
  provider_error: 502,
  state_mismatch: 400,
  code_rejected: 400,
  token_expired: 400,
  token_rejected: 400,
  sign_in_expired: 400,
};

export interface OidcRoutesOptions {
  readonly authenticator: RedirectAuthenticator;
  readonly cookieSecret: Buffer;
  /** Rate limit of the start and callback routes (the sign-in limit). */
  readonly limiter: RequestHandler;
}

/** Mounts `/oidc/start` and `/oidc/callback` on the /device router. */
export function mountOidcRoutes(
  router: Router,
  ctx: DomainContext,
  kit: PageKit,
  options: OidcRoutesOptions,
): void {
  const { authenticator } = options;
  const codec = new PendingSignInCodec(options.cookieSecret);

  const redirectUriFor = (req: Request): string =>
    authenticator.redirectUrl ??
    new URL(OIDC_CALLBACK_PATH, ctx.config.publicUrl ?? `${req.protocol}://${req.get('host')}`)
      .href;

  /** A failure page for a sign-in the user can act on; anything else is the 500 page's. */
  const fail = (req: Request, res: Response, err: unknown): void => {
    if (!(err instanceof SignInFailed)) throw err;
    const failure = err;
    ctx.metrics.logins.inc({ result: 'sign_in_failed' });
    ctx.metrics.failures.inc({ reason: `oidc_${failure.code}` });
    // The message names the failed check, never a token, code or secret.
    ctx.logger.info(
      {
        event: EVENTS.oidcSignInFailed,
        reason: failure.code,
        detail: failure.message,
        clientIp: clientIp(req),
      },
      'OIDC sign-in failed',
    );
    kit.html(res, STATUS[failure.code], messagePage('Sign-in failed', failure.userMessage));
  };

  router.get('/oidc/start', options.limiter, async (req, res) => {
    const raw = typeof req.query.code === 'string' ? req.query.code : '';
    const code = normaliseUserCode(raw) ?? '';
    let started: Awaited<ReturnType<RedirectAuthenticator['begin']>>;
    try {
      started = await authenticator.begin(redirectUriFor(req));
    } catch (err) {
      fail(req, res, err);
      return;
    }
    const expiresAt = ctx.clock().getTime() + PENDING_TTL_MS;
    res.cookie(OIDC_COOKIE, codec.encode({ ...started.pending, code }, expiresAt), {
      ...kit.cookieOptions,
      maxAge: PENDING_TTL_MS,
    });
    ctx.logger.info(
      { event: EVENTS.oidcSignInStarted, clientIp: clientIp(req) },
      'OIDC sign-in started',
    );
    res.redirect(303, started.authorizationUrl.href);
  });

  router.get('/oidc/callback', options.limiter, async (req, res) => {
    const cookies = req.cookies as Record<string, string | undefined>;
    const pending = codec.decode(cookies[OIDC_COOKIE], ctx.clock());
    // One use: whatever happens next, this browser must start again for another try.
    res.clearCookie(OIDC_COOKIE, kit.cookieOptions);
    if (!pending) {
      fail(req, res, new SignInFailed('sign_in_expired', { message: 'no valid pending cookie' }));
      return;
    }
    const callbackUrl = new URL(pending.redirectUri);
    callbackUrl.search = new URL(req.originalUrl, 'http://callback.invalid').search;
    let user: AuthenticatedUser;
    try {
      user = await authenticator.complete(callbackUrl, pending);
    } catch (err) {
      fail(req, res, err);
      return;
    }
    ctx.logger.info(
      {
        event: EVENTS.signedIn,
        email: user.email,
        groups: user.groups,
        method: 'oidc',
        clientIp: clientIp(req),
      },
      'signed in',
    );
    await kit.startSession(res, user.email);
    res.redirect(303, pending.code ? `/device?code=${formatUserCode(pending.code)}` : '/device');
  });
}
