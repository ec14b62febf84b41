/**
 * Finishing a session: the exit status (or signal) to the client, the session's share of every
 * limit and gauge given back, and the audit event that closes what `open.ts` started.
 */
import os from 'node:os';
import { AppError } from '@neetodeploy/platform';
import type { ExitStatus } from '@neetodeploy/platform';
import { SSH_SIGNALS } from './signals.js';
import type { SessionDeps, SessionRun } from './types.js';

/**
 * What went wrong, for the audit log; the client is told what it may know (an
 * {@link AppError}'s `userMessage`, or a generic line for anything unexpected).
 */
export function failureOf(run: SessionRun, err: unknown): string {
  if (err instanceof AppError) {
    // The user sees the message; what lay under it (a reset, a timeout) is for the operator.
    if (err.cause !== undefined) run.log.warn({ err: err.cause, code: err.code }, err.message);
    if (!run.channelClosed) run.say(`neetodeploy: ${err.userMessage}`);
    return `${err.code}: ${err.message}`;
  }
  run.log.error({ err }, 'console failed');
  if (!run.channelClosed) {
    run.say(
      'neetodeploy: the console could not be started; try again, and tell your administrator if it persists',
    );
  }
  return (err as Error).message;
}

/** Called once per started session, whatever happened. Never throws. */
export function finishSession(
  run: SessionRun,
  status: ExitStatus | undefined,
  error: string | undefined,
  deps: SessionDeps,
): void {
  const { channel, scope } = run;
  const conn = scope.conn;
  if (run.recorder) deps.recordings?.finish(run.recorder, status, run.log);
  deps.userSessions.release(run.user);
  deps.metrics.activeSessions.dec();
  deps.metrics.bytes.inc({ direction: 'in' }, run.bytesIn);
  deps.metrics.bytes.inc({ direction: 'out' }, run.bytesOut);
  if (!run.channelClosed) {
    const signal = status?.signal;
    if (signal !== undefined && SSH_SIGNALS.has(signal)) {
      channel.exit(signal, status?.coreDumped ?? false, '');
    } else if (signal !== undefined) {
      // No SSH name for it (sshd sends `SIG@openssh.com`, losing the number): the status a
      // shell reports for it, 128+N, keeps it for scripts.
      channel.exit(128 + (os.constants.signals[`SIG${signal}` as NodeJS.Signals] ?? 0));
    } else channel.exit(status?.code ?? 1);
    channel.end();
  }
  deps.audit.sessionEnd({
    connectionId: conn.info.id,
    sessionId: run.id,
    user: run.user,
    app: run.target.app,
    target: run.targetName,
    where: run.console?.where,
    exitCode: status?.code,
    exitSignal: status?.signal,
    bytesIn: run.bytesIn,
    bytesOut: run.bytesOut,
    durationMs: deps.now().getTime() - run.startedAt.getTime(),
    error,
  });
  run.done();
}
