/**
 * What session recording costs the bastion: throughput and bastion CPU per GiB of one `exec`
 * streaming printable output (`cat` of base64 text, so the recording holds real text), with
 * the recording policy `full`, `output-only` and `off` (the certificate extension
 * `recording@neetodeploy.com`), interleaved in one run (A/B/C, B/C/A, C/A/B, ...) so that load
 * from elsewhere hits every mode alike.
 *
 * Run: `node --import tsx bench/recording.ts [--quick] [--limit BYTES] [--only MODE] [--chunk-bytes N]` (`--only`:
 * run one mode; `--profile DIR`: the bastion writes V8 CPU profiles of its threads into DIR). The bastion is the real
 * binary from source (`neetodeploy-bastion --config`), local platform, file store on the
 * machine's temp dir; stock `ssh` is the client, its stdout to /dev/null. By default the
 * per-session limit is above the output size, so every byte is recorded (the worst case);
 * `--limit` sets it (past it only hashes are kept).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { FileRecordingStore } from '@neetodeploy/recording';
import type { RecordingManifest } from '@neetodeploy/recording';
import { sourceBinArgs } from '../test/support/paths.js';
import { makeKey, signCert, tempDir, writeSshConfig } from '../test/support/ssh-client.js';

const QUICK = process.argv.includes('--quick');
const limitAt = process.argv.indexOf('--limit');
const MIB = 1024 * 1024;
const GIB = 1024 * MIB;
const SIZE = QUICK ? 128 * MIB : 512 * MIB;
const REPS = QUICK ? 2 : 3;
const LIMIT = limitAt >= 0 ? Number(process.argv[limitAt + 1]) : 2 * SIZE;
const chunkAt = process.argv.indexOf('--chunk-bytes');
const CHUNK_BYTES = chunkAt >= 0 ? Number(process.argv[chunkAt + 1]) : undefined;
const NAME = 'bastion.bench';
const ALL_MODES = ['full', 'output-only', 'off'] as const;
type Mode = (typeof ALL_MODES)[number];
const onlyAt = process.argv.indexOf('--only');
const MODES: readonly Mode[] =
  onlyAt >= 0 ? ALL_MODES.filter((m) => m === process.argv[onlyAt + 1]) : ALL_MODES;
if (MODES.length === 0) throw new Error(`--only takes one of ${ALL_MODES.join(', ')}`);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** user+system CPU seconds of a process and its reaped children (/proc/PID/stat, 100 Hz). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0) / 100;
}

async function startBastion(config: string): Promise<{ child: ChildProcess; port: number }> {
  const profileAt = process.argv.indexOf('--profile');
  const profile =
    profileAt >= 0 ? ['--cpu-prof', '--cpu-prof-dir', process.argv[profileAt + 1]!] : [];
  const child = spawn(
    process.execPath,
    [...profile, ...sourceBinArgs('bastion'), '--config', config],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const onData = (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n').find((l) => l.startsWith('{"ssh"'));
      if (line) {
        child.stdout.off('data', onData);
        child.stdout.resume();
        resolve((JSON.parse(line) as { ssh: { port: number } }).ssh.port);
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`bastion exited ${code}`)));
  });
  return { child, port };
}

/** The manifests in the store once there are `count` of them (30 s at most). */
async function finishedRecordings(
  store: FileRecordingStore,
  count: number,
): Promise<RecordingManifest[]> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const manifests = await store.listManifests({});
    if (manifests.length >= count) return manifests;
    if (Date.now() > deadline) throw new Error('the recording did not finish within 30 s');
    await sleep(100);
  }
}

function sshTimed(args: string[]): Promise<{ ms: number; code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const devnull = openSync('/dev/null', 'w');
    const t0 = process.hrtime.bigint();
    const child = spawn('ssh', args, { stdio: ['ignore', devnull, 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code) => {
      closeSync(devnull);
      resolve({ ms: Number(process.hrtime.bigint() - t0) / 1e6, code, stderr });
    });
  });
}

async function main(): Promise<void> {
  const tmp = await tempDir('nd-bench-recording-');
  const dir = tmp.dir;
  let bastion: ChildProcess | undefined;
  try {
    const [userCa, hostCa, hostKey, user] = await Promise.all([
      makeKey(dir, 'user_ca'),
      makeKey(dir, 'host_ca'),
      makeKey(dir, 'host_key'),
      makeKey(dir, 'id_bench'),
    ]);
    const hostCert = await signCert(hostCa, hostKey, {
      keyId: 'bench',
      principals: [NAME, '*.neetodeploy'],
      host: true,
      validity: '-5m:+4h',
    });
    const recordingKey = path.join(dir, 'recording_key');
    await writeFile(
      recordingKey,
      generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }),
      { mode: 0o600 },
    );
    const recordings = path.join(dir, 'recordings');
    const config = path.join(dir, 'bastion.yaml');
    await writeFile(
      config,
      [
        'listen: { host: 127.0.0.1, port: 0 }',
        `name: ${NAME}`,
        `hostKeys: [{ privateKeyFile: ${hostKey.file}, certificateFile: ${hostCert} }]`,
        `trust: { static: { userCaKeyFiles: [${userCa.file}.pub] } }`,
        `platform: { type: local, dataDir: ${path.join(dir, 'data')}}`,
        'recording:',
        `  keyFile: ${recordingKey}`,
        `  store: { kind: file, dir: ${recordings} }`,
        `  maxSessionBytes: ${LIMIT}`,
        ...(CHUNK_BYTES ? [`  chunkBytes: ${CHUNK_BYTES}`] : []),
        'log: { level: warn }',
      ].join('\n'),
    );
    const started = await startBastion(config);
    bastion = started.child;
    // The recording worker thread starts with the bastion but loads after it listens: let it,
    // so that the first run is not measured against a recorder still loading.
    await sleep(3000);
    const known = path.join(dir, 'known_hosts');
    await writeFile(known, `@cert-authority ${NAME},*.neetodeploy ${hostCa.publicKey}\n`);
    const configs = {} as Record<Mode, string>;
    for (const mode of MODES) {
      // Each mode its own key and certificate: the policy travels in the certificate.
      const key = await makeKey(dir, `id_${mode}`);
      const cert = await signCert(userCa, key, {
        keyId: `bench@example.com:${mode}`,
        principals: ['demo'],
        validity: '-5m:+4h',
        options: [
          'clear',
          ...(mode === 'full' ? [] : [`extension:recording@neetodeploy.com=${mode}`]),
        ],
      });
      configs[mode] = await writeSshConfig(path.join(dir, `${mode}.ssh_config`), {
        port: started.port,
        identity: key.file,
        certificate: cert,
        knownHosts: known,
        bastionName: NAME,
        extra: ['Ciphers aes128-gcm@openssh.com', 'KexAlgorithms curve25519-sha256'],
      });
    }
    void user;
    const cpuModel = readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1];
    console.log(
      `machine: ${cpuModel ?? '?'}, ${os.cpus().length} cores, load ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}`,
    );
    // Printable text made once, so the console's own work is a `cat`: base64 of random bytes,
    // in the app's own folder (an isolated console sees nothing else of the data dir).
    const text = path.join(dir, 'data', 'apps', 'demo', 'output.txt');
    const made = spawnSync('sh', [
      '-c',
      `mkdir -p ${path.dirname(text)} && head -c ${(SIZE / 4) * 3} /dev/urandom | base64 > ${text}`,
    ]);
    if (made.status !== 0) throw new Error('could not make the output file');
    const bytes = statSync(text).size;
    const command = 'cat output.txt';
    const results: Record<Mode, { rate: number[]; cpu: number[]; dropped: number }> = {
      full: { rate: [], cpu: [], dropped: 0 },
      'output-only': { rate: [], cpu: [], dropped: 0 },
      off: { rate: [], cpu: [], dropped: 0 },
    };
    const store = new FileRecordingStore(recordings);
    for (let rep = 0; rep < REPS * MODES.length; rep++) {
      const mode = MODES[(rep + Math.floor(rep / MODES.length)) % MODES.length]!;
      const c0 = cpuSeconds(bastion.pid!);
      const r = await sshTimed(['-F', configs[mode], 'bastion', command]);
      if (r.code !== 0) throw new Error(`${mode}: exit ${r.code}: ${r.stderr}`);
      // The recording finishes after the session: wait for its manifest, so that the work still
      // queued for the store is counted here and not in the next mode's run.
      const manifests = await finishedRecordings(store, mode === 'off' ? 0 : 1);
      await sleep(500);
      results[mode].cpu.push((cpuSeconds(bastion.pid!) - c0) / (bytes / GIB));
      results[mode].rate.push(bytes / MIB / (r.ms / 1000));
      // Honest numbers: say when a slow disk made the recorder keep hashes instead of data.
      for (const m of manifests) {
        results[mode].dropped += m.droppedBytes.i + m.droppedBytes.o + m.droppedBytes.e;
      }
      rmSync(recordings, { recursive: true, force: true });
      console.log(`  ${mode}: ${(bytes / MIB / (r.ms / 1000)).toFixed(1)} MiB/s`);
    }
    const off = results.off.rate.length > 0 ? median(results.off.rate) : NaN;
    console.log(
      `\n${(SIZE / MIB).toFixed(0)} MiB of text per session, ${REPS} runs each, limit ${LIMIT} bytes (median):`,
    );
    for (const mode of MODES) {
      const rate = median(results[mode].rate);
      const cpu = median(results[mode].cpu);
      const pct = (1 - rate / off) * 100;
      const cost =
        mode === 'off' || Number.isNaN(off)
          ? ''
          : `, ${Math.abs(pct).toFixed(1)}% ${pct >= 0 ? 'below' : 'above'} off`;
      const dropped =
        results[mode].dropped > 0 ? `, ${results[mode].dropped} bytes kept as hashes` : '';
      console.log(
        `  ${mode.padEnd(11)} ${rate.toFixed(1)} MiB/s, bastion CPU ${cpu.toFixed(2)} s/GiB${cost}${dropped}`,
      );
    }
  } finally {
    if (bastion) {
      bastion.kill('SIGINT');
      await new Promise((r) => bastion!.once('exit', r));
    }
    await tmp.cleanup();
  }
}

await main();
