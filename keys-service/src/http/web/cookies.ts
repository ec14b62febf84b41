/**
 * Signed browser cookies: the sign-in session and the CSRF secret. Signed so any replica sharing
 * the secret can serve any request; the session also names the user's session epoch, checked
 * against the store on every request so that it can be ended (see WebSession.epoch).
 */
import crypto from 'node:crypto';

export const SESSION_COOKIE = '__Host-nd_session';
export const CSRF_COOKIE = '__Host-nd_csrf';

export interface WebSession {
  readonly email: string;
  readonly expiresAt: number;
  /**
   * The user's session epoch at sign-in (`RevocationRepository.sessionEpoch`). The cookie alone
   * cannot be taken back, so every request compares this with the stored epoch, which sign-out,
   * a password change and `revoke --user` move on.
   */
  readonly epoch: number;
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
      JSON.stringify({ e: session.email, x: session.expiresAt, n: session.epoch }),
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
        n?: unknown;
      };
      if (typeof data.e !== 'string' || typeof data.x !== 'number' || data.x <= now.getTime())
        return undefined;
      // A cookie from before epochs existed names none: it cannot be checked, so it is refused.
      if (typeof data.n !== 'number' || !Number.isSafeInteger(data.n)) return undefined;
      return { email: data.e, expiresAt: data.x, epoch: data.n };
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
