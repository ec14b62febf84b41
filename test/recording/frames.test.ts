/**
 * How a recording is stored: the bytes as they passed, in frames, with asciicast made only when
 * it is read; recordings stored as asciicast lines (before frames) still read and verify.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FileRecordingStore,
  ZERO_HASH,
  encodeChunk,
  readRecordingText,
  sha256Hex,
  signManifest,
  startRecording,
  verifyRecording,
} from '@neetodeploy/recording';
import type { RecorderConfig, SessionInfo } from '@neetodeploy/recording';
import { newRecordingKey, sessionInfo } from './support.js';

const config: RecorderConfig = {
  mode: 'best-effort',
  maxSessionBytes: 1 << 20,
  chunkBytes: 4096,
  flushIntervalMs: 50,
  spoolBytes: 1 << 20,
};

const info = (id: string): SessionInfo => sessionInfo(id, { command: 'cat' });

/** `store`, but with its own `putChunk` (everything else read through to `store`). */
const withPutChunk = (
  store: FileRecordingStore,
  putChunk: (id: string, seq: number, data: Buffer) => Promise<void>,
): FileRecordingStore => Object.assign(Object.create(store) as FileRecordingStore, { putChunk });

type Event = [number, string, string];
const eventsOf = (text: string): Event[] =>
  text
    .trimEnd()
    .split('\n')
    .slice(1)
    .map((l) => JSON.parse(l) as Event);

describe('recording: stored as frames, rendered when read', () => {
  let dir: string;
  let store: FileRecordingStore;
  const key = newRecordingKey();

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rec-frames-'));
    store = new FileRecordingStore(dir);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const chunkFiles = (id: string): string[] =>
    readdirSync(join(dir, 'sessions', id, 'chunks'))
      .sort()
      .map((f) => join(dir, 'sessions', id, 'chunks', f));

  it('stores the bytes as they passed, not JSON, and reads them back as asciicast', async () => {
    const id = randomUUID();
    const rec = await startRecording(
      { info: info(id), term: { cols: 80, rows: 24 } },
      { store, key, config, now: () => new Date() },
    );
    const raw = Buffer.from('say "hi"\\\t\x1b[1mbold\x1b[0m\n');
    rec.output(raw);
    rec.stderr(Buffer.from([0x6f, 0x6b, 0xff, 0x0a])); // not UTF-8: kept as is, shown as U+FFFD
    await rec.finish({ code: 0 });
    const stored = Buffer.concat(chunkFiles(id).map((f) => readFileSync(f)));
    assert.ok(stored.includes(raw), 'the output bytes are stored unchanged');
    assert.ok(stored.includes(Buffer.from([0x6f, 0x6b, 0xff, 0x0a])));
    assert.ok(!stored.includes(Buffer.from('\\"hi\\"')), 'no JSON escaping at record time');
    assert.match(
      stored.toString('latin1'),
      /^\{"recording":"[^"]+","seq":0,"prev":"0{64}","format":"frames"\}\n/,
    );
    const events = eventsOf(await readRecordingText(store, id));
    assert.deepEqual(
      events.map((e) => [e[1], e[2]]),
      [
        ['o', raw.toString('utf8')],
        ['e', 'ok\ufffd\n'],
        ['x', '0'],
      ],
    );
    assert.equal((await verifyRecording(store, id, key.publicKey)).ok, true);
  });

  it('renders a character split across two chunks whole, with the time of both reads', async () => {
    const id = randomUUID();
    let now = Date.now();
    const rec = await startRecording(
      { info: info(id), term: { cols: 80, rows: 24 }, at: now },
      // Every frame closes its chunk.
      { store, key, config: { ...config, chunkBytes: 1 }, now: () => new Date() },
    );
    const euro = Buffer.from('€');
    rec.output(euro.subarray(0, 1), (now += 250));
    rec.output(euro.subarray(1), (now += 500));
    await rec.finish({ code: 0 });
    assert.ok(chunkFiles(id).length >= 4, 'header, two halves and the exit in chunks of their own');
    const events = eventsOf(await readRecordingText(store, id));
    assert.deepEqual(events[0], [0.75, 'o', '€']);
    assert.equal((await verifyRecording(store, id, key.publicKey)).ok, true);
  });

  it('records again as soon as a stalled store catches up, not a flush interval later', async () => {
    let release = (): void => undefined;
    let gate = Promise.resolve();
    const files = new FileRecordingStore(dir);
    const stalling = withPutChunk(files, async (id, seq, data) => {
      await gate;
      return files.putChunk(id, seq, data);
    });
    const id = randomUUID();
    const rec = await startRecording(
      { info: info(id), term: { cols: 80, rows: 24 } },
      {
        store: stalling,
        key,
        config: { ...config, chunkBytes: 256, spoolBytes: 1024, flushIntervalMs: 60_000 },
        now: () => new Date(),
      },
    );
    await new Promise((r) => setTimeout(r, 20)); // the header is stored
    gate = new Promise((r) => (release = r));
    for (let n = 0; n < 40; n++) rec.output(Buffer.from(`${String(n).padStart(98, '.')}\n`));
    release();
    await new Promise((r) => setTimeout(r, 100)); // the spool drains
    rec.output(Buffer.from('after the stall\n'));
    const m = (await rec.finish({ code: 0 }))!;
    assert.ok(m.droppedBytes.o > 0, 'the stall cost some output');
    const text = await readRecordingText(store, id);
    assert.match(text, /the recording store is too slow/);
    assert.match(text, /the recording store caught up; recording resumed/);
    assert.match(text, /after the stall/);
    assert.equal((await verifyRecording(store, id, key.publicKey)).ok, true);
  });

  it('stores a small chunk in memory of its own size, not in a whole pooled buffer', async () => {
    const held: number[] = [];
    const measuring = withPutChunk(store, (id, seq, data) => {
      held.push(data.buffer.byteLength / data.length);
      return store.putChunk(id, seq, data);
    });
    const id = randomUUID();
    const rec = await startRecording(
      { info: info(id), term: { cols: 80, rows: 24 } },
      {
        store: measuring,
        key,
        config: { ...config, chunkBytes: 1 << 20, spoolBytes: 8 << 20, flushIntervalMs: 20 },
        now: () => new Date(),
      },
    );
    for (let n = 0; n < 3; n++) {
      rec.output(Buffer.alloc(5000, 'x')); // past the first small buffer: a pooled one is used
      await new Promise((r) => setTimeout(r, 60)); // the flush timer cuts the chunk
    }
    await rec.finish({ code: 0 });
    assert.ok(held.length >= 4, `chunks stored: ${held.length}`);
    assert.ok(
      held.every((ratio) => ratio <= 4),
      `memory held per stored byte: ${held.map((r) => r.toFixed(1)).join(', ')}`,
    );
    assert.equal((await verifyRecording(store, id, key.publicKey)).ok, true);
  });

  it('keeps a chunk to a quarter of a small spool, so an instant store drops nothing', async () => {
    const chunks = new Map<number, Buffer>();
    const instant = withPutChunk(store, (_id, seq, data) => {
      chunks.set(seq, Buffer.from(data));
      return Promise.resolve();
    });
    const id = randomUUID();
    const rec = await startRecording(
      { info: info(id), term: { cols: 80, rows: 24 } },
      {
        store: instant,
        key,
        config: {
          ...config,
          chunkBytes: 1 << 20,
          spoolBytes: 512 * 1024,
          maxSessionBytes: 8 << 20,
        },
        now: () => new Date(),
      },
    );
    for (let n = 0; n < 64; n++) {
      rec.output(Buffer.alloc(32 * 1024, 'y'));
      await new Promise((r) => setImmediate(r));
    }
    const m = (await rec.finish({ code: 0 }))!;
    assert.equal(m.droppedBytes.o, 0);
    assert.equal(m.recordedBytes.o, 64 * 32 * 1024);
    assert.ok(chunks.size >= 16, `${chunks.size} chunks of at most a quarter of the spool`);
  });

  it('reads and verifies a recording stored as asciicast lines, as before frames', async () => {
    const id = randomUUID();
    const header = JSON.stringify({ version: 3, term: { cols: 80, rows: 24 }, timestamp: 1 });
    const body = '[0.5,"o","hi\\n"]\n[0.1,"e","oops\\n"]\n[0,"x","0"]\n';
    const first = encodeChunk({ recording: id, seq: 0, prev: ZERO_HASH }, `${header}\n`);
    const second = encodeChunk({ recording: id, seq: 1, prev: sha256Hex(first) }, body);
    await store.putChunk(id, 0, first);
    await store.putChunk(id, 1, second);
    const now = new Date().toISOString();
    await store.putManifest(
      signManifest(
        {
          version: 1,
          id,
          session: info(id),
          startedAt: now,
          endedAt: now,
          exitCode: 0,
          exitSignal: null,
          chunkCount: 2,
          finalHash: sha256Hex(second),
          storedBytes: first.length + second.length,
          bytes: { i: 0, o: 3, e: 5 },
          recordedBytes: { i: 0, o: 3, e: 5 },
          droppedBytes: { i: 0, o: 0, e: 0 },
          limitBytes: 1 << 20,
        },
        key,
      ),
    );
    assert.equal(await readRecordingText(store, id), `${header}\n${body}`);
    assert.match(
      await readRecordingText(store, id, { mergeStderr: true }),
      /\[0\.1,"o","oops\\n"\]/,
    );
    assert.equal((await verifyRecording(store, id, key.publicKey)).ok, true);
    const firstFile = chunkFiles(id)[0]!;
    const original = readFileSync(firstFile);
    writeFileSync(
      firstFile,
      original.toString('latin1').replace('"prev":"0', '"prev":"1'),
      'latin1',
    );
    const moved = await verifyRecording(store, id, key.publicKey);
    assert.equal(moved.ok === false && `${moved.reason} ${moved.chunk}`, 'chunk-altered 0');
    writeFileSync(firstFile, original);
    const last = chunkFiles(id)[1]!;
    truncateSync(last, statSync(last).size - 2);
    const cut = await verifyRecording(store, id, key.publicKey);
    assert.equal(cut.ok === false && cut.reason, 'truncated');
  });
});
