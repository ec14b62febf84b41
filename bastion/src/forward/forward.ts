/**
 * The forwarding step: checks a `direct-tcpip` request against the certificate and the
 * destination rules, opens the port through the platform, then relays bytes until either side
 * closes. Every forward is tracked by its connection (so revocation, idle and maximum-length
 * ends, drain and stop end it too), audited when it opens and closes, and counted in metrics.
 */
import { randomUUID } from 'node:crypto';
import type { AcceptConnection, ServerChannel, TcpipRequestInfo } from 'ssh2';
import {
  AppError,
  BadRequest,
  NotFound,
  PortForwardRefused,
  type PortForwardStream,
} from '@neetodeploy/platform';
import type { ActiveSession, ConnectionScope } from '../connection/index.js';
import { createChannelBudget, type ChannelBudget } from '../limits/index.js';
import { alignPacketSize, type ChannelOpenFailure } from '../ssh2-internals.js';
import type { AuthenticatedConnection, SessionTarget } from '../types.js';
import { checkForward, forwardTarget, targetLabel } from './policy.js';
import { splice } from './splice.js';
import { OPEN_FAILURE, type ForwardDeps, type Refusal } from './types.js';

/** What one connection's forwards share: their budget, and whether its transport is gone. */
interface ConnectionForwards {
  readonly budget: ChannelBudget;
  gone: boolean;
  /** Ends every forward of the connection still opening or open. */
  readonly aborts: Set<(why: string) => void>;
}

const perConnection = new WeakMap<AuthenticatedConnection, ConnectionForwards>();

function forwardsOf(conn: AuthenticatedConnection, max: number): ConnectionForwards {
  let state = perConnection.get(conn);
  if (state) return state;
  const created: ConnectionForwards = {
    budget: createChannelBudget(max),
    gone: false,
    aborts: new Set(),
  };
  // One listener per connection, not per forward: the transport allows only so many.
  const transport = conn.info.transport[0];
  transport?.once('close', () => {
    created.gone = true;
    for (const abort of [...created.aborts]) abort('the connection was lost');
  });
  perConnection.set(conn, created);
  state = created;
  return state;
}

/** The refusal a platform error becomes; `label` names the target as the user asked. */
function refusalFor(err: unknown, label: string, port: number, timeoutMs: number): Refusal {
  const failed = (reason: Refusal['reason'], description: string): Refusal => ({
    reason,
    failure: { reason: OPEN_FAILURE.connectFailed, description },
  });
  if (err instanceof PortForwardRefused) return failed('connect-failed', err.userMessage);
  if (err instanceof NotFound) return failed('not-found', err.userMessage);
  if (err instanceof BadRequest) {
    return {
      reason: 'one-off',
      failure: {
        reason: OPEN_FAILURE.administrativelyProhibited,
        description: `${err.userMessage}; connect as APP:PROCESS@ (or run neetodeploy port-forward --process TYPE)`,
      },
    };
  }
  if (err instanceof ForwardTimeout) {
    return failed(
      'timeout',
      `${label} did not answer on port ${port} within ${Math.ceil(timeoutMs / 1000)} s`,
    );
  }
  if (err instanceof AppError) return failed('error', err.userMessage);
  return failed(
    'error',
    `the bastion could not reach ${label}:${port}: try again, and tell your platform admins if it persists`,
  );
}

class ForwardTimeout extends Error {}

/**
 * Opens the port, or rejects: with ForwardTimeout after `connectTimeoutMs` (the app lookup
 * included), with the abort reason when the connection goes. A stream that arrives late is closed.
 */
async function openTarget(
  target: SessionTarget,
  port: number,
  ids: { id: string; user: string },
  deps: ForwardDeps,
  abort: AbortController,
): Promise<PortForwardStream> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => abort.abort(new ForwardTimeout()), deps.config.connectTimeoutMs);
    const fail = (): void =>
      reject(abort.signal.reason instanceof Error ? abort.signal.reason : new ForwardTimeout());
    abort.signal.addEventListener('abort', fail, { once: true });
  });
  const opening = (async () => {
    const app = await deps.platform.getApp(target.app);
    abort.signal.throwIfAborted();
    return deps.platform.openPortForward(target.app, {
      target: forwardTarget(target, app.processTypes),
      port,
      sessionId: ids.id,
      user: ids.user,
      signal: abort.signal,
    });
  })();
  try {
    return await Promise.race([opening, deadline]);
  } catch (err) {
    void opening.then(
      (late) => late.destroy(),
      () => undefined,
    );
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

export function handleForward(
  accept: AcceptConnection<ServerChannel>,
  reject: (failure?: ChannelOpenFailure) => void,
  request: TcpipRequestInfo,
  scope: ConnectionScope,
  deps: ForwardDeps,
): void {
  const { conn } = scope;
  const refuse = (refusal: Refusal, app: string | null = conn.target?.app ?? null): void => {
    deps.metrics.forwardRefusals.inc({ reason: refusal.reason });
    deps.audit.refused({
      connectionId: conn.info.id,
      user: conn.identity.user,
      app,
      dest: `${request.destIP}:${request.destPort}`,
      reason: refusal.reason,
      message: refusal.failure.description,
      ip: conn.info.ip,
      kind: conn.info.kind,
    });
    reject(refusal.failure);
  };
  const checked = checkForward(
    { host: request.destIP, port: request.destPort },
    conn,
    deps.config,
    Math.floor(deps.now().getTime() / 1000),
  );
  if (!checked.ok) return refuse(checked.refusal);
  const forwards = forwardsOf(conn, deps.config.maxPerConnection);
  if (forwards.gone) return reject();
  const overLimit = (limit: string, description: string): void => {
    scope.logger.warn({ limit }, 'too many port forwards');
    deps.metrics.limitRejections.inc({ limit });
    refuse({ reason: 'limit', failure: { reason: OPEN_FAILURE.resourceShortage, description } });
  };
  if (!forwards.budget.tryReserve()) {
    return overLimit(
      'forwards-per-connection',
      `too many port forwards on this connection (limit ${deps.config.maxPerConnection}): close some and retry`,
    );
  }
  const user = conn.identity.user;
  if (!deps.perUser.tryAcquire(user)) {
    forwards.budget.release();
    return overLimit(
      'forwards-per-user',
      `too many port forwards for ${user} on this bastion (limit ${deps.config.maxPerUser}, all connections together): close some and retry`,
    );
  }
  // Both budgets are given back together, whichever way the forward ends.
  const release = (): void => {
    forwards.budget.release();
    deps.perUser.release(user);
  };
  const id = randomUUID();
  const abort = new AbortController();
  const cancel = (why: string): void => abort.abort(new Error(why));
  forwards.aborts.add(cancel);
  const { target, port } = checked;
  openTarget(target, port, { id, user: conn.identity.user }, deps, abort).then(
    (stream) => {
      forwards.aborts.delete(cancel);
      if (forwards.gone) {
        stream.destroy();
        release();
        return;
      }
      relay(accept(), stream, { id, target, port, scope, deps, forwards, release });
    },
    (err: unknown) => {
      forwards.aborts.delete(cancel);
      release();
      if (forwards.gone) return reject();
      const refusal = refusalFor(err, targetLabel(target), port, deps.config.connectTimeoutMs);
      if (refusal.reason === 'error' && !(err instanceof AppError)) {
        scope.logger.error({ err, app: target.app, port }, 'port forward failed');
      }
      refuse(refusal);
    },
  );
}

interface RelayContext {
  readonly id: string;
  readonly target: SessionTarget;
  readonly port: number;
  readonly scope: ConnectionScope;
  readonly deps: ForwardDeps;
  readonly forwards: ConnectionForwards;
  /** Gives back the forward's place in the connection's and the user's budgets. */
  readonly release: () => void;
}

/** From an accepted channel and an open stream to the close audit line. */
function relay(channel: ServerChannel, stream: PortForwardStream, ctx: RelayContext): void {
  const { scope, deps, forwards, id, target, port, release } = ctx;
  const { conn } = scope;
  if (conn.info.kind === 'jump') alignPacketSize(channel, conn.info.transport[0]);
  const startedAt = deps.now();
  const app = target.app;
  deps.audit.open({
    connectionId: conn.info.id,
    forwardId: id,
    user: conn.identity.user,
    keyId: conn.identity.keyId,
    app,
    target: targetLabel(target),
    instance: stream.instance,
    port,
    ip: conn.info.ip,
    kind: conn.info.kind,
  });
  deps.metrics.activeForwards.inc();
  // Children resolved once: the label lookup would otherwise run for every packet.
  const bytes = {
    in: deps.metrics.forwardBytes.labels('in'),
    out: deps.metrics.forwardBytes.labels('out'),
  };
  const relayed = splice(channel, stream, {
    transport: conn.info.transport,
    onBytes: (direction, n) => {
      bytes[direction].inc(n);
      scope.touch();
    },
  });
  forwards.aborts.add(relayed.abort);
  let ended!: () => void;
  const active: ActiveSession = {
    id,
    kind: 'forward',
    notify: () => undefined,
    terminate: () => relayed.abort('the connection is ending'),
    close: () => relayed.abort('the connection is closing'),
    ended: new Promise<void>((resolve) => (ended = resolve)),
  };
  const untrack = scope.track(active);
  void relayed.done.then((result) => {
    forwards.aborts.delete(relayed.abort);
    release();
    deps.metrics.activeForwards.dec();
    deps.audit.close({
      connectionId: conn.info.id,
      forwardId: id,
      user: conn.identity.user,
      app,
      instance: stream.instance,
      port,
      bytesIn: result.bytesIn,
      bytesOut: result.bytesOut,
      durationMs: deps.now().getTime() - startedAt.getTime(),
      ...(result.error ? { error: result.error } : {}),
    });
    untrack();
    ended();
  });
}
