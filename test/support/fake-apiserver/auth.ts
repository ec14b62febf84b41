import { randomBytes } from 'node:crypto';
import type { UserInfo } from './types.js';

export const ADMIN_USER = 'admin';
export const MASTERS_GROUP = 'system:masters';

export function serviceAccountUsername(namespace: string, name: string): string {
  return `system:serviceaccount:${namespace}:${name}`;
}

/**
 * Bearer-token authentication, as a static token file would configure it. Every authenticated
 * user is in `system:authenticated`; service accounts also get their two groups.
 */
export class TokenAuthenticator {
  private readonly byToken = new Map<string, UserInfo>();
  private readonly byUser = new Map<string, string>();

  add(username: string, groups: string[] = []): string {
    const existing = this.byUser.get(username);
    if (existing) return existing;
    const token = randomBytes(24).toString('base64url');
    const all = [...new Set([...groups, 'system:authenticated'])];
    this.byToken.set(token, { username, uid: randomBytes(8).toString('hex'), groups: all });
    this.byUser.set(username, token);
    return token;
  }

  addServiceAccount(namespace: string, name: string): string {
    return this.add(serviceAccountUsername(namespace, name), [
      'system:serviceaccounts',
      `system:serviceaccounts:${namespace}`,
    ]);
  }

  tokenOf(username: string): string | undefined {
    return this.byUser.get(username);
  }

  /** The user behind an `Authorization` header, or undefined (the server answers 401). */
  authenticate(header: string | undefined): UserInfo | undefined {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    return m ? this.byToken.get(m[1]!) : undefined;
  }
}
