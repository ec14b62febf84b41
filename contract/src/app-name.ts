/**
 * App names: DNS labels (RFC 1123), because an app name becomes a Kubernetes namespace or label
 * value, a certificate principal, a host name `APP.neetodeploy` and a folder of the local
 * platform. Checked before any lookup, so it also keeps names from climbing out of a folder.
 */
import type { Result } from './errors.js';
import { ok, refuse } from './errors.js';

/** 1 to 63 of `a-z`, `0-9`, `-`, not starting or ending with `-`. */
export const APP_NAME_PATTERN = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The refusal the keys-service sends (`invalid_app_name`) and the CLI prints. */
export const APP_NAME_RULE = 'app names are DNS labels: lower-case letters, digits and dashes';

export function isAppName(value: string): boolean {
  return APP_NAME_PATTERN.test(value);
}

/** The app name itself, or `invalid_app_name`. */
export function parseAppName(value: string): Result<string> {
  return isAppName(value)
    ? ok(value)
    : refuse('invalid_app_name', `${JSON.stringify(value)} is not an app name: ${APP_NAME_RULE}`);
}
