/** How a connection goes away without losing what the client is owed. */
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { ActiveSession } from './types.js';

/** How long a closing connection may take to flush before its socket is destroyed. */
const CLOSE_GRACE_MS = 1000;
/** How long sessions told to end may take before their connection is closed anyway. */
const SESSION_END_GRACE_MS = 2000;

/**
 * Tells each session why, ends its console so its exit status still reaches the client, and
 * calls `disconnect` once they all ended or the grace ran out.
 */
export function endSessionsThen(
  sessions: readonly ActiveSession[],
  reason: string,
  disconnect: () => void,
): void {
  for (const s of sessions) {
    s.notify(reason);
    s.terminate();
  }
  let timer: NodeJS.Timeout | undefined;
  void Promise.race([
    Promise.all(sessions.map((s) => s.ended)),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, SESSION_END_GRACE_MS))),
  ]).then(() => {
    clearTimeout(timer);
    disconnect();
  });
}

/**
 * An OpenSSH client whose last channel has just closed hangs up by itself; an SSH disconnect
 * sent before that makes it exit 255 and lose the exit status it already received, and
 * destroying the socket drops what ssh2 still has queued. So: wait for the client, then
 * `disconnect`, then destroy, each after a short grace. Without a live socket (a virtual host,
 * or one already gone) it disconnects at once.
 */
export function closeGracefully(stream: Duplex, disconnect: () => void): Promise<void> {
  if (!(stream instanceof net.Socket) || stream.destroyed) {
    disconnect();
    return Promise.resolve();
  }
  return new Promise<void>((resolve) => {
    const ending = setTimeout(disconnect, CLOSE_GRACE_MS);
    const killing = setTimeout(() => stream.destroy(), 2 * CLOSE_GRACE_MS);
    stream.once('close', () => {
      clearTimeout(ending);
      clearTimeout(killing);
      resolve();
    });
  });
}
