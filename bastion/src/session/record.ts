/**
 * Recording a session (docs/recordings.md): starts once the console is open (so the header can
 * name the pod), and in `required` mode refuses the session when it cannot start and ends it
 * when the store fails later.
 */
import type { Console } from '@neetodeploy/platform';
import type { SessionInfo } from '@neetodeploy/recording';
import { policyOf } from '../recording/index.js';
import type { SessionDeps, SessionRun } from './types.js';

function sessionInfo(run: SessionRun, c: Console): SessionInfo {
  const { conn } = run.scope;
  return {
    sessionId: run.id,
    app: run.target.app,
    ...(run.target.process !== undefined ? { process: run.target.process } : {}),
    pod: c.where,
    user: run.user,
    keyId: conn.identity.keyId,
    certSerial: conn.identity.serial.toString(),
    clientAddress: `${conn.info.ip}:${conn.info.port}`,
    via: conn.info.kind,
    command: run.request.label ?? null,
    pty: run.request.pty !== undefined,
    ...(c.execRequest ? { execRequest: c.execRequest } : {}),
    policy: policyOf(conn.identity.extensions),
  };
}

/** Before the console opens: refuses (rejects) when recording is required and impossible. */
export async function recordingReady(run: SessionRun, deps: SessionDeps): Promise<void> {
  await deps.recordings?.ready(run.id, policyOf(run.scope.conn.identity.extensions));
}

/** Sets `run.recorder` (or leaves it undefined); rejects, after killing `c`, when required. */
export async function startRecorder(run: SessionRun, deps: SessionDeps, c: Console): Promise<void> {
  const recordings = deps.recordings;
  if (!recordings) return;
  const { pty, size } = run.request;
  const term = pty
    ? { cols: size?.cols ?? pty.cols, rows: size?.rows ?? pty.rows, type: pty.term }
    : { cols: 80, rows: 24 };
  try {
    run.recorder = await recordings.start({ info: sessionInfo(run, c), term }, run.log);
  } catch (err) {
    c.kill();
    throw err;
  }
  if (!run.recorder || recordings.mode !== 'required') return;
  void run.recorder.failed.then(() => {
    run.say(
      'neetodeploy: the session recording failed and recording is required here: the session was ended; tell your administrator',
    );
    c.kill();
  });
}
