/**
 * The recording worker: every recording of one bastion process is encoded, hashed, chained,
 * spooled and stored here, on a thread of its own, so the session's thread only copies bytes.
 * It runs the same recorder as the in-thread path (../recorder.ts); this file only routes
 * messages to it.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadRecordingKey } from '../keys.js';
import { startRecording, type ThreadRecorder } from '../recorder.js';
import { createRecordingStore } from '../stores/index.js';
import { RecordingError } from '../types.js';
import type { FromWorker, RecordingWorkerData, ToWorker, WorkerError } from './protocol.js';
import { FULL_BATCH_BYTES, STREAMS } from './protocol.js';

const port = parentPort!;
const data = workerData as RecordingWorkerData;
const store = createRecordingStore(data.store);
const key = loadRecordingKey(data.keyFile);
const recorders = new Map<string, Promise<ThreadRecorder | undefined>>();
// The S3 client loads most of itself at its first request: make one now (a listing of a
// recording that cannot exist), so the first session's header is not stored seconds late.
void store.listChunks('00000000-0000-4000-8000-000000000000').catch(() => undefined);

const post = (message: FromWorker, transfer: ArrayBuffer[] = []): void =>
  port.postMessage(message, transfer);

function asError(err: unknown): WorkerError {
  const e =
    err instanceof RecordingError
      ? err
      : new RecordingError('store', (err as Error).message ?? String(err));
  return { code: e.code, message: e.message, userMessage: e.userMessage };
}

function start(id: string, message: Extract<ToWorker, { t: 'start' }>): void {
  const recorder = startRecording(message.start, {
    store,
    key,
    config: data.config,
    now: () => new Date(),
    onFailure: (err) => post({ t: 'failed', id, error: asError(err) }),
  }).then(
    (r) => {
      // `started` is told once the header is stored, in every mode (the caller decides whether
      // to wait for it); data is taken meanwhile.
      r.started().then(
        () => post({ t: 'started', id }),
        (err: unknown) => post({ t: 'started', id, error: asError(err) }),
      );
      return r;
    },
    (err: unknown) => {
      post({ t: 'started', id, error: asError(err) });
      return undefined;
    },
  );
  recorders.set(id, recorder);
}

/** Hands a batch's pieces to the recorder; returns the bytes it held. */
function feed(r: ThreadRecorder | undefined, message: Extract<ToWorker, { t: 'data' }>): number {
  const bytes = Buffer.from(message.bytes);
  const { pieces } = message;
  let offset = 0;
  for (let i = 0; i + 2 < pieces.length; i += 3) {
    const length = pieces[i + 1]!;
    const piece = bytes.subarray(offset, offset + length);
    offset += length;
    const stream = STREAMS[pieces[i]!]!;
    if (!r) continue;
    if (stream === 'i') r.input(piece, pieces[i + 2]);
    else if (stream === 'o') r.output(piece, pieces[i + 2]);
    else r.stderr(piece, pieces[i + 2]);
  }
  return offset;
}

async function handle(message: ToWorker): Promise<void> {
  if (message.t === 'start') return start(message.id, message);
  const r = await recorders.get(message.id);
  switch (message.t) {
    case 'data': {
      // The recorder copied what it keeps (frames, hashes): the memory can go back.
      const bytes = feed(r, message);
      const spare = message.bytes.byteLength === FULL_BATCH_BYTES ? message.bytes : undefined;
      post(
        { t: 'consumed', id: message.id, bytes, ...(spare ? { spare } : {}) },
        spare ? [spare] : [],
      );
      return;
    }
    case 'gap':
      return r?.gap(message.spans);
    case 'resize':
      return r?.resize(message.cols, message.rows, message.at);
    case 'annotate':
      return r?.annotate(message.info);
    case 'finish': {
      recorders.delete(message.id);
      const manifest = r ? await r.finish(message.exit) : undefined;
      post({ t: 'finished', id: message.id, ...(manifest ? { manifest } : {}) });
      return;
    }
  }
}

// Every message of a recording awaits the same start promise, whose reactions run in the order
// they were added: a recording's messages are handled in order, and a slow finish of one
// recording never holds up another.
port.on('message', (message: ToWorker) => {
  handle(message).catch((err: unknown) => {
    if (message.t !== 'start') post({ t: 'failed', id: message.id, error: asError(err) });
  });
});
