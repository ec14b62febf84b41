/**
 * One session's story, once the channel asked for `shell`, `exec` or a subsystem: open (check
 * the target and the user's session cap, open a console), bind the streams until the console
 * exits, then finish (exit status to the client, audit). Each phase lives in its own file.
 */
import type { Logger } from 'pino';
import type { ServerChannel } from 'ssh2';
import type { ExitStatus } from '@neetodeploy/platform';
import type { ConnectionScope } from '../connection/index.js';
import { bindStreams } from './bind.js';
import { failureOf, finishSession } from './finish.js';
import { beginSession, openConsole } from './open.js';
import { recordingReady, startRecorder } from './record.js';
import type { SessionDeps, SessionRequest, SessionRun } from './types.js';

/**
 * Starts the session on `channel` and returns it while its console opens, so that resizes and
 * signals can reach it; undefined when it was refused (the client was told why).
 */
export function runSession(
  channel: ServerChannel,
  request: SessionRequest,
  scope: ConnectionScope,
  deps: SessionDeps,
  id: string,
  log: Logger,
): SessionRun | undefined {
  const run = beginSession(channel, request, scope, deps, id, log);
  if (run) void drive(run, deps);
  return run;
}

async function drive(run: SessionRun, deps: SessionDeps): Promise<void> {
  let status: ExitStatus | undefined;
  let error: string | undefined;
  try {
    await recordingReady(run, deps);
    const console = await openConsole(run, deps);
    await startRecorder(run, deps, console);
    status = await bindStreams(run, console);
  } catch (err) {
    error = failureOf(run, err);
  } finally {
    finishSession(run, status, error, deps);
  }
}
