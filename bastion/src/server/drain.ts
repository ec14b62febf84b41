/**
 * A graceful drain, as a rolling restart needs it: unauthenticated connections are hung up (they
 * would reconnect to another replica anyway), open sessions are told on stderr and given time to
 * finish with their real exit status.
 */
import type { Logger } from 'pino';
import type { ConnectionRegistry } from '../connection/index.js';
import { EVENTS } from '../events.js';

/** Resolves once every session ended or `timeoutMs` passed; never rejects. */
export async function drainConnections(
  connections: ConnectionRegistry,
  timeoutMs: number,
  logger: Logger,
): Promise<void> {
  const sessions = connections.sessions();
  logger.info({ event: EVENTS.drainStart, sessions: sessions.length }, 'draining');
  for (const c of connections.all()) if (c.state === 'pending') c.hangUp();
  const seconds = Math.ceil(timeoutMs / 1000);
  for (const s of sessions) {
    s.notify(
      `neetodeploy: the bastion is restarting; this session will be closed within ${seconds}s. Reconnect to continue.`,
    );
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(sessions.map((s) => s.ended)),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
  ]);
  clearTimeout(timer);
  logger.info({ event: EVENTS.drainDone, remaining: connections.sessions().length }, 'drain done');
}
