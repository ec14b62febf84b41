/**
 * The recording library on its own: what the bastion writes reads back as asciicast v3, verify
 * accepts it, and each kind of tampering fails verify with its own reason.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import {
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  unlinkSync,
  writeFileSync,
  renameSync,
  truncateSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  FileRecordingStore,
  readRecordingText,
  signManifest,
  startRecording,
  verifyRecording,
} from '@neetodeploy/recording';
import type { DroppedSpan, RecorderConfig, SessionInfo } from '@neetodeploy/recording';
import { newRecordingKey, sessionInfo } from './support.js';

const config: RecorderConfig = {
  mode: 'best-effort',
  maxSessionBytes: 1 << 20,
  chunkBytes: 64,
  flushIntervalMs: 50,
  spoolBytes: 1 << 20,
};

const info = (id: string, policy: SessionInfo['policy'] = 'full'): SessionInfo =>
  sessionInfo(id, { policy });

describe('recording: format, chain and verify', () => {
  let dir: string;
  let store: FileRecordingStore;
  const key = newRecordingKey();

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'rec-'));
    store = new FileRecordingStore(dir);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function record(policy: SessionInfo['policy'] = 'full', cfg = config): Promise<string> {
    const id = randomUUID();
    const rec = await startRecording(
      { info: info(id, policy), term: { cols: 80, rows: 24 } },
      { store, key, config: cfg, now: () => new Date() },
    );
    rec.input(Buffer.from('ls\n'));
    for (let n = 0; n < 10; n++) rec.output(Buffer.from(`line ${n} of output\n`));
    rec.stderr(Buffer.from('warning: on stderr\n'));
    rec.resize(120, 40);
    // A multi-byte character split across two reads is recorded whole.
    const euro = Buffer.from('€\n');
    rec.output(euro.subarray(0, 1));
    rec.output(euro.subarray(1));
    rec.annotate({ pod: 'demo-console-abc' });
    const manifest = await rec.finish({ code: 3 });
    assert.ok(manifest, 'the recording finished');
    return id;
  }

  const chunkFile = (id: string, seq: number): string =>
    join(dir, 'sessions', id, 'chunks', `${String(seq).padStart(8, '0')}.chunk`);

  it('reads back as asciicast v3 with input, stdout, stderr, resize and exit, and verifies', async () => {
    const id = await record();
    const text = await readRecordingText(store, id);
    const lines = text.trimEnd().split('\n');
    const header = JSON.parse(lines[0]!);
    assert.equal(header.version, 3);
    assert.deepEqual(header.term, { cols: 80, rows: 24 });
    assert.equal(header.neetodeploy.user, 'alice@example.com');
    assert.equal(header.neetodeploy.certSerial, '42');
    const events = lines.slice(1).map((l) => JSON.parse(l) as [number, string, string]);
    const of = (code: string): string =>
      events
        .filter((e) => e[1] === code)
        .map((e) => e[2])
        .join('');
    assert.equal(of('i'), 'ls\n');
    assert.match(of('o'), /line 0 of output\nline 1 of output\n[^]*line 9 of output\n€\n$/);
    assert.equal(of('e'), 'warning: on stderr\n');
    assert.equal(of('r'), '120x40');
    assert.equal(of('x'), '3');
    assert.ok(events.every((e) => typeof e[0] === 'number' && e[0] >= 0));
    assert.ok(readdirSync(join(dir, 'sessions', id, 'chunks')).length > 3, 'several chunks');
    const result = await verifyRecording(store, id, key.publicKey);
    assert.equal(result.ok, true, JSON.stringify(result));
    const manifest = (await store.getManifest(id))!;
    assert.equal(manifest.session.pod, 'demo-console-abc');
    assert.equal(manifest.exitCode, 3);
    assert.deepEqual(manifest.bytes, { i: 3, o: 174, e: 19 });
    const merged = await readRecordingText(store, id, { mergeStderr: true });
    assert.ok(merged.includes('"o","warning: on stderr\\n"'));
  });

  it('leaves input out under output-only', async () => {
    const id = await record('output-only');
    const text = await readRecordingText(store, id);
    assert.ok(!text.includes('"i"'));
    assert.ok(text.includes('line 9 of output'));
    const m = (await store.getManifest(id))!;
    assert.equal(m.bytes.i, 3);
    assert.equal(m.recordedBytes.i, 0);
    assert.equal((await verifyRecording(store, id, key.publicKey)).ok, true);
  });

  it('keeps only hashes past the byte limit, and says so', async () => {
    const id = randomUUID();
    const rec = await startRecording(
      { info: info(id), term: { cols: 80, rows: 24 } },
      {
        store,
        key,
        config: { ...config, maxSessionBytes: 100, chunkBytes: 4096 },
        now: () => new Date(),
      },
    );
    const big = Buffer.alloc(10_000, 'x');
    rec.output(big);
    const m = (await rec.finish({ code: 0 }))!;
    assert.equal(m.recordedBytes.o, 100);
    assert.equal(m.droppedBytes.o, 9_900);
    const text = await readRecordingText(store, id);
    assert.match(text, /recording limit of 100 bytes reached/);
    const d = text
      .split('\n')
      .filter((l) => l.includes(',"d",'))
      .map((l) => JSON.parse((JSON.parse(l) as [number, string, string])[2]) as DroppedSpan);
    assert.equal(
      d.map((s) => s.bytes).reduce((a, b) => a + b, 0),
      9_900,
    );
    assert.equal((await verifyRecording(store, id, key.publicKey)).ok, true);
  });

  it('fails verify when one byte is flipped', async () => {
    const id = await record();
    const file = chunkFile(id, 2);
    const data = readFileSync(file);
    data.writeUInt8(data.readUInt8(data.length - 5) ^ 0x01, data.length - 5);
    writeFileSync(file, data);
    const r = await verifyRecording(store, id, key.publicKey);
    assert.equal(r.ok, false);
    assert.equal(r.ok === false && r.reason, 'chunk-altered');
    assert.equal(r.ok === false && r.chunk, 2);
  });

  it('fails verify when a byte of the last chunk is flipped', async () => {
    const id = await record();
    const last = readdirSync(join(dir, 'sessions', id, 'chunks')).length - 1;
    const file = chunkFile(id, last);
    const data = readFileSync(file);
    data.writeUInt8(data.readUInt8(data.length - 4) ^ 0x01, data.length - 4);
    writeFileSync(file, data);
    const r = await verifyRecording(store, id, key.publicKey);
    assert.equal(r.ok === false && r.reason, 'chunk-altered');
  });

  it('fails verify when a chunk is dropped', async () => {
    const id = await record();
    unlinkSync(chunkFile(id, 2));
    const r = await verifyRecording(store, id, key.publicKey);
    assert.equal(r.ok === false && r.reason, 'chunk-missing');
    assert.equal(r.ok === false && r.chunk, 2);
  });

  it('fails verify when two chunks are swapped', async () => {
    const id = await record();
    const a = chunkFile(id, 1);
    const b = chunkFile(id, 2);
    renameSync(a, `${a}.tmp`);
    renameSync(b, a);
    renameSync(`${a}.tmp`, b);
    const r = await verifyRecording(store, id, key.publicKey);
    assert.equal(r.ok === false && r.reason, 'chunk-out-of-order');
  });

  it('fails verify when the recording is truncated', async () => {
    const id = await record();
    const last = readdirSync(join(dir, 'sessions', id, 'chunks')).length - 1;
    unlinkSync(chunkFile(id, last));
    const r = await verifyRecording(store, id, key.publicKey);
    assert.equal(r.ok === false && r.reason, 'truncated');
  });

  it('fails verify when a chunk is cut short', async () => {
    const id = await record();
    const file = chunkFile(id, 1);
    truncateSync(file, statSync(file).size - 3);
    const r = await verifyRecording(store, id, key.publicKey);
    assert.equal(r.ok === false && r.reason, 'truncated');
  });

  it('fails verify when the manifest is re-signed with another key', async () => {
    const id = await record();
    const m = (await store.getManifest(id))!;
    const { keyId: _k, signature: _s, ...unsigned } = m;
    await store.putManifest(signManifest({ ...unsigned, exitCode: 0 }, newRecordingKey()));
    const r = await verifyRecording(store, id, key.publicKey);
    assert.equal(r.ok === false && r.reason, 'wrong-key');
  });

  it('fails verify when a manifest field is edited', async () => {
    const id = await record();
    const file = join(dir, 'sessions', id, 'manifest.json');
    writeFileSync(file, readFileSync(file, 'utf8').replace('"exitCode":3', '"exitCode":0'));
    const r = await verifyRecording(store, id, key.publicKey);
    assert.equal(r.ok === false && r.reason, 'signature-invalid');
  });

  it('reports a recording without manifest, and an unknown id', async () => {
    const id = await record();
    unlinkSync(join(dir, 'sessions', id, 'manifest.json'));
    const missing = await verifyRecording(store, id, key.publicKey);
    assert.equal(missing.ok === false && missing.reason, 'manifest-missing');
    const r = await verifyRecording(store, randomUUID(), key.publicKey);
    assert.equal(r.ok === false && r.reason, 'not-found');
    const bad = await verifyRecording(store, '../etc', key.publicKey);
    assert.equal(bad.ok === false && bad.reason, 'bad-id');
  });

  it('lists manifests by app, user and time, newest first', async () => {
    const first = await record();
    const second = await record();
    const all = await store.listManifests({ app: 'demo' });
    assert.deepEqual(new Set(all.map((m) => m.id)), new Set([first, second]));
    assert.equal((await store.listManifests({ app: 'other' })).length, 0);
    assert.equal((await store.listManifests({ user: 'bob@example.com' })).length, 0);
    assert.equal((await store.listManifests({ since: new Date(Date.now() + 60_000) })).length, 0);
    assert.equal((await store.listManifests({ limit: 1 })).length, 1);
  });

  it('goes on recording after its folders were removed (old recordings pruned by hand)', async () => {
    await record();
    rmSync(join(dir, 'index'), { recursive: true, force: true });
    rmSync(join(dir, 'sessions'), { recursive: true, force: true });
    const id = await record();
    assert.deepEqual(
      (await store.listManifests({ app: 'demo' })).map((m) => m.id),
      [id],
    );
    assert.equal((await verifyRecording(store, id, key.publicKey)).ok, true);
  });

  it('keeps a window-change flood bounded: repeated sizes once, at most 10,000 resizes, none past the limit', async () => {
    const id = randomUUID();
    const rec = await startRecording(
      { info: info(id), term: { cols: 80, rows: 24 } },
      { store, key, config: { ...config, chunkBytes: 64 * 1024 }, now: () => new Date() },
    );
    for (let n = 0; n < 50_000; n++) rec.resize(80, 24);
    for (let n = 0; n < 50_000; n++) rec.resize(80 + (n % 2), 24);
    await rec.finish({ code: 0 });
    const text = await readRecordingText(store, id);
    const resizes = text.split('\n').filter((l) => l.includes('"r"')).length;
    assert.equal(resizes, 10_000);
    assert.equal((await verifyRecording(store, id, key.publicKey)).ok, true);
  });
});
