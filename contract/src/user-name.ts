/**
 * The SSH user name that selects a console at the bastion (`ssh USER@bastion`), and the
 * ProxyJump virtual host names `APP.neetodeploy`. The CLI encodes them, the bastion parses them.
 *
 * Grammar: `APP` | `APP:PROCESS` | `APP:pod=NAME`. A process type never contains `=`, so
 * `pod=` cannot be mistaken for a process type.
 */
import { APP_NAME_RULE, isAppName } from './app-name.js';
import type { Result } from './errors.js';
import { ContractError, ok, refuse } from './errors.js';

/**
 * Process types as the keys-service accepts them in a certificate request (`process`):
 * lower-case letters, digits, `-` and `_`, starting with a letter or digit, at most 63.
 */
export const PROCESS_TYPE_PATTERN = /^[a-z0-9][-a-z0-9_]{0,62}$/;

/**
 * Pods (Kubernetes) and process instances (local, e.g. `web.1`): DNS subdomains, at most 253.
 */
export const POD_NAME_PATTERN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/** The domain under which `ssh APP.neetodeploy` reaches the bastion's in-process virtual host. */
export const VIRTUAL_HOST_SUFFIX = '.neetodeploy';

const POD_PREFIX = 'pod=';
const GRAMMAR = 'use APP, APP:PROCESS or APP:pod=NAME';

/**
 * What a session runs beside: a one-off console of `app` (neither field), a running instance of
 * a process type, or one pod. At most one of `process` and `pod`.
 */
export type SshTarget =
  | { readonly app: string; readonly process?: undefined; readonly pod?: undefined }
  | { readonly app: string; readonly process: string; readonly pod?: undefined }
  | { readonly app: string; readonly pod: string; readonly process?: undefined };

export function isProcessType(value: string): boolean {
  return PROCESS_TYPE_PATTERN.test(value);
}

export function isPodName(value: string): boolean {
  return POD_NAME_PATTERN.test(value);
}

/** The process type itself, or `invalid_process`. */
export function parseProcessType(value: string): Result<string> {
  return isProcessType(value)
    ? ok(value)
    : refuse(
        'invalid_process',
        `${JSON.stringify(value)} is not a process type: lower-case letters, digits, - and _`,
      );
}

/** The pod name itself, or `invalid_pod`. */
export function parsePodName(value: string): Result<string> {
  return isPodName(value)
    ? ok(value)
    : refuse(
        'invalid_pod',
        `${JSON.stringify(value)} is not a pod name: lower-case letters, digits, - and .`,
      );
}

/**
 * `demo` → `{ app: 'demo' }`, `demo:web` → `{ app, process }`, `demo:pod=web.1` → `{ app, pod }`.
 * Exact inverse of {@link encodeSshUser} on every name it accepts.
 */
export function parseSshUser(userName: string): Result<SshTarget> {
  const colon = userName.indexOf(':');
  const app = colon === -1 ? userName : userName.slice(0, colon);
  if (!isAppName(app)) {
    return refuse(
      'invalid_user_name',
      `${JSON.stringify(userName)} does not name an app (${APP_NAME_RULE}): ${GRAMMAR}`,
    );
  }
  if (colon === -1) return ok({ app });
  const rest = userName.slice(colon + 1);
  if (rest.startsWith(POD_PREFIX)) {
    const pod = parsePodName(rest.slice(POD_PREFIX.length));
    return pod.ok ? ok({ app, pod: pod.value }) : pod;
  }
  const process = parseProcessType(rest);
  return process.ok ? ok({ app, process: process.value }) : process;
}

/**
 * The user name for `target`. Throws {@link ContractError} for a name the bastion would not
 * parse back to the same target (bad app, process or pod name, or both process and pod).
 */
export function encodeSshUser(target: {
  readonly app: string;
  readonly process?: string | undefined;
  readonly pod?: string | undefined;
}): string {
  if (!isAppName(target.app)) {
    throw new ContractError(
      'invalid_app_name',
      `${JSON.stringify(target.app)} is not an app name: ${APP_NAME_RULE}`,
    );
  }
  if (target.process !== undefined && target.pod !== undefined) {
    throw new ContractError('invalid_user_name', 'name a process type or a pod, not both');
  }
  if (target.pod !== undefined) {
    const pod = parsePodName(target.pod);
    if (!pod.ok) throw pod.error;
    return `${target.app}:${POD_PREFIX}${pod.value}`;
  }
  if (target.process !== undefined) {
    const process = parseProcessType(target.process);
    if (!process.ok) throw process.error;
    return `${target.app}:${process.value}`;
  }
  return target.app;
}

/** `demo` → `demo.neetodeploy`. Throws {@link ContractError} for a bad app name. */
export function encodeVirtualHost(app: string, suffix: string = VIRTUAL_HOST_SUFFIX): string {
  if (!isAppName(app)) {
    throw new ContractError(
      'invalid_app_name',
      `${JSON.stringify(app)} is not an app name: ${APP_NAME_RULE}`,
    );
  }
  return `${app}${suffix}`;
}

/**
 * `demo.neetodeploy` (any case: host names are case-insensitive) → `demo`. The inverse of
 * {@link encodeVirtualHost} up to case.
 */
export function parseVirtualHost(
  host: string,
  suffix: string = VIRTUAL_HOST_SUFFIX,
): Result<string> {
  const lower = host.toLowerCase();
  const app = lower.endsWith(suffix) ? lower.slice(0, -suffix.length) : '';
  return isAppName(app)
    ? ok(app)
    : refuse('invalid_virtual_host', `${JSON.stringify(host)} is not APP${suffix}`);
}

/**
 * The target of a connection to the virtual host of `app`: the user name may add a process or
 * pod of that app; any other user name means the app itself, because stock ssh sends the local
 * user name unless told otherwise.
 */
export function sshTargetForVirtualHost(app: string, userName: string): SshTarget {
  const parsed = parseSshUser(userName);
  return parsed.ok && parsed.value.app === app ? parsed.value : { app };
}
