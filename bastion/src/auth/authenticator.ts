/**
 * Adapts ssh2's `authentication` events to {@link checkPublicKey}. Only `publickey` with a valid
 * user certificate ever succeeds. Refused attempts are remembered so that, when the client then
 * tries `keyboard-interactive`, it is sent one info request with zero prompts whose instruction
 * says why and what to run (stock ssh prints it), after which that method fails too.
 */
import type { AuthContext, Connection } from 'ssh2';
import type { Logger } from 'pino';
import type { Audit } from '../audit.js';
import type { LimitsConfig } from '../config.js';
import type { BastionMetrics } from '../metrics/index.js';
import type { TrustSnapshot } from '../trust/index.js';
import type { AuthenticatedConnection, PendingConnection, SessionTarget } from '../types.js';
import { refusalMessage } from './messages.js';
import { parseUsername, targetForVirtualHost } from './username.js';
import type { RefusalReason } from './verify.js';
import { checkPublicKey } from './verify.js';

export interface AuthDeps {
  readonly trust: () => TrustSnapshot | undefined;
  readonly now: () => Date;
  readonly limits: LimitsConfig;
  readonly logger: Logger;
  readonly metrics: BastionMetrics;
  readonly audit: Audit;
}

interface Refusal {
  readonly reason: RefusalReason;
  readonly userMessage: string;
}

const WITH_INFO = ['publickey', 'keyboard-interactive'] as const;
const ONLY_PUBLICKEY = ['publickey'] as const;

/**
 * Wires authentication for one connection. `onAuthenticated` runs before ssh2 reports success,
 * with the only {@link AuthenticatedConnection} this connection will ever get.
 */
export function attachAuthenticator(
  client: Connection,
  pending: PendingConnection,
  deps: AuthDeps,
  onAuthenticated: (conn: AuthenticatedConnection) => void,
): void {
  const { info } = pending;
  let failures = 0;
  let refusal: Refusal | undefined;
  let explained = false;
  const log = deps.logger;

  const methodsLeft = (): ('publickey' | 'keyboard-interactive')[] => [
    ...(explained ? ONLY_PUBLICKEY : WITH_INFO),
  ];

  function fail(ctx: AuthContext, reason: string, extra: Record<string, unknown> = {}): void {
    failures++;
    deps.metrics.authResults.inc({ result: 'failure', reason });
    deps.audit.auth({
      connectionId: info.id,
      ip: info.ip,
      username: ctx.username,
      method: ctx.method,
      result: 'failure',
      reason,
      kind: info.kind,
      ...extra,
    });
    ctx.reject(methodsLeft());
    if (failures >= deps.limits.maxAuthTries) {
      deps.metrics.limitRejections.inc({ limit: 'max-auth-tries' });
      log.warn(
        { event: 'limit.rejected', limit: 'max-auth-tries', failures },
        'too many authentication failures',
      );
      setImmediate(() => client.end());
    }
  }

  function remember(reason: RefusalReason, userMessage: string): void {
    // A certificate's own problem says more than "that was a plain key" (OpenSSH offers the
    // certificate first and the bare key after it).
    if (!refusal || (refusal.reason === 'not-a-certificate' && reason !== 'not-a-certificate')) {
      refusal = { reason, userMessage };
    }
  }

  client.on('authentication', (ctx) => {
    const now = deps.now();
    if (ctx.method === 'none') {
      ctx.reject(methodsLeft());
      return;
    }
    if (ctx.method === 'keyboard-interactive') {
      if (explained) {
        fail(ctx, 'keyboard-interactive');
        return;
      }
      explained = true;
      const message =
        refusal?.userMessage ??
        refusalMessage('no-certificate', { now, ip: info.ip, app: appOf(ctx.username) });
      ctx.prompt([], 'neetodeploy', `${message}\n`, () => fail(ctx, 'keyboard-interactive'));
      return;
    }
    if (ctx.method !== 'publickey') {
      fail(ctx, ctx.method);
      return;
    }

    const principal = info.kind === 'jump' ? info.virtualHostApp : undefined;
    const result = checkPublicKey(
      { algo: ctx.key.algo, keyData: ctx.key.data, signature: ctx.signature, signedData: ctx.blob },
      { trust: deps.trust(), now, ip: info.ip, principal },
    );
    if (!result.ok) {
      const app = appOf(ctx.username);
      remember(
        result.reason,
        refusalMessage(result.reason, {
          now,
          ip: info.ip,
          app,
          certificate: result.certificate,
          detail: result.reason === 'unknown-critical-option' ? result.message : undefined,
        }),
      );
      log.info(
        {
          event: 'auth.refused',
          reason: result.reason,
          detail: result.message,
          algo: ctx.key.algo,
        },
        'publickey refused',
      );
      fail(ctx, result.reason, {
        user: result.certificate ? result.certificate.keyId.replace(/:[^:]*$/, '') : undefined,
        keyId: result.certificate?.keyId,
        serial: result.certificate?.serial,
      });
      return;
    }
    if (!result.signed) {
      ctx.accept(); // "key acceptable": the client signs next
      return;
    }

    const identity = result.identity;
    let target: SessionTarget | undefined;
    if (info.kind === 'jump' && info.virtualHostApp) {
      target = targetForVirtualHost(info.virtualHostApp, ctx.username);
    } else {
      const parsed = parseUsername(ctx.username);
      target = parsed && identity.principals.includes(parsed.app) ? parsed : undefined;
    }
    deps.metrics.authResults.inc({ result: 'success', reason: target ? 'ok' : 'jump-only' });
    deps.audit.auth({
      connectionId: info.id,
      ip: info.ip,
      username: ctx.username,
      method: 'publickey',
      result: 'success',
      user: identity.user,
      keyId: identity.keyId,
      serial: identity.serial,
      kind: info.kind,
      reason: target ? undefined : 'jump-only',
    });
    onAuthenticated({ state: 'authenticated', info, identity, target, username: ctx.username });
    ctx.accept();
  });

  function appOf(username: string): string | undefined {
    if (info.kind === 'jump') return info.virtualHostApp;
    return parseUsername(username)?.app;
  }
}
