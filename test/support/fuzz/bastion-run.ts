/**
 * The bastion protocol fuzzer: a bastion in its own process (./bastion-child.ts), then cases
 * from every stage, round robin, several at a time, until the time is up. Case `i` draws its
 * input from `createRng(caseSeed(seed, i))` only, so `--seed S --stage X --case i` replays it.
 * Judged: the bastion process stays up, grants nothing a case's credentials do not allow, ends
 * every connection, and its heap after a full GC grows by less than a bound.
 */
import { readFile } from 'node:fs/promises';
import {
  encodeCertificateText,
  encodePrivateKey,
  generatePrivateKey,
  parsePrivateKey,
  signCertificate,
} from '@neetodeploy/sshcert';
import { certificateKey } from '../../../cli/src/ssh/index.js';
import { startFuzzTarget, type FuzzTarget, type MemorySample } from './bastion-process.js';
import { publicKeyAuth, runClientCase, sleep } from './client-case.js';
import { createRng } from './prng.js';
import { channelStage } from './stages-channel.js';
import { userauthStage } from './stages-auth.js';
import { framingStage, kexStage, versionStage } from './stages-preauth.js';
import type { Stage, StageContext } from './stage-types.js';

export const STAGES: readonly Stage[] = [
  versionStage,
  framingStage,
  kexStage,
  userauthStage,
  channelStage,
];

export interface FuzzOptions {
  readonly seconds: number;
  readonly seed: number;
  /** Cases in flight at once (default 6). */
  readonly concurrency?: number;
  /** Only these stages (by name). */
  readonly stages?: readonly string[];
  /** Leave out the known hang (channel opens with maximum packet size 0); default false. */
  readonly avoidZeroPacketSize?: boolean;
  /** Run only this case number (a replay). */
  readonly onlyCase?: number;
  /** Heap growth after GC allowed between warm-up and the end (default 16 MiB). */
  readonly maxHeapGrowth?: number;
  readonly progress?: (line: string) => void;
}

export interface StageStats {
  cases: number;
  ms: number;
  readonly outcomes: Record<string, number>;
  readonly failures: string[];
  /** Exceptions thrown by the fuzzer's own case code (not the bastion's). */
  readonly fuzzerErrors: string[];
}

export interface FuzzSummary {
  readonly seed: number;
  readonly seconds: number;
  readonly stages: Record<string, StageStats>;
  readonly crash?: string;
  readonly memory: { readonly before: MemorySample; readonly after: MemorySample };
  readonly errorLogs: { readonly count: number; readonly samples: readonly string[] };
  /** Everything that makes the run fail; empty means pass. */
  readonly problems: readonly string[];
}

export function caseSeed(seed: number, i: number): number {
  return (seed ^ Math.imul(i + 1, 0x9e3779b9)) >>> 0;
}

/** The credentials every stage uses: a user key with a valid certificate for `demo`. */
export async function makeFuzzContext(
  target: FuzzTarget,
  avoidZeroPacketSize = false,
): Promise<StageContext> {
  const ca = parsePrivateKey(await readFile(target.userCaFile));
  const key = generatePrivateKey('ssh-ed25519');
  const cert = signCertificate(
    {
      publicKey: key.publicKey,
      certType: 'user',
      keyId: 'fuzz@example.com:req1',
      principals: ['demo'],
      ttlSeconds: 3600,
      extensions: { 'permit-pty': '' },
    },
    ca,
  );
  const ssh2Key = certificateKey(encodePrivateKey(key), encodeCertificateText(cert));
  return {
    port: target.port,
    user: { key, cert: cert.blob, ssh2Key },
    ca,
    otherCa: generatePrivateKey('ssh-ed25519'),
    avoidZeroPacketSize,
  };
}

/** Waits until the bastion holds no connection or session (or `ms` passes); returns the last sample. */
async function quiesce(target: FuzzTarget, ms: number): Promise<MemorySample | undefined> {
  const end = Date.now() + ms;
  let m = await target.probe(5000);
  while (m && (m.unauthenticated > 0 || m.sessions > 0) && Date.now() < end) {
    await sleep(200);
    m = await target.probe(5000);
  }
  return m;
}

const MiB = 1024 * 1024;

export async function runBastionFuzz(options: FuzzOptions): Promise<FuzzSummary> {
  const stages = STAGES.filter((s) => !options.stages || options.stages.includes(s.name));
  if (stages.length === 0) throw new Error(`no such stage: ${options.stages?.join(', ')}`);
  const stats: Record<string, StageStats> = {};
  for (const s of stages)
    stats[s.name] = { cases: 0, ms: 0, outcomes: {}, failures: [], fuzzerErrors: [] };
  const problems: string[] = [];
  const target = await startFuzzTarget();
  try {
    options.progress?.('bastion up');
    const ctx = await makeFuzzContext(target, options.avoidZeroPacketSize);
    const control = await runClientCase({
      port: ctx.port,
      config: publicKeyAuth(ctx.user.ssh2Key),
      timeoutMs: 10_000,
    });
    if (control.result !== 'ready')
      problems.push(`the unmutated login failed (${control.error}): the run proves nothing`);

    const inFlight = new Set<number>();
    const runCase = async (i: number): Promise<void> => {
      const stage = stages[i % stages.length]!;
      inFlight.add(i);
      const st = stats[stage.name]!;
      const t0 = Date.now();
      try {
        const report = await stage.run(ctx, createRng(caseSeed(options.seed, i)));
        st.outcomes[report.outcome] = (st.outcomes[report.outcome] ?? 0) + 1;
        if (report.failure) {
          st.failures.push(
            `${report.failure} (replay: --seed ${options.seed} --stage ${stage.name} --case ${i})`,
          );
        }
      } catch (err) {
        if (st.fuzzerErrors.length < 5) st.fuzzerErrors.push(`case ${i}: ${String(err)}`);
        st.outcomes['fuzzer-error'] = (st.outcomes['fuzzer-error'] ?? 0) + 1;
      }
      inFlight.delete(i);
      st.cases++;
      st.ms += Date.now() - t0;
    };
    const label = (i: number): string => `${stages[i % stages.length]!.name} case ${i}`;

    if (options.onlyCase !== undefined) {
      await runCase(options.onlyCase);
    } else {
      // Warm-up (one case of each stage) before the baseline: code paths compile, pools fill.
      await Promise.all(stages.map((_, i) => runCase(1_000_000_000 + i)));
      for (const s of Object.values(stats)) {
        s.cases = 0;
        s.ms = 0;
        for (const k of Object.keys(s.outcomes)) delete s.outcomes[k];
      }
    }
    options.progress?.(`warm-up done`);
    // A bastion that stops answering (a blocked event loop) fails the run; the cases in flight
    // when it stopped are the suspects, each replayable alone with --case.
    let hung: string | undefined;
    const before = await quiesce(target, 10_000);
    if (!before) hung = options.onlyCase === undefined ? 'the warm-up' : label(options.onlyCase);
    const deadline = Date.now() + (hung === undefined ? options.seconds * 1000 : 0);
    let next = 0;
    let lastReport = Date.now();
    const watchdog = (async () => {
      while (Date.now() < deadline && hung === undefined && target.crash() === undefined) {
        const suspects = [...inFlight].map(label);
        if (!(await target.probe(5000))) hung = suspects.join(', ');
        else await sleep(1000);
      }
    })();
    const worker = async (): Promise<void> => {
      while (
        options.onlyCase === undefined &&
        Date.now() < deadline &&
        hung === undefined &&
        target.crash() === undefined
      ) {
        await runCase(next++);
        if (options.progress && Date.now() - lastReport > 5000) {
          lastReport = Date.now();
          options.progress(`${next} cases, ${Math.round((deadline - Date.now()) / 1000)} s left`);
        }
      }
    };
    await Promise.all(Array.from({ length: options.concurrency ?? 6 }, worker));
    await watchdog;
    await sleep(200);
    const crash = target.crash();
    const zero = { rss: 0, heapUsed: 0, external: 0, unauthenticated: 0, sessions: 0 };
    let after: MemorySample = before ?? zero;
    if (hung !== undefined) {
      problems.push(
        `the bastion stopped answering (event loop blocked for 5 s) while these cases ran: ${hung}`,
      );
    } else if (crash === undefined) {
      // Deadlines (kex 3 s, auth 5 s) end what the clients abandoned.
      options.progress?.('cases done');
      after = (await quiesce(target, 12_000)) ?? after;
      options.progress?.('quiet');
      if (after.unauthenticated > 0 || after.sessions > 0) {
        problems.push(
          `connections left after the run: ${after.unauthenticated} unauthenticated, ${after.sessions} sessions`,
        );
      }
      const growth = after.heapUsed - (before ?? after).heapUsed;
      const bound = options.maxHeapGrowth ?? 16 * MiB;
      if (growth > bound) {
        problems.push(
          `heap grew by ${(growth / MiB).toFixed(1)} MiB (bound ${(bound / MiB).toFixed(0)} MiB)`,
        );
      }
    } else {
      problems.push(`the bastion crashed: ${crash}`);
    }
    for (const [name, s] of Object.entries(stats)) {
      for (const f of s.failures) problems.push(`${name}: ${f}`);
    }
    return {
      seed: options.seed,
      seconds: options.seconds,
      stages: stats,
      ...(crash === undefined ? {} : { crash }),
      memory: { before: before ?? zero, after },
      errorLogs: { count: target.errors.count, samples: [...target.errors.samples] },
      problems,
    };
  } finally {
    await target.stop();
  }
}
