/**
 * The authentication step: adapts ssh2's `authentication` events to {@link checkPublicKey}. Only
 * `publickey` with a valid user certificate ever succeeds. Refused attempts are remembered so
 * that, when the client then tries `keyboard-interactive`, it is sent one info request with zero
 * prompts whose instruction says why and what to run (stock ssh prints it), after which that
 * method fails too.
 */
import type { AuthContext, Connection, KeyboardAuthContext, PublicKeyAuthContext } from 'ssh2';
import type { Logger } from 'pino';
import type { Audit } from '../audit.js';
import type { LimitsConfig } from '../config.js';
import type { AuthenticationStep } from '../connection/index.js';
import { EVENTS } from '../events.js';
import { MAX_USERNAME_BYTES, createAuthTries, usernameFits } from '../limits/index.js';
import type { SourcePenalties } from '../limits/index.js';
import type { BastionMetrics } from '../metrics/index.js';
import type { TrustSnapshot } from '../trust/index.js';
import { userOfKeyId } from '../trust/index.js';
import type {
  AuthenticatedConnection,
  ConnectionInfo,
  PendingConnection,
  SessionTarget,
  VerifiedIdentity,
} from '../types.js';
import { refusalMessage } from './messages.js';
import { parseUsername, targetForVirtualHost } from './username.js';
import type { RefusalReason } from './verify.js';
import { checkPublicKey } from './verify.js';

export interface AuthDeps {
  readonly trust: () => TrustSnapshot | undefined;
  readonly now: () => Date;
  readonly limits: LimitsConfig;
  readonly metrics: BastionMetrics;
  readonly audit: Audit;
  /** Told when a direct connection uses up its tries or sends an absurd user name. */
  readonly penalties?: SourcePenalties;
}

interface Refusal {
  readonly reason: RefusalReason;
  readonly userMessage: string;
}

const WITH_INFO = ['publickey', 'keyboard-interactive'] as const;
const ONLY_PUBLICKEY = ['publickey'] as const;

/** The authentication step of every connection, sharing `deps`. */
export function createAuthenticationStep(deps: AuthDeps): AuthenticationStep {
  return {
    attach: (client, pending, logger, onAuthenticated) =>
      attachAuthenticator(client, pending, deps, logger, onAuthenticated),
  };
}

/** The user name of the ProxyJump hop in `neetodeploy ssh-config`'s ssh_config: not an app. */
const JUMP_USER = 'neetodeploy-jump';

/** The app a user name asks for, for refusal messages. */
function appOf(info: ConnectionInfo, username: string): string | undefined {
  if (info.kind === 'jump') return info.virtualHostApp;
  if (username === JUMP_USER) return undefined;
  return parseUsername(username)?.app;
}

/** What the user name asks for, when the certificate grants it (see {@link AuthenticatedConnection.target}). */
function targetOf(
  info: ConnectionInfo,
  username: string,
  identity: VerifiedIdentity,
): SessionTarget | undefined {
  if (info.kind === 'jump' && info.virtualHostApp) {
    return targetForVirtualHost(info.virtualHostApp, username);
  }
  const parsed = parseUsername(username);
  return parsed && identity.principals.includes(parsed.app) ? parsed : undefined;
}

/**
 * Wires authentication for one connection. `onAuthenticated` runs before ssh2 reports success,
 * with the only {@link AuthenticatedConnection} this connection will ever get.
 */
export function attachAuthenticator(
  client: Connection,
  pending: PendingConnection,
  deps: AuthDeps,
  log: Logger,
  onAuthenticated: (conn: AuthenticatedConnection) => void,
): void {
  const { info } = pending;
  const tries = createAuthTries(deps.limits.maxAuthTries);
  let refusal: Refusal | undefined;
  let explained = false;

  const methodsLeft = (): ('publickey' | 'keyboard-interactive')[] => [
    ...(explained ? ONLY_PUBLICKEY : WITH_INFO),
  ];

  let closed = false;
  /** Ends the connection now: no later request of this client is looked at. */
  function hangUp(limit: 'max-auth-tries' | 'username-too-long', message: string): void {
    closed = true;
    deps.metrics.limitRejections.inc({ limit });
    log.warn({ event: EVENTS.limit, limit, attempts: tries.attempts }, message);
    if (info.kind === 'direct') {
      deps.penalties?.offend(info.ip, limit === 'max-auth-tries' ? 'authTries' : 'badUsername');
    }
    client.end();
  }

  function fail(ctx: AuthContext, reason: string, extra: Record<string, unknown> = {}): void {
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
  }

  function remember(reason: RefusalReason, userMessage: string): void {
    // A certificate's own problem says more than "that was a plain key" (OpenSSH offers the
    // certificate first and the bare key after it).
    if (!refusal || (refusal.reason === 'not-a-certificate' && reason !== 'not-a-certificate')) {
      refusal = { reason, userMessage };
    }
  }

  function explain(ctx: KeyboardAuthContext, now: Date): void {
    if (explained) return fail(ctx, 'keyboard-interactive');
    explained = true;
    const message =
      refusal?.userMessage ??
      refusalMessage('no-certificate', { now, ip: info.ip, app: appOf(info, ctx.username) });
    ctx.prompt([], 'neetodeploy', `${message}\n`, (answers: unknown) => {
      // ssh2 calls back with an Error when the client sent a new request instead of answering:
      // that request is answered in its turn; a failure here would be one answer too many.
      if (answers instanceof Error) return;
      fail(ctx, 'keyboard-interactive');
    });
  }

  function publicKey(ctx: PublicKeyAuthContext, now: Date): void {
    const principal = info.kind === 'jump' ? info.virtualHostApp : undefined;
    const result = checkPublicKey(
      { algo: ctx.key.algo, keyData: ctx.key.data, signature: ctx.signature, signedData: ctx.blob },
      { trust: deps.trust(), now, ip: info.ip, principal, known: pending.carrierCertificate },
    );
    if (!result.ok) {
      const app = appOf(info, ctx.username);
      const detail = result.reason === 'unknown-critical-option' ? result.message : undefined;
      const { certificate } = result;
      remember(
        result.reason,
        refusalMessage(result.reason, { now, ip: info.ip, app, certificate, detail }),
      );
      log.info(
        {
          event: EVENTS.authRefused,
          reason: result.reason,
          detail: result.message,
          algo: ctx.key.algo,
        },
        'publickey refused',
      );
      return fail(ctx, result.reason, {
        user: certificate ? userOfKeyId(certificate.keyId) : undefined,
        keyId: certificate?.keyId,
        serial: certificate?.serial,
      });
    }
    if (!result.signed) return ctx.accept(); // "key acceptable": the client signs next

    const { identity } = result;
    const target = targetOf(info, ctx.username, identity);
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
    // ssh2 disconnects a client that asks again once authenticated: this connection's
    // authentication state (these closures, its tries, its refusal) is garbage from here on.
    client.off('authentication', onAuthentication);
    onAuthenticated({ state: 'authenticated', info, identity, target, username: ctx.username });
    ctx.accept();
  }

  function onAuthentication(ctx: AuthContext): void {
    // Requests pipelined behind the one that closed the connection are never answered.
    if (closed) return;
    // Before anything looks at the user name: a huge one is an attack on whatever would.
    if (!usernameFits(ctx.username)) {
      return hangUp(
        'username-too-long',
        `user name of ${ctx.username.length} characters refused (limit ${MAX_USERNAME_BYTES} bytes)`,
      );
    }
    if (!tries.attempt()) return hangUp('max-auth-tries', 'too many authentication attempts');
    const now = deps.now();
    if (ctx.method === 'none') return ctx.reject(methodsLeft());
    if (ctx.method === 'keyboard-interactive') return explain(ctx, now);
    if (ctx.method !== 'publickey') return fail(ctx, ctx.method);
    publicKey(ctx, now);
  }
  client.on('authentication', onAuthentication);
}
