/** MaxAuthTries: failed publickey, password and keyboard-interactive attempts (`none` is free). */
import type { AuthTries } from './types.js';

export function createAuthTries(max: number): AuthTries {
  let failures = 0;
  return {
    get failures() {
      return failures;
    },
    fail() {
      failures++;
      return failures >= max;
    },
  };
}
