import { BadRequest } from './errors.js';
import { APP_NAME_PATTERN } from './types.js';

/** Throws BadRequest unless `app` is a valid app name; every backend checks before any lookup. */
export function checkAppName(app: string): void {
  if (typeof app !== 'string' || !APP_NAME_PATTERN.test(app)) {
    const shown = typeof app === 'string' ? JSON.stringify(app.slice(0, 64)) : 'that';
    throw new BadRequest(
      `${shown} is not a valid app name (lowercase letters, digits and dashes, at most 63)`,
    );
  }
}
