/**
 * The recording worker (recording/src/worker): the bastion's thread batches bytes, the worker
 * encodes, chains and stores them. What it records must be what the in-thread recorder records;
 * a caller that outruns it keeps its bounds (best-effort: a hashed gap; required: a failure).
 */
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  FileRecordingStore,
  RecordingWorker,
  readRecordingText,
  verifyRecording,
} from '@neetodeploy/recording';
import type { RecorderConfig, RecordingError, RecordingStart } from '@neetodeploy/recording';
import { tempDir } from '../support/ssh-client.js';
import { writeRecordingKey } from './support.js';

const start = (id: string, policy: 'full' | 'output-only' = 'full'): RecordingStart => ({
  info: {
    sessionId: id,
    app: 'demo',
    user: 'alice@example.com',
    keyId: 'alice',
    certSerial: '1',
    clientAddress: '127.0.0.1:5',
    via: 'direct',
    command: 'cat',
    pty: false,
    policy,
  },
  term: { cols: 80, rows: 24 },
});

// Kept before the reuse test wraps it (a static method: calling it needs no `this`).
// eslint-disable-next-line @typescript-eslint/unbound-method
const { allocUnsafeSlow } = Buffer;

const config = (over: Partial<RecorderConfig> = {}): RecorderConfig => ({
  mode: 'best-effort',
  maxSessionBytes: 1 << 30,
  chunkBytes: 64 * 1024,
  flushIntervalMs: 100,
  spoolBytes: 16 << 20,
  ...over,
});

const events = (text: string) =>
  text
    .trimEnd()
    .split('\n')
    .slice(1)
    .map((line) => JSON.parse(line) as [number, string, string]);

describe('recording: the worker thread', function () {
  this.timeout(30_000);
  let dir: { dir: string; cleanup(): Promise<void> };
  let keyFile: string;
  let store: FileRecordingStore;
  const publicKey = () => readFileSync(keyFile, 'utf8');

  beforeEach(async () => {
    dir = await tempDir();
    keyFile = writeRecordingKey(dir.dir);
    store = new FileRecordingStore(path.join(dir.dir, 'store'));
  });
  afterEach(async () => {
    await store.close();
    await dir.cleanup();
  });

  const worker = (over: Partial<RecorderConfig> = {}) =>
    new RecordingWorker({
      store: { kind: 'file', dir: path.join(dir.dir, 'store') },
      keyFile,
      config: config(over),
    });

  it('records every byte in order, with the times they passed, and the recording verifies', async () => {
    const w = worker();
    try {
      const id = randomUUID();
      const r = await w.start(start(id));
      // Safely after the recording's start as the recorder's own clock (`performance`) has it:
      // Date.now() can trail it by a fraction of a millisecond, and an event timed before the
      // start is moved up to it, which made the first interval 0.249758 s in one CI run.
      const t0 = Date.now() + 10;
      r.input(Buffer.from('ls\n'), t0);
      r.output(Buffer.from('a.txt\n'), t0 + 250);
      r.stderr(Buffer.from('warn\n'), t0 + 500);
      r.resize(100, 40, t0 + 750);
      // A multi-byte character split across reads is kept whole.
      const snow = Buffer.from('☃\n');
      r.output(snow.subarray(0, 1), t0 + 1000);
      r.output(snow.subarray(1), t0 + 1000);
      const big = Buffer.alloc(300 * 1024, 'x');
      r.output(big, t0 + 1250);
      const manifest = await r.finish({ code: 3 });
      assert.ok(manifest, 'a manifest');
      assert.deepEqual(manifest.bytes, { i: 3, o: 6 + 4 + big.length, e: 5 });
      const result = await verifyRecording(store, id, publicKey());
      assert.ok(result.ok, result.ok ? '' : result.message);
      const seen = events(await readRecordingText(store, id));
      const text = (code: string) =>
        seen
          .filter((e) => e[1] === code)
          .map((e) => e[2])
          .join('');
      assert.equal(text('i'), 'ls\n');
      assert.equal(text('o'), `a.txt\n☃\n${big.toString()}`);
      assert.equal(text('e'), 'warn\n');
      assert.deepEqual(
        seen.filter((e) => e[1] === 'r' || e[1] === 'x').map((e) => e.slice(1)),
        [
          ['r', '100x40'],
          ['x', '3'],
        ],
      );
      // Intervals come from the times given, not from when the worker got the batch.
      const intervals = seen.slice(1, 4).map((e) => e[0]);
      assert.deepEqual(intervals, [0.25, 0.25, 0.25]);
    } finally {
      await w.close();
    }
  });

  it("reuses full batches the worker hands back, without mixing two sessions' bytes", async () => {
    // Required: start() waits for the worker to be up, so batches are taken as they come.
    const w = worker({ mode: 'required' });
    // Counts fresh full-size batches: with reuse, far fewer than the batches sent.
    let freshFull = 0;
    Buffer.allocUnsafeSlow = (size: number) => {
      if (size === 256 * 1024) freshFull++;
      return allocUnsafeSlow(size);
    };
    try {
      const ids = [randomUUID(), randomUUID()] as const;
      const recorders = [await w.start(start(ids[0])), await w.start(start(ids[1]))] as const;
      const sent = ['', ''];
      const chunkOf = (who: number, n: number): string => {
        const letter = who === 0 ? 'a' : 'z';
        return `${who}:${String(n).padStart(6, '0')} ${letter.repeat(2000)}\n`.repeat(24);
      };
      for (let n = 0; n < 64; n++) {
        for (const who of [0, 1]) {
          const text = chunkOf(who, n);
          sent[who] += text;
          recorders[who]!.output(Buffer.from(text));
        }
        // Let the worker take batches and hand them back while the sessions go on.
        if (n % 4 === 3) await new Promise((r) => setTimeout(r, 5));
      }
      for (const [who, r] of recorders.entries()) {
        const manifest = await r.finish({ code: 0 });
        assert.ok(manifest, 'a manifest');
        const id = ids[who]!;
        const result = await verifyRecording(store, id, publicKey());
        assert.ok(result.ok, result.ok ? '' : result.message);
        const output = events(await readRecordingText(store, id))
          .filter((e) => e[1] === 'o')
          .map((e) => e[2])
          .join('');
        assert.ok(output === sent[who], `session ${who}: its output, every byte and in order`);
      }
      const batches = Math.floor((sent[0]!.length + sent[1]!.length) / (256 * 1024));
      assert.ok(freshFull < batches / 2, `${freshFull} fresh full batches for ~${batches} sent`);
    } finally {
      Buffer.allocUnsafeSlow = allocUnsafeSlow;
      await w.close();
    }
  });

  it('keeps a hashed gap when the caller outruns it (best-effort), and says so', async () => {
    const w = worker({ spoolBytes: 256 * 1024 });
    try {
      const id = randomUUID();
      const r = await w.start(start(id));
      // 8 MiB without yielding: the worker's acknowledgements cannot arrive meanwhile.
      const piece = Buffer.alloc(64 * 1024, 'y');
      for (let i = 0; i < 128; i++) r.output(piece);
      const manifest = await r.finish({ code: 0 });
      assert.ok(manifest);
      assert.equal(manifest.bytes.o, 128 * piece.length, 'every byte counted');
      assert.ok(manifest.droppedBytes.o > 0, 'some bytes only hashed');
      assert.equal(manifest.recordedBytes.o + manifest.droppedBytes.o, manifest.bytes.o);
      assert.ok(manifest.recordedBytes.o <= 256 * 1024, `${manifest.recordedBytes.o} recorded`);
      const result = await verifyRecording(store, id, publicKey());
      assert.ok(result.ok, result.ok ? '' : result.message);
      const seen = events(await readRecordingText(store, id));
      assert.ok(seen.some((e) => e[1] === 'm' && /fell behind/.test(e[2])));
      // The worker's own spool may drop too (the store is slower than memory): every span is
      // listed, and each hash is that of its bytes (all 'y').
      const spans = seen
        .filter((e) => e[1] === 'd')
        .map((e) => JSON.parse(e[2]) as { bytes: number; sha256: string });
      assert.ok(spans.length >= 1);
      assert.equal(
        spans.reduce((sum, d) => sum + d.bytes, 0),
        manifest.droppedBytes.o,
      );
      for (const span of spans) {
        const bytes = Buffer.alloc(span.bytes, 'y');
        assert.equal(span.sha256, createHash('sha256').update(bytes).digest('hex'));
      }
    } finally {
      await w.close();
    }
  });

  it('fails a required recording the caller outruns, so the session can be ended', async () => {
    const w = worker({ mode: 'required', spoolBytes: 256 * 1024 });
    try {
      const r = await w.start(start(randomUUID()));
      let failure: RecordingError | undefined;
      void r.failed.then((err) => (failure = err));
      for (let i = 0; i < 16; i++) r.output(Buffer.alloc(64 * 1024, 'z'));
      await new Promise((resolve) => setImmediate(resolve));
      assert.equal(failure?.code, 'spool-full');
      assert.match(failure.userMessage, /session was ended/);
      assert.equal(await r.finish({ code: 0 }), undefined);
    } finally {
      await w.close();
    }
  });

  it('refuses a required recording whose store cannot take its header', async () => {
    const w = new RecordingWorker({
      // Below a file: no folder can be made there.
      store: { kind: 'file', dir: path.join(keyFile, 'store') },
      keyFile,
      config: config({ mode: 'required' }),
    });
    try {
      await assert.rejects(w.start(start(randomUUID())), (err: RecordingError) => {
        assert.equal(err.name, 'RecordingError');
        return true;
      });
    } finally {
      await w.close();
    }
  });
});
