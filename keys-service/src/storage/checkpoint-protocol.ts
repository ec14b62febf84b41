/** What sqlite-checkpointer.ts and its worker thread (checkpoint-worker.ts) pass each other. */

/** The worker's `workerData`. */
export interface CheckpointWorkerData {
  readonly file: string;
  readonly intervalMs: number;
}

/** Posted by the worker for a failed checkpoint (it keeps going). */
export interface CheckpointWorkerReport {
  readonly error: string;
}

/** Posted by the parent: the only message, the request to stop after a last checkpoint. */
export const STOP_MESSAGE = 'stop';
