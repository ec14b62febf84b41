/**
 * WAL checkpoints on a worker thread. SQLite's automatic checkpoint runs inside whichever commit
 * crosses the threshold and fsyncs there, so one request in a few hundred waited for the disk
 * and every request in flight behind it (the keys-service p99, docs/benchmarks.md). With this,
 * the serving connection sets `wal_autocheckpoint = 0` and a second connection on its own
 * thread copies the WAL back with PASSIVE checkpoints, which never block readers or writers.
 * If that thread fails, the serving connection takes automatic checkpoints back.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';

// Plain JavaScript run with `eval`: no loader or build step decides where the worker's file is.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
db.pragma('busy_timeout = 1000');
const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
  } catch (err) {
    parentPort.postMessage({ error: String(err && err.message || err) });
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

export interface CheckpointerOptions {
  /** How often to checkpoint; the WAL grows by at most this long's commits in between. */
  readonly intervalMs?: number;
  /** Told about a failed checkpoint or a lost worker (the store keeps working either way). */
  readonly onError?: (message: string) => void;
}

export interface Checkpointer {
  /** Stops the worker after a last checkpoint. Idempotent. */
  stop(): Promise<void>;
}

/** The WAL size SQLite checkpoints at by itself (its default), restored when the worker fails. */
const AUTOCHECKPOINT_PAGES = 1000;

export function startCheckpointer(
  db: BetterSqlite3.Database,
  file: string,
  options: CheckpointerOptions = {},
): Checkpointer {
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    // The parent's loader flags (tsx in tests) are not needed for plain JavaScript.
    execArgv: [],
    workerData: {
      driver: createRequire(import.meta.url).resolve('better-sqlite3'),
      file,
      intervalMs: options.intervalMs ?? 200,
    },
  });
  // The worker must not keep a finished process alive.
  worker.unref();
  db.pragma('wal_autocheckpoint = 0');
  let stopping = false;
  const fallBack = (message: string): void => {
    options.onError?.(message);
    if (db.open) db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
  };
  worker.on('message', (m: { error?: string }) => {
    if (m.error) options.onError?.(`WAL checkpoint failed: ${m.error}`);
  });
  worker.on('error', (err) => fallBack(`WAL checkpoint worker failed: ${err.message}`));
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  void exited.then(() => {
    if (!stopping) fallBack('WAL checkpoint worker exited');
  });
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        stopping = true;
        worker.postMessage('stop');
        const timeout = setTimeout(() => void worker.terminate(), 5000);
        await exited;
        clearTimeout(timeout);
      })();
      return stopped;
    },
  };
}
