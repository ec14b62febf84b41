/**
 * The connection `exec` runs its command over, authenticated with the app's certificate.
 *
 * The certificate `ssh-cert` caches for the app (app-certificates.ts) is tried first when it is
 * fresh and was issued under the credentials in use: no keys-service round trip and no HTTP
 * client to load, which is most of what `exec` costs before the bastion. When the bastion
 * refuses that certificate (revoked), is no longer at the recorded address, or no longer has the
 * recorded identity, the cached certificate is dropped and a new one issued, so a stale cache
 * costs one extra attempt and never a wrong answer. `--process` always asks the keys-service,
 * which checks that the app has that process type.
 */
import { VIRTUAL_HOST_SUFFIX } from '@neetodeploy/contract/user-name';
import type ssh2 from 'ssh2';
import {
  cachedAppCredentials,
  dropAppCertificate,
  issueAppCertificate,
  type AppCredentials,
} from '../app-certificates.js';
import { withAppHint } from '../app-errors.js';
import type { Deps } from '../deps.js';
import { BastionConnectionError } from '../errors.js';
import type { BastionTarget } from '../ssh/connect.js';

export interface AppTarget {
  readonly app: string;
  readonly process?: string;
  /** The SSH user name naming the target (`demo:web`). */
  readonly username: string;
  readonly readyTimeoutMs?: number;
}

function bastionTarget(target: AppTarget, credentials: AppCredentials): BastionTarget {
  return {
    host: credentials.bastion.host,
    port: credentials.bastion.port,
    knownHosts: credentials.bastion.knownHosts,
    username: target.username,
    app: target.app,
    key: credentials.key,
    certificate: credentials.certificate,
    ...(target.readyTimeoutMs !== undefined ? { readyTimeoutMs: target.readyTimeoutMs } : {}),
  };
}

/** Login failures a newer certificate or bastion record can fix; not "overloaded". */
function staleCredentials(err: unknown): boolean {
  return (
    err instanceof BastionConnectionError &&
    (err.stage === 'refused' || err.stage === 'untrusted' || err.stage === 'unreachable')
  );
}

async function connectCached(
  target: AppTarget,
  deps: Deps,
  host: string,
): Promise<ssh2.Client | undefined> {
  if (target.process !== undefined) return undefined;
  const tag = await deps.api.credentialTag();
  if (tag === undefined) return undefined;
  const cached = await cachedAppCredentials(deps.config, host, tag, new Date());
  if (!cached) return undefined;
  const { connectToBastion } = await import('../ssh/connect.js');
  try {
    return await connectToBastion(bastionTarget(target, cached));
  } catch (err) {
    if (!staleCredentials(err)) throw err;
    await dropAppCertificate(deps.config, host);
    return undefined;
  }
}

/** Resolves once authenticated; rejects with the keys-service's or the bastion's refusal. */
export async function connectToApp(target: AppTarget, deps: Deps): Promise<ssh2.Client> {
  const host = `${target.app}${VIRTUAL_HOST_SUFFIX}`;
  const cached = await connectCached(target, deps, host);
  if (cached) return cached;
  const { client } = await deps.api.session();
  // The request goes out first, and ssh2 (the heaviest module exec needs) loads while the
  // keys-service signs: the two overlap instead of adding up.
  const [fresh, { connectToBastion }] = await Promise.all([
    withAppHint(client, target.app, () =>
      issueAppCertificate(client, deps.config, host, {
        ...(target.process !== undefined ? { process: target.process } : {}),
      }),
    ),
    import('../ssh/connect.js'),
  ]);
  return connectToBastion(
    bastionTarget(target, {
      key: fresh.key,
      certificate: fresh.issued.certificate,
      bastion: {
        host: fresh.issued.bastion.host,
        port: fresh.issued.bastion.port,
        knownHosts: fresh.issued.bastion.known_hosts,
      },
    }),
  );
}
