/**
 * A count per user with a ceiling, per bastion process (a replica enforces its own share, as the
 * bastion keeps no shared state): open console sessions (`limits.maxSessionsPerUser`) and open
 * port forwards (`portForwarding.maxPerUser`).
 */
import type { UserSessions } from './types.js';

export function createUserSessions(max: number): UserSessions {
  const counts = new Map<string, number>();
  return {
    tryAcquire(user) {
      const n = counts.get(user) ?? 0;
      if (n >= max) return false;
      counts.set(user, n + 1);
      return true;
    },
    release(user) {
      const n = (counts.get(user) ?? 0) - 1;
      if (n <= 0) counts.delete(user);
      else counts.set(user, n);
    },
  };
}
