/**
 * The WAL checkpoint thread that sqlite-checkpointer.ts starts: its own connection to the
 * database file, PASSIVE checkpoints on a timer (they never block the serving connection's
 * readers or writers), and a last checkpoint when told to stop.
 */
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { STOP_MESSAGE } from './checkpoint-protocol.js';
import type { CheckpointWorkerData, CheckpointWorkerReport } from './checkpoint-protocol.js';

function run(port: NonNullable<typeof parentPort>, data: CheckpointWorkerData): void {
  const db = new Database(data.file, { fileMustExist: true });
  db.pragma('busy_timeout = 1000');
  const checkpoint = (): void => {
    try {
      db.pragma('wal_checkpoint(PASSIVE)');
    } catch (err) {
      const report: CheckpointWorkerReport = {
        error: err instanceof Error ? err.message : String(err),
      };
      port.postMessage(report);
    }
  };
  const timer = setInterval(checkpoint, data.intervalMs);
  port.on('message', (message: unknown) => {
    if (message !== STOP_MESSAGE) return;
    clearInterval(timer);
    checkpoint();
    db.close();
    port.close();
  });
}

// Only ever loaded as the checkpoint worker; the guard keeps a stray import from throwing.
if (parentPort) run(parentPort, workerData as CheckpointWorkerData);
