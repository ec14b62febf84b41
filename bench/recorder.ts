/**
 * What recording costs per byte, without a session around it: one recorder (`startRecording`, as
 * the recording worker runs it) fed 256 MiB of printable text in 24 KiB reads, against what no
 * recorder can avoid, measured in the same run: SHA-256 of the same bytes (the hash chain) and
 * writing them as chunk files (the file store alone).
 *
 * Run: `node --conditions=neetodeploy-source --import tsx bench/recorder.ts [--runs N]
 * [--chunk-bytes N]`. Rows: MiB/s and CPU seconds per GiB of this process (all its threads);
 * `x floor` is the CPU against SHA-256's. The recorder with the file store is fed at 300 MiB/s,
 * about what one `exec` streams through the bastion here: fed faster, the store falls behind and
 * the recorder keeps hashes instead of data (counted), which would flatter its CPU.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileRecordingStore, startRecording } from '@neetodeploy/recording';
import type { RecorderConfig, RecordingStore } from '@neetodeploy/recording';
import { newRecordingKey, sessionInfo } from '../test/recording/support.js';

const MIB = 1024 * 1024;
const TOTAL = 256 * MIB;
const chunkAt = process.argv.indexOf('--chunk-bytes');
const CHUNK = chunkAt >= 0 ? Number(process.argv[chunkAt + 1]) : 256 * 1024;
const FEED_MIB_S = 300;
const runsAt = process.argv.indexOf('--runs');
const RUNS = runsAt >= 0 ? Number(process.argv[runsAt + 1]) : 3;

const key = newRecordingKey();
const read = Buffer.from(randomBytes(18 * 1024).toString('base64'));
const chunk = Buffer.alloc(CHUNK, read.toString('latin1'));
const config: RecorderConfig = {
  mode: 'best-effort',
  maxSessionBytes: 2 * TOTAL,
  chunkBytes: CHUNK,
  flushIntervalMs: 2_000,
  spoolBytes: 8 * MIB,
};

/** Stores nothing: the recorder's own work. */
const none = (): Promise<undefined> => Promise.resolve(undefined);
const discard: RecordingStore = {
  putChunk: none,
  putManifest: none,
  getManifest: none,
  listManifests: () => Promise.resolve([]),
  listChunks: () => Promise.resolve([]),
  getChunk: none,
  close: none,
};

interface Sample {
  seconds: number;
  cpu: number;
  dropped?: number;
}

async function timed(work: () => Promise<number | void>): Promise<Sample> {
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const dropped = await work();
  const c = process.cpuUsage(c0);
  return {
    seconds: Number(process.hrtime.bigint() - t0) / 1e9,
    cpu: (c.user + c.system) / 1e6,
    ...(typeof dropped === 'number' ? { dropped } : {}),
  };
}

function sha256Floor(): Promise<void> {
  for (let done = 0; done < TOTAL; done += CHUNK) createHash('sha256').update(chunk).digest();
  return Promise.resolve();
}

async function storeAlone(store: RecordingStore): Promise<void> {
  const id = randomUUID();
  for (let seq = 0; seq * CHUNK < TOTAL; seq++) await store.putChunk(id, seq, chunk);
}

async function recorder(store: RecordingStore, paced = false): Promise<number> {
  const t0 = performance.now();
  const id = randomUUID();
  const rec = await startRecording(
    {
      info: sessionInfo(id, { command: 'cat', policy: 'output-only' }),
      term: { cols: 80, rows: 24 },
    },
    { store, key, config, now: () => new Date() },
  );
  for (let sent = 0; sent < TOTAL; sent += read.length) {
    rec.output(read);
    // Let the store's writes run, as a session's reads would.
    if (sent % MIB < read.length) {
      const due = paced ? t0 + (sent / MIB / FEED_MIB_S) * 1000 : 0;
      const wait = Math.max(0, due - performance.now());
      await new Promise((r) => (wait > 0 ? setTimeout(r, wait) : setImmediate(r)));
    }
  }
  const manifest = await rec.finish({ code: 0 });
  return manifest?.droppedBytes.o ?? -1;
}

const dir = mkdtempSync(join(tmpdir(), 'nd-bench-recorder-'));
const files = new FileRecordingStore(dir);
const rows: Array<[string, () => Promise<number | void>]> = [
  ['SHA-256 of the bytes (floor)', sha256Floor],
  [`file store alone, ${CHUNK / 1024} KiB chunks`, () => storeAlone(files)],
  ['recorder, store discards', () => recorder(discard)],
  [`recorder, file store, ${FEED_MIB_S} MiB/s`, () => recorder(files, true)],
];
const samples = new Map<string, Sample[]>(rows.map(([name]) => [name, []]));
try {
  for (let run = 0; run < RUNS; run++) {
    for (const [name, work] of rows) samples.get(name)!.push(await timed(work));
    rmSync(join(dir, 'sessions'), { recursive: true, force: true });
    rmSync(join(dir, 'index'), { recursive: true, force: true });
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const perGiB = (s: Sample): number => (s.cpu * 1024 * MIB) / TOTAL;
const floor = median(samples.get(rows[0]![0])!.map(perGiB));
console.log(`${TOTAL / MIB} MiB in ${read.length}-byte reads, ${RUNS} runs, median:`);
for (const [name] of rows) {
  const s = samples.get(name)!;
  const cpu = median(s.map(perGiB));
  const rate = median(s.map((x) => TOTAL / MIB / x.seconds));
  const dropped = s.map((x) => x.dropped).filter((d): d is number => d !== undefined && d > 0);
  console.log(
    `  ${name.padEnd(36)} ${rate.toFixed(0).padStart(6)} MiB/s  ${cpu.toFixed(2)} s CPU/GiB  ${(cpu / floor).toFixed(2)}x floor${dropped.length > 0 ? `  (kept as hashes: ${dropped.join(', ')} bytes)` : ''}`,
  );
}
