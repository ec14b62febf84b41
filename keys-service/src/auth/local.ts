import type { UserRepository } from '../storage/index.js';
import { dummyPasswordHash, verifyPassword } from './passwords.js';
import type { AuthenticatedUser, PasswordAuthenticator } from './types.js';

/** Local accounts in the store (`neetodeploy-keys users add`). */
export function createLocalAuthenticator(users: UserRepository): PasswordAuthenticator {
  return {
    kind: 'password',
    async verifyPassword(email, password) {
      const user = await users.get(email);
      const stored = user?.passwordHash ?? (await dummyPasswordHash());
      const ok = await verifyPassword(password, stored);
      if (!ok || !user?.passwordHash) return undefined;
      return { email: user.email, groups: user.groups };
    },
    async lookup(email): Promise<AuthenticatedUser | undefined> {
      const user = await users.get(email);
      return user ? { email: user.email, groups: user.groups } : undefined;
    },
  };
}
