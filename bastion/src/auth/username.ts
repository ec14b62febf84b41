import { APP_NAME_PATTERN } from '@neetodeploy/platform';
import type { SessionTarget } from '../types.js';

const PROCESS_PATTERN = /^[a-z0-9][-a-z0-9_]{0,62}$/i;
const POD_PATTERN = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

/**
 * Parses the SSH user name (docs/identity.md): `APP`, `APP:PROCESS` or `APP:pod=NAME`.
 * Returns undefined for anything else.
 */
export function parseUsername(username: string): SessionTarget | undefined {
  const colon = username.indexOf(':');
  const app = colon === -1 ? username : username.slice(0, colon);
  if (!APP_NAME_PATTERN.test(app)) return undefined;
  if (colon === -1) return { app };
  const rest = username.slice(colon + 1);
  if (rest.startsWith('pod=')) {
    const pod = rest.slice(4);
    return POD_PATTERN.test(pod) ? { app, pod } : undefined;
  }
  return PROCESS_PATTERN.test(rest) ? { app, process: rest } : undefined;
}

/**
 * The target of a connection to the virtual host of `vhostApp`: the user name may add a process
 * or pod of that app; any other user name (stock ssh sends the local one) means the app itself.
 */
export function targetForVirtualHost(vhostApp: string, username: string): SessionTarget {
  const parsed = parseUsername(username);
  if (parsed && parsed.app === vhostApp) return parsed;
  return { app: vhostApp };
}

/** `demo.neetodeploy` → `demo` for suffix `.neetodeploy`; undefined if it is not a virtual host. */
export function virtualHostApp(host: string, suffix: string): string | undefined {
  const lower = host.toLowerCase();
  if (!lower.endsWith(suffix)) return undefined;
  const app = lower.slice(0, -suffix.length);
  return APP_NAME_PATTERN.test(app) ? app : undefined;
}
