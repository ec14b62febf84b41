/**
 * MaxAuthTries, counted on arrival: every authentication request (`none`, `publickey` queries
 * and signatures, `password`, `keyboard-interactive`) takes one try before it is looked at, so a
 * client that pipelines requests gets at most `max` of them evaluated. OpenSSH counts only
 * failures and lets `none` go free; here `none` costs as much to parse as any other request (its
 * user name is the payload), so it counts too. A legitimate login takes three: `none`, the
 * certificate query, the signed request.
 */
import type { AuthTries } from './types.js';

// A class: an object literal with a getter is kept in V8's slow dictionary mode, ~0.5 kB for
// each connection held.
class AuthTriesCounter implements AuthTries {
  #attempts = 0;
  constructor(private readonly max: number) {}
  get attempts(): number {
    return this.#attempts;
  }
  attempt(): boolean {
    this.#attempts++;
    return this.#attempts <= this.max;
  }
}

export function createAuthTries(max: number): AuthTries {
  return new AuthTriesCounter(max);
}
