/**
 * ssh2's server refuses every channel request once the client sent EOF (it marks the session
 * `_ending` on CHANNEL_EOF), but EOF only ends the client's data: RFC 4254 lets `signal` and
 * `window-change` follow it, and sshd serves them. Without this, Ctrl-C never reached a command
 * whose stdin was at EOF (`neetodeploy exec -- sleep 100 < /dev/null`, `ssh host cmd < /dev/null`).
 * The flag is set again on CHANNEL_CLOSE, which ends the session for real.
 */
import type { Session } from 'ssh2';

export function keepRequestsAfterEof(session: Session): void {
  session.on('eof', () => {
    const internals = session as unknown as { _ending?: boolean };
    if (internals._ending === true) internals._ending = false;
  });
}
