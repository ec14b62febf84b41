/**
 * The contract's name rules as the domain's refusals: a name is checked before any lookup, so
 * a bad one gets the same 400 (and the same words as the CLI prints) whichever use-case it hits.
 */
import { APP_NAME_RULE, isAppName, isProcessType } from '@neetodeploy/contract';
import { BadRequest } from '@neetodeploy/platform';

/** BadRequest `invalid_app_name` unless `app` follows the contract's app-name rule. */
export function requireAppName(app: string): void {
  if (!isAppName(app)) throw new BadRequest(APP_NAME_RULE, { code: 'invalid_app_name' });
}

/** BadRequest `invalid_process` unless `process` (when given) is a process type name. */
export function requireProcessType(process: string | undefined): void {
  if (process !== undefined && !isProcessType(process)) {
    throw new BadRequest('invalid process type name', { code: 'invalid_process' });
  }
}
