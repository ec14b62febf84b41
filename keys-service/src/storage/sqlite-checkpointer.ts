/**
 * WAL checkpoints on a worker thread. SQLite's automatic checkpoint runs inside whichever commit
 * crosses the threshold and fsyncs there, so one request in a few hundred waited for the disk
 * and every request in flight behind it (the keys-service p99, docs/benchmarks.md). With this,
 * the serving connection sets `wal_autocheckpoint = 0` and a second connection on its own
 * thread copies the WAL back with PASSIVE checkpoints, which never block readers or writers.
 * If that thread fails, the serving connection takes automatic checkpoints back.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type BetterSqlite3 from 'better-sqlite3';
import { STOP_MESSAGE } from './checkpoint-protocol.js';
import type { CheckpointWorkerData, CheckpointWorkerReport } from './checkpoint-protocol.js';

/**
 * Starts checkpoint-worker beside this file: the `.js` one in dist. Sources run under tsx (the
 * tests) have no `.js` sibling, and Node 20 gives worker threads none of the parent's loader
 * hooks, so there a two-line bootstrap loads the `.ts` file through tsx's API.
 */
function startWorker(data: CheckpointWorkerData): Worker {
  const built = new URL('./checkpoint-worker.js', import.meta.url);
  if (fs.existsSync(fileURLToPath(built))) return new Worker(built, { workerData: data });
  const source = JSON.stringify(new URL('./checkpoint-worker.ts', import.meta.url).href);
  // The package's ESM build of the API (its CommonJS build cannot load itself from a worker).
  const cjs = createRequire(import.meta.url).resolve('tsx/esm/api');
  const api = JSON.stringify(pathToFileURL(path.join(path.dirname(cjs), 'index.mjs')).href);
  const bootstrap = `import(${api}).then(({ tsImport }) => tsImport(${source}, ${source}));`;
  return new Worker(bootstrap, { eval: true, workerData: data });
}

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
  const data: CheckpointWorkerData = { file, intervalMs: options.intervalMs ?? 200 };
  let worker: Worker;
  try {
    worker = startWorker(data);
  } catch (err) {
    // No worker (e.g. sources run without tsx): SQLite's own checkpoints, as without the option.
    options.onError?.(`WAL checkpoint worker not started: ${(err as Error).message}`);
    return { stop: () => Promise.resolve() };
  }
  // The worker must not keep a finished process alive.
  worker.unref();
  db.pragma('wal_autocheckpoint = 0');
  let stopping = false;
  const fallBack = (message: string): void => {
    options.onError?.(message);
    if (db.open) db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
  };
  worker.on('message', (report: CheckpointWorkerReport) => {
    options.onError?.(`WAL checkpoint failed: ${report.error}`);
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
        worker.postMessage(STOP_MESSAGE);
        const timeout = setTimeout(() => void worker.terminate(), 5000);
        await exited;
        clearTimeout(timeout);
      })();
      return stopped;
    },
  };
}
