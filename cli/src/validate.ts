/**
 * Checks of flags and arguments before anything is sent, with the contract's rules: a bad value
 * is a UsageError (exit 2) that names the flag and the rule, instead of the API's word for it.
 */
import {
  APP_NAME_RULE,
  isAppName,
  isConfigVarName,
  isPodName,
  isProcessType,
} from '@neetodeploy/contract';
import { UsageError } from './errors.js';
import { quoteShort } from './format.js';

/** The most lines of history the keys-service sends (its `maxTail`). */
export const MAX_LOG_LINES = 10_000;

export const CONFIG_VAR_RULE = 'letters, digits and _, not starting with a digit';

export function checkApp(app: string): string {
  if (!isAppName(app)) {
    throw new UsageError(`-a/--app: ${quoteShort(app)} is not an app name: ${APP_NAME_RULE}`);
  }
  return app;
}

/** `what` names the argument in the message, e.g. `KEY`. */
export function checkConfigVarName(name: string, what = 'KEY'): string {
  if (!isConfigVarName(name)) {
    throw new UsageError(
      `${what}: ${quoteShort(name)} is not a valid config var name: ${CONFIG_VAR_RULE}`,
    );
  }
  return name;
}

/** `-p/--process`: a process type (`web`) or one instance of it (`web.1`). */
export function checkProcessOrInstance(value: string): string {
  if (!isProcessType(value) && !(isPodName(value) && /^[a-z0-9][-a-z0-9_]*\.\d+$/.test(value))) {
    throw new UsageError(
      `-p/--process: ${quoteShort(value)} is not a process type (lower-case letters, digits, - and _, e.g. web) or instance (e.g. web.1)`,
    );
  }
  return value;
}

export function checkLogLines(value: string): number {
  if (!/^\d{1,9}$/.test(value) || Number(value) > MAX_LOG_LINES) {
    throw new UsageError(
      `-n/--num: ${quoteShort(value)} is not a number of lines from 0 to ${MAX_LOG_LINES}`,
    );
  }
  return Number(value);
}
