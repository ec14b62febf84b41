/**
 * MaxAuthTries, counted on arrival: every authentication request (`none`, `publickey` queries
 * and signatures, `password`, `keyboard-interactive`) takes one try before it is looked at, so a
 * client that pipelines requests gets at most `max` of them evaluated. OpenSSH counts only
 * failures and lets `none` go free; here `none` costs as much to parse as any other request (its
 * user name is the payload), so it counts too. A legitimate login takes three: `none`, the
 * certificate query, the signed request.
 */
import type { AuthTries } from './types.js';

export function createAuthTries(max: number): AuthTries {
  let attempts = 0;
  return {
    get attempts() {
      return attempts;
    },
    attempt() {
      attempts++;
      return attempts <= max;
    },
  };
}
