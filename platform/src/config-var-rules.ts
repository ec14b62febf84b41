/**
 * What every backend accepts as config vars: names are environment variable names, values are
 * bounded strings. Checked before any lock is taken or any request is sent.
 */
import { BadRequest, LimitExceeded } from './errors.js';
import type { ConfigChange } from './types.js';

/** Config var limits (documented in the README): keys are env var names, values bounded. */
export const CONFIG_VAR_LIMITS = {
  maxKeyLength: 256,
  maxValueBytes: 32 * 1024,
  maxTotalBytes: 256 * 1024,
  maxVars: 1000,
} as const;

export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;

function checkKey(key: string): void {
  if (key.length === 0 || key.length > CONFIG_VAR_LIMITS.maxKeyLength) {
    throw new BadRequest(
      `config var names must be 1 to ${CONFIG_VAR_LIMITS.maxKeyLength} characters`,
    );
  }
  if (!ENV_NAME_PATTERN.test(key)) {
    throw new BadRequest(
      `invalid config var name ${JSON.stringify(key)}: use letters, digits and _ and do not start with a digit`,
    );
  }
}

/** Validates a change before any lock is taken; throws BadRequest / LimitExceeded. */
export function validateChange(change: ConfigChange): void {
  const set = change.set ?? {};
  const unset = change.unset ?? [];
  for (const [key, value] of Object.entries(set)) {
    checkKey(key);
    if (typeof value !== 'string') throw new BadRequest(`config var ${key} must be a string`);
    if (value.includes('\0')) throw new BadRequest(`config var ${key} contains a NUL byte`);
    if (Buffer.byteLength(value, 'utf8') > CONFIG_VAR_LIMITS.maxValueBytes) {
      throw new LimitExceeded(
        `config var ${key} is larger than ${CONFIG_VAR_LIMITS.maxValueBytes / 1024} KiB`,
      );
    }
  }
  for (const key of unset) {
    checkKey(key);
    if (Object.hasOwn(set, key)) throw new BadRequest(`config var ${key} is both set and unset`);
  }
}
