/**
 * What may be forwarded, as pure functions of the request and the authenticated connection:
 * the certificate must carry `permit-port-forwarding`, the connection must name an app its
 * certificate lists, and the destination must be the target's own loopback. Everything else is
 * refused before the platform is asked anything.
 */
import type { ConsoleTarget } from '@neetodeploy/platform';
import type { AuthenticatedConnection, SessionTarget } from '../types.js';
import { OPEN_FAILURE, type ForwardingConfig, type Refusal } from './types.js';

/** Names the target's loopback; anything else (another pod, metadata, the bastion) is refused. */
export const LOOPBACK_HOSTS: readonly string[] = ['localhost', '127.0.0.1'];

/**
 * The process a bare app target forwards to (`ssh -L ... demo.neetodeploy`, `demo@bastion`):
 * a one-off console has no ports, and Heroku's `ps:forward` also means the web process.
 */
export const DEFAULT_PROCESS = 'web';

function prohibited(reason: Refusal['reason'], description: string): Refusal {
  return { reason, failure: { reason: OPEN_FAILURE.administrativelyProhibited, description } };
}

/** The port asked for, or the refusal; checks in the order a user fixes them. */
export function checkForward(
  dest: { readonly host: string; readonly port: number },
  conn: AuthenticatedConnection,
  config: ForwardingConfig,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): { ok: true; target: SessionTarget; port: number } | { ok: false; refusal: Refusal } {
  if (!config.enabled) {
    return {
      ok: false,
      refusal: prohibited('disabled', 'port forwarding is turned off on this bastion'),
    };
  }
  const target = conn.target;
  if (!target) {
    return {
      ok: false,
      refusal: prohibited(
        'no-target',
        `your certificate grants ${conn.identity.principals.join(', ')}, not the app this connection names: connect as APP:PROCESS@ for an app you may use`,
      ),
    };
  }
  if (!('permit-port-forwarding' in conn.identity.extensions)) {
    return {
      ok: false,
      refusal: prohibited(
        'not-permitted',
        `port forwarding to ${target.app} is not allowed for ${conn.identity.user}: ask an admin for the port-forward permission on ${target.app}, then get a new certificate`,
      ),
    };
  }
  // One connection can open forwards for hours: each new one needs a certificate still valid,
  // so a revoked grant or a removed group (next certificate refused) stops new forwards too.
  if (BigInt(nowSeconds) >= conn.identity.validBefore) {
    return {
      ok: false,
      refusal: prohibited(
        'expired',
        `your certificate for ${target.app} has expired: run the command again for a new one (open forwards go on)`,
      ),
    };
  }
  const host = dest.host.toLowerCase();
  if (!LOOPBACK_HOSTS.includes(host) || dest.port < 1 || dest.port > 65535) {
    return {
      ok: false,
      refusal: prohibited(
        'destination',
        `only localhost:PORT inside ${targetLabel(target)} can be forwarded, not ${dest.host}:${dest.port}`,
      ),
    };
  }
  return { ok: true, target, port: dest.port };
}

/** `demo:web`, `demo:pod=web.1`, or `demo` for a bare app. */
export function targetLabel(target: SessionTarget): string {
  if (target.pod) return `${target.app}:pod=${target.pod}`;
  if (target.process) return `${target.app}:${target.process}`;
  return target.app;
}

/**
 * Where a forward of `target` goes: its process or pod, or for a bare app its
 * {@link DEFAULT_PROCESS} when the app has one (else the bare target, which the platform
 * refuses as a one-off console).
 */
export function forwardTarget(
  target: SessionTarget,
  processTypes: readonly string[],
): ConsoleTarget {
  if (target.process !== undefined || target.pod !== undefined) {
    return {
      ...(target.process !== undefined ? { process: target.process } : {}),
      ...(target.pod !== undefined ? { pod: target.pod } : {}),
    };
  }
  return processTypes.includes(DEFAULT_PROCESS) ? { process: DEFAULT_PROCESS } : {};
}
