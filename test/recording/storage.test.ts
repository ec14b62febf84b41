/**
 * Where recordings go and what happens when that fails: an S3-compatible store (s3rver, started
 * here on 127.0.0.1) behind the bastion, `required` mode refusing a session whose store is
 * down, `best-effort` mode counting the failure, and the per-session byte limit holding on a
 * 100 MB output without slowing the session down.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import {
  FileRecordingStore,
  S3RecordingStore,
  parseRecordingKey,
  readRecordingText,
  startRecording,
  verifyRecording,
} from '@neetodeploy/recording';
import type { RecordingStore } from '@neetodeploy/recording';
import { ssh, tempDir } from '../support/ssh-client.js';
import { waitUntil } from '../support/wait.js';
import { startHarness, type Harness } from '../bastion/harness.js';
import { nextRecording, replay, streamOf, writeRecordingKey } from './support.js';

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  /** Set by run(). */
  httpServer?: HttpServer;
}
type S3rverClass = new (options: Record<string, unknown>) => S3rverInstance;
const S3rver = createRequire(import.meta.url)('s3rver') as S3rverClass;

const BUCKET = 'recordings';

/**
 * Stops the store for real: close() alone only stops accepting, and a keep-alive connection the
 * S3 client keeps busy (a flush every 100 ms) went on being served, so the store never failed.
 */
async function takeDown(s3: S3rverInstance): Promise<void> {
  const closed = s3.close();
  s3.httpServer?.closeAllConnections();
  await closed;
}
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}

/** Runs `ssh ... command`, counting stdout bytes without keeping them; resolves with time. */
function timedSsh(
  config: string,
  command: string,
): Promise<{ code: number | null; bytes: number; ms: number }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const child = spawn('ssh', ['-F', config, 'bastion', command], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let bytes = 0;
    child.stdout.on('data', (d: Buffer) => (bytes += d.length));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, bytes, ms: Date.now() - started }));
  });
}

describe('recording: storage', function () {
  this.timeout(120_000);

  describe('S3-compatible store (s3rver)', () => {
    let s3: S3rverInstance;
    let endpoint: string;
    let tmp: Awaited<ReturnType<typeof tempDir>>;
    let h: Harness;
    let store: S3RecordingStore;
    let keyFile = '';

    before(async () => {
      tmp = await tempDir();
      mkdirSync(path.join(tmp.dir, 's3'));
      s3 = new S3rver({
        address: '127.0.0.1',
        port: 0,
        silent: true,
        directory: path.join(tmp.dir, 's3'),
        configureBuckets: [{ name: BUCKET }],
      });
      const addr = await s3.run();
      endpoint = `http://127.0.0.1:${addr.port}`;
      const s3Config = {
        kind: 's3' as const,
        endpoint,
        region: 'us-east-1',
        bucket: BUCKET,
        prefix: 'rec/',
        credentials: CREDENTIALS,
      };
      store = new S3RecordingStore(s3Config);
      h = await startHarness({
        config: ({ dir }) => {
          keyFile = writeRecordingKey(dir);
          return {
            recording: { keyFile, store: s3Config, chunkBytes: 1024, flushIntervalMs: 200 },
          };
        },
      });
    });
    after(async () => {
      await h?.close();
      await store?.close();
      await s3?.close();
      await tmp?.cleanup();
    });

    it('stores a bastion session that verifies and replays', async () => {
      const { config } = await h.user('alice', { principals: ['demo'] });
      const r = await ssh(config, ['bastion', 'seq 1 3000; echo oops >&2; exit 5']);
      assert.equal(r.code, 5, r.stderr.toString());
      const m = await nextRecording(store, 'demo', new Set());
      assert.ok(m.chunkCount >= 3, `several chunks (${m.chunkCount})`);
      const ok = await verifyRecording(store, m.id, readFileSync(keyFile, 'utf8'));
      assert.equal(ok.ok, true, JSON.stringify(ok));
      const { events } = await replay(store, m.id);
      const expected = Array.from({ length: 3000 }, (_, n) => `${n + 1}\n`).join('');
      assert.equal(streamOf(events, 'o'), expected);
      assert.equal(streamOf(events, 'e'), 'oops\n');
      assert.equal(streamOf(events, 'x'), '5');
      const listed = await store.listManifests({
        app: 'demo',
        user: 'alice@example.com',
        since: new Date(Date.now() - 60_000),
      });
      assert.deepEqual(
        listed.map((x) => x.id),
        [m.id],
      );
      assert.equal(
        (await store.listManifests({ app: 'demo', since: new Date(Date.now() + 60_000) })).length,
        0,
      );
    });

    it('detects an object edited in the bucket', async () => {
      const key = parseRecordingKey(readFileSync(keyFile, 'utf8'));
      const id = randomUUID();
      const rec = await startRecording(
        {
          info: {
            sessionId: id,
            app: 'demo',
            user: 'u@example.com',
            keyId: 'u@example.com:r',
            certSerial: '1',
            clientAddress: '127.0.0.1:1',
            via: 'direct',
            command: 'x',
            pty: false,
            policy: 'full',
          },
          term: { cols: 80, rows: 24 },
        },
        {
          store,
          key,
          now: () => new Date(),
          config: {
            mode: 'required',
            maxSessionBytes: 1 << 20,
            chunkBytes: 1024,
            flushIntervalMs: 100,
            spoolBytes: 1 << 20,
          },
        },
      );
      for (let n = 0; n < 100; n++) rec.output(Buffer.from(`row ${n}\n`));
      assert.ok(await rec.finish({ code: 0 }));
      assert.equal((await verifyRecording(store, id, key.publicKey)).ok, true);
      const chunk = (await store.getChunk(id, 1))!;
      chunk.writeUInt8(chunk.readUInt8(chunk.length - 3) ^ 0x02, chunk.length - 3);
      await store.putChunk(id, 1, chunk);
      const r = await verifyRecording(store, id, key.publicKey);
      assert.equal(r.ok === false && r.reason, 'chunk-altered');
      assert.match(await readRecordingText(store, id), /row 99/);
    });
  });

  describe('when the store is down', () => {
    let port: number;
    before(async () => {
      port = await closedPort();
    });

    const downStore =
      (mode: 'required' | 'best-effort') =>
      ({ dir }: { dir: string }) => ({
        recording: {
          mode,
          keyFile: writeRecordingKey(dir),
          store: {
            kind: 's3' as const,
            endpoint: `http://127.0.0.1:${port}`,
            bucket: BUCKET,
            credentials: CREDENTIALS,
            requestTimeoutMs: 2_000,
          },
        },
      });

    it('refuses the session in required mode, before the command runs', async () => {
      const h = await startHarness({ config: downStore('required') });
      try {
        const { config } = await h.user('alice', { principals: ['demo'] });
        const marker = path.join(h.dir, 'ran');
        const r = await ssh(config, ['bastion', `touch ${marker}; echo ran`]);
        assert.notEqual(r.code, 0);
        assert.equal(r.stdout.toString(), '');
        assert.match(r.stderr.toString(), /cannot be recorded and recording is required/);
        assert.equal(existsSync(marker), false, 'the command never ran');
        const metrics = await h.bastion.metrics.registry.getSingleMetricAsString(
          'neetodeploy_bastion_recordings_total',
        );
        assert.match(metrics, /result="refused"} 1/);
      } finally {
        await h.close();
      }
    });

    it('lets the session run in best-effort mode and counts the failure', async () => {
      const h = await startHarness({ config: downStore('best-effort') });
      try {
        const { config } = await h.user('alice', { principals: ['demo'] });
        const r = await ssh(config, ['bastion', 'echo still-works']);
        assert.equal(r.code, 0, r.stderr.toString());
        assert.equal(r.stdout.toString(), 'still-works\n');
        const deadline = Date.now() + 15_000;
        for (;;) {
          const metrics = await h.bastion.metrics.registry.getSingleMetricAsString(
            'neetodeploy_bastion_recordings_total',
          );
          if (/result="failed"} 1/.test(metrics)) break;
          assert.ok(Date.now() < deadline, `no failure counted: ${metrics}`);
          await new Promise((res) => setTimeout(res, 100));
        }
      } finally {
        await h.close();
      }
    });
  });

  it('ends a required-mode session when its store fails mid-way', async () => {
    const tmpS3 = await tempDir();
    const s3 = new S3rver({
      address: '127.0.0.1',
      port: 0,
      silent: true,
      directory: tmpS3.dir,
      configureBuckets: [{ name: BUCKET }],
    });
    const { port: s3Port } = await s3.run();
    let s3Running = true;
    const h = await startHarness({
      config: ({ dir }) => ({
        recording: {
          mode: 'required' as const,
          keyFile: writeRecordingKey(dir),
          flushIntervalMs: 100,
          store: {
            kind: 's3' as const,
            endpoint: `http://127.0.0.1:${s3Port}`,
            bucket: BUCKET,
            credentials: { ...CREDENTIALS },
            requestTimeoutMs: 1_000,
          },
        },
      }),
    });
    try {
      const { config } = await h.user('alice', { principals: ['demo'] });
      const started = Date.now();
      const session = ssh(
        config,
        ['bastion', 'i=0; while [ $i -lt 300 ]; do echo tick $i; i=$((i+1)); sleep 0.1; done'],
        {
          timeoutMs: 40_000,
        },
      );
      // Once a chunk after the header is in the bucket, the command has run for a while.
      await waitUntil('a data chunk in the bucket', () => hasDataChunk(tmpS3.dir), 20_000, 50);
      await takeDown(s3);
      s3Running = false;
      const r = await session;
      assert.notEqual(r.code, 0);
      assert.match(r.stdout.toString(), /tick 1\n/, 'it ran while the store worked');
      assert.match(
        r.stderr.toString(),
        /recording failed and recording is required here: the session was ended/,
      );
      assert.ok(Date.now() - started < 25_000, 'ended well before the command would have');
    } finally {
      await h.close();
      if (s3Running) await s3.close();
      await tmpS3.cleanup();
    }
  });

  describe('per-session byte limit', () => {
    let h: Harness;
    let store: RecordingStore;
    let keyFile = '';
    const LIMIT = 1024 * 1024;

    before(async () => {
      h = await startHarness({
        config: ({ dir }) => {
          keyFile = writeRecordingKey(dir);
          return {
            recording: {
              keyFile,
              store: { kind: 'file', dir: path.join(dir, 'recordings') },
              maxSessionBytes: LIMIT,
            },
          };
        },
      });
      store = new FileRecordingStore(path.join(h.dir, 'recordings'));
    });
    after(async () => {
      await h?.close();
    });

    it('holds on a 100 MB output, keeps hashes of the rest, and does not slow the session', async () => {
      const total = 100 * 1000 * 1000;
      const command = `head -c ${total} /dev/urandom | base64 -w 100`;
      const off = await h.user('off', {
        principals: ['demo'],
        options: ['clear', 'extension:recording@neetodeploy.com=off'],
      });
      const { config } = await h.user('alice', { principals: ['demo'] });
      const unrecorded = await timedSsh(off.config, command);
      const recorded = await timedSsh(config, command);
      assert.equal(recorded.code, 0);
      assert.ok(recorded.bytes > total, `all output arrived (${recorded.bytes})`);
      const m = await nextRecording(store, 'demo', new Set(), 30_000);
      const recordedBytes = m.recordedBytes.o + m.recordedBytes.e + m.recordedBytes.i;
      assert.equal(recordedBytes, LIMIT);
      assert.equal(m.droppedBytes.o, recorded.bytes - LIMIT);
      assert.ok(m.storedBytes < 2 * LIMIT, `stored ${m.storedBytes} bytes`);
      const verified = await verifyRecording(store, m.id, readFileSync(keyFile, 'utf8'));
      assert.equal(verified.ok, true, JSON.stringify(verified));
      const { events } = await replay(store, m.id);
      assert.match(streamOf(events, 'm'), /recording limit of 1048576 bytes reached/);
      const dropped = events
        .filter((e) => e[1] === 'd')
        .map((e) => JSON.parse(e[2]) as { bytes: number });
      assert.equal(
        dropped.reduce((a, d) => a + d.bytes, 0),
        m.droppedBytes.o,
      );
      // Recording costs some CPU, not a crawl: well within 2x of the unrecorded session.
      assert.ok(
        recorded.ms < unrecorded.ms * 2 + 2000,
        `recorded ${recorded.ms} ms vs unrecorded ${unrecorded.ms} ms`,
      );
    });
  });
});

/** Whether the bucket directory holds a chunk past the header (`.../chunks/00000001...`). */
function hasDataChunk(dir: string): boolean {
  return readdirSync(dir, { recursive: true }).some((p) => /chunks\/0*[1-9]/.test(String(p)));
}
