/**
 * The SSH user name and virtual host grammar, as the bastion reads them. The grammar itself is
 * `@neetodeploy/contract` (docs/identity.md), shared with the CLI and the keys-service; these
 * adapters only turn its refusals into "no target", which the authenticator reports.
 */
import { parseSshUser, parseVirtualHost, sshTargetForVirtualHost } from '@neetodeploy/contract';
import type { SessionTarget } from '../types.js';

/** `APP`, `APP:PROCESS` or `APP:pod=NAME`; undefined for anything else. */
export function parseUsername(username: string): SessionTarget | undefined {
  const parsed = parseSshUser(username);
  return parsed.ok ? parsed.value : undefined;
}

/**
 * The target of a connection to the virtual host of `vhostApp`: the user name may add a process
 * or pod of that app; any other user name (stock ssh sends the local one) means the app itself.
 */
export function targetForVirtualHost(vhostApp: string, username: string): SessionTarget {
  return sshTargetForVirtualHost(vhostApp, username);
}

/** `demo.neetodeploy` → `demo` for suffix `.neetodeploy`; undefined if it is not a virtual host. */
export function virtualHostApp(host: string, suffix: string): string | undefined {
  const parsed = parseVirtualHost(host, suffix);
  return parsed.ok ? parsed.value : undefined;
}
