/**
 * Signed, stateless browser cookies: the sign-in session and the CSRF secret. Stateless so any
 * replica sharing the secret can serve any request.
 */
import crypto from 'node:crypto';

export const SESSION_COOKIE = '__Host-nd_session';
export const CSRF_COOKIE = '__Host-nd_csrf';

export interface WebSession {
  readonly email: string;
  readonly expiresAt: number;
}

export class CookieSigner {
  constructor(private readonly secret: Buffer) {}

  private mac(purpose: string, value: string): string {
    return crypto
      .createHmac('sha256', this.secret)
      .update(`${purpose}|${value}`)
      .digest('base64url');
  }

  private static same(a: string, b: string): boolean {
    const x = Buffer.from(a);
    const y = Buffer.from(b);
    return x.length === y.length && crypto.timingSafeEqual(x, y);
  }

  encodeSession(session: WebSession): string {
    const payload = Buffer.from(
      JSON.stringify({ e: session.email, x: session.expiresAt }),
    ).toString('base64url');
    return `${payload}.${this.mac('session', payload)}`;
  }

  /** Undefined for a missing, forged or expired cookie. */
  decodeSession(cookie: string | undefined, now: Date): WebSession | undefined {
    if (!cookie) return undefined;
    const dot = cookie.indexOf('.');
    if (dot <= 0) return undefined;
    const payload = cookie.slice(0, dot);
    if (!CookieSigner.same(cookie.slice(dot + 1), this.mac('session', payload))) return undefined;
    try {
      const data = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as {
        e?: unknown;
        x?: unknown;
      };
      if (typeof data.e !== 'string' || typeof data.x !== 'number' || data.x <= now.getTime())
        return undefined;
      return { email: data.e, expiresAt: data.x };
    } catch {
      return undefined;
    }
  }

  static newCsrfSecret(): string {
    return crypto.randomBytes(24).toString('base64url');
  }

  /** The token forms carry: bound to the browser's CSRF cookie, useless without it. */
  csrfToken(csrfCookie: string): string {
    return this.mac('csrf', csrfCookie);
  }

  checkCsrf(csrfCookie: string | undefined, token: unknown): boolean {
    if (!csrfCookie || typeof token !== 'string') return false;
    return CookieSigner.same(token, this.csrfToken(csrfCookie));
  }
}
