/**
 * The bastion's side of session recording: the store and key from config, the policy the
 * certificate carries, and the log lines and metrics around each recording. The format, the
 * chain and the stores live in `@neetodeploy/recording`.
 */
import type { Logger } from 'pino';
import { Unavailable } from '@neetodeploy/platform';
import {
  DEFAULT_RECORDING_POLICY,
  RECORDING_EXTENSION,
  RECORDING_POLICIES,
  RecordingWorker,
  createRecordingStore,
  loadRecordingKey,
} from '@neetodeploy/recording';
import type {
  RecordedExit,
  RecordingError,
  RecordingPolicy,
  RecordingStart,
  SessionRecorder,
} from '@neetodeploy/recording';
import type { RecordingConfig } from '../config.js';
import { EVENTS } from '../events.js';
import type { BastionMetrics } from '../metrics/index.js';

export interface Recordings {
  readonly mode: RecordingConfig['mode'];
  /**
   * Called before the console opens: in `required` mode, checks that the store answers and
   * rejects with an {@link Unavailable} when it does not, so that no command runs unrecorded.
   * Resolves at once in `best-effort` mode or under policy `off`.
   */
  ready(sessionId: string, policy: RecordingPolicy): Promise<void>;
  /**
   * Starts recording a session; undefined when nothing is recorded (no recording configured, or
   * policy `off`). In `required` mode rejects with an {@link Unavailable} whose user message
   * says the session cannot be recorded; in `best-effort` mode never rejects.
   */
  start(start: RecordingStart, log: Logger): Promise<SessionRecorder | undefined>;
  /** Finishes a recording in the background; `close()` waits for it. Never rejects. */
  finish(recorder: SessionRecorder, exit: RecordedExit | undefined, log: Logger): void;
  /** Waits (at most `timeoutMs`) for recordings still being written. */
  close(timeoutMs?: number): Promise<void>;
}

/** The policy a certificate's extensions name; unknown values record everything. */
export function policyOf(extensions: Readonly<Record<string, string>>): RecordingPolicy {
  const value = extensions[RECORDING_EXTENSION];
  if (value === undefined) return DEFAULT_RECORDING_POLICY;
  return (RECORDING_POLICIES as readonly string[]).includes(value)
    ? (value as RecordingPolicy)
    : DEFAULT_RECORDING_POLICY;
}

/** What `createBastion` calls: reads the key (throws a RecordingError if unusable) and the store. */
export function createRecordings(
  config: RecordingConfig | undefined,
  deps: { readonly metrics: BastionMetrics },
): Recordings | undefined {
  if (!config) return undefined;
  // Read here so a bad key fails the bastion's start, not its first recording.
  loadRecordingKey(config.keyFile);
  const store = createRecordingStore(config.store);
  // Encoding, hashing and storing run on a worker thread (recording/src/worker): a recorded
  // session's thread only copies bytes.
  const worker = new RecordingWorker({ store: config.store, keyFile: config.keyFile, config });
  worker.prepare();
  const pending = new Set<Promise<unknown>>();
  const { metrics } = deps;

  const refused = (err: unknown): Unavailable => {
    metrics.recordings.inc({ result: 'refused' });
    return new Unavailable(
      'this session cannot be recorded and recording is required here: try again in a minute, and tell your administrator if it persists',
      { cause: err, code: 'recording_unavailable', message: (err as Error).message },
    );
  };

  const onFailure = (log: Logger) => (err: RecordingError) => {
    metrics.recordings.inc({ result: 'failed' });
    log.error(
      { event: EVENTS.recordingFailed, code: err.code, err: err.message },
      'recording failed',
    );
  };

  return {
    mode: config.mode,
    async ready(sessionId, policy) {
      if (config.mode !== 'required' || policy === 'off') return;
      try {
        await store.listChunks(sessionId);
      } catch (err) {
        throw refused(err);
      }
    },
    async start(start, log) {
      if (start.info.policy === 'off') {
        metrics.recordings.inc({ result: 'off' });
        return undefined;
      }
      try {
        return await worker.start(start, onFailure(log));
      } catch (err) {
        throw refused(err);
      }
    },
    finish(recorder, exit, log) {
      const p = recorder.finish(exit).then((manifest) => {
        if (!manifest) return;
        metrics.recordings.inc({ result: 'stored' });
        const dropped = manifest.droppedBytes.i + manifest.droppedBytes.o + manifest.droppedBytes.e;
        if (dropped > 0) metrics.recordingDroppedBytes.inc(dropped);
        log.info(
          {
            event: EVENTS.recordingStored,
            recordingId: manifest.id,
            chunks: manifest.chunkCount,
            storedBytes: manifest.storedBytes,
            droppedBytes: dropped,
          },
          'recording stored',
        );
      });
      pending.add(p);
      void p.finally(() => pending.delete(p));
    },
    async close(timeoutMs = 10_000) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
        timer.unref();
      });
      await Promise.race([Promise.allSettled([...pending]), timeout]);
      clearTimeout(timer);
      await Promise.all([store.close(), worker.close()]);
    },
  };
}
