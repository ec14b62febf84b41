/**
 * Bastion benchmarks, each against OpenSSH's sshd in the same run (jump host and target on
 * loopback). Run: `node --import tsx bench/bastion.ts [--quick]` (root, as sshd needs it).
 *
 * 1. 1 GiB through ProxyJump: bastion (-J to its virtual host) vs sshd -J sshd, for
 *    chacha20-poly1305 and aes128-gcm (stock `ssh` client, same cipher on both hops); a second
 *    pass with a CPU-bound neighbour process running. `--only throughput` runs section 1 alone,
 *    `--cipher aes128-gcm` (or `chacha20`) one cipher; `--reps N` transfers per side and pass
 *    (default 3; bastion and sshd alternate, medians are reported); `--profile DIR` writes a
 *    CPU profile of the bastion there when it stops; `--syscalls` counts each server's reads,
 *    writes and context switches per MiB (`perf stat`, Debian's linux-perf).
 * 2. connect + certificate auth + `exec true`, sequential and 16 in parallel, with
 *    curve25519-sha256 and with the post-quantum sntrup761x25519-sha512 (both sides).
 *
 * `--only rate` runs section 2 alone.
 * 3. 1-byte echo round trip in an interactive pty session, direct and through the jump, so the
 *    latency the jump adds is compared (ssh2 client on both sides, so the client is constant).
 * 4. Memory per idle jump session: 1,000 on the bastion (its RSS), fewer on sshd (PSS of the
 *    sshd processes), each holding a `cat` console.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, readFileSync, readdirSync, closeSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import ssh2 from 'ssh2';
import type { ClientChannel, ParsedKey } from 'ssh2';
import { certificateKey } from '../cli/src/ssh/index.js';
import { startSshd, type SshdHandle } from '../test/support/openssh.js';
import { sourceBinArgs } from '../test/support/paths.js';
import { makeKey, signCert, tempDir, writeSshConfig } from '../test/support/ssh-client.js';

const QUICK = process.argv.includes('--quick');
const SYSCALLS = process.argv.includes('--syscalls');
function flagValue(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}
const ONLY = flagValue('--only');
const runs = (section: 'throughput' | 'rate' | 'echo' | 'memory') =>
  ONLY === undefined || ONLY === section;
const BASTION_NAME = 'bastion.bench';
const GIB = 1024 * 1024 * 1024;

const SYSCALL_EVENTS = [
  'syscalls:sys_enter_read',
  'syscalls:sys_enter_write',
  'syscalls:sys_enter_writev',
  'context-switches',
];

/**
 * `--syscalls`: counts the server's reads, writes and context switches during one transfer with
 * `perf stat -p` (children forked meanwhile included, so sshd's per-connection processes count).
 * Returns a function that stops counting and resolves to the counts by event.
 */
function countSyscalls(pid: number): () => Promise<Map<string, number>> {
  const perf = spawn(
    'perf',
    ['stat', '-x', ',', '-e', SYSCALL_EVENTS.join(','), '-p', String(pid)],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let out = '';
  let failed: Error | undefined;
  perf.on('error', (err) => (failed = err));
  perf.stderr.on('data', (c: Buffer) => (out += c.toString()));
  return () =>
    new Promise((resolve, reject) => {
      if (failed) {
        reject(
          new Error(`--syscalls needs perf (apt-get install -y linux-perf): ${failed.message}`),
        );
        return;
      }
      perf.on('close', () => {
        const counts = new Map<string, number>();
        for (const line of out.split('\n')) {
          const [value, , event] = line.split(',');
          if (event && value && /^\d+$/.test(value)) counts.set(event, Number(value));
        }
        resolve(counts);
      });
      perf.kill('SIGINT');
    });
}

/** A process that keeps one core busy until killed: the neighbour of the second pass. */
function spawnNeighbour(): ChildProcess {
  return spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
}

interface Bastion {
  child: ChildProcess;
  port: number;
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number, d = 1) => n.toFixed(d);

async function startBastion(
  dir: string,
  userCaPub: string,
  hostKey: string,
  hostCert: string,
): Promise<Bastion> {
  const file = path.join(dir, 'bastion.yaml');
  await writeFile(
    file,
    [
      'listen: { host: 127.0.0.1, port: 0 }',
      `name: ${BASTION_NAME}`,
      'hostKeys:',
      `  - { privateKeyFile: ${hostKey}, certificateFile: ${hostCert} }`,
      `trust: { static: { userCaKeyFiles: [${userCaPub}] } }`,
      `platform: { type: local, dataDir: ${path.join(dir, 'data')} }`,
      'limits:',
      '  maxStartups: { begin: 500, rate: 30, full: 1000 }',
      '  perIpUnauthenticated: 1000',
      '  perIpConnections: 5000',
      '  maxSessionsPerUser: 5000',
      '  maxChannelsPerConnection: 10',
      'log: { level: info }',
    ].join('\n'),
  );
  // --profile DIR: a V8 CPU profile of the bastion, written when it stops.
  const profile = flagValue('--profile');
  const nodeArgs = profile ? ['--cpu-prof', '--cpu-prof-dir', profile] : [];
  const child = spawn(
    process.execPath,
    [...nodeArgs, ...sourceBinArgs('bastion'), '--config', file],
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
        child.stdout.resume(); // audit lines keep coming: drain them
        resolve((JSON.parse(line) as { ssh: { port: number } }).ssh.port);
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`bastion exited ${code}`)));
  });
  return {
    child,
    port,
    stop: async () => {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/** Runs the stock ssh client; stdout goes to /dev/null so the client, not node, reads the stream. */
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

async function sshdConfig(
  file: string,
  sshd: SshdHandle,
  identity: string,
  cert: string,
  knownHosts: string,
  extra: string[],
) {
  const common = [
    `  IdentityFile ${identity}`,
    `  CertificateFile ${cert}`,
    '  IdentitiesOnly yes',
    '  IdentityAgent none',
    `  UserKnownHostsFile ${knownHosts}`,
    '  GlobalKnownHostsFile /dev/null',
    '  StrictHostKeyChecking yes',
    '  UpdateHostKeys no',
    '  User root',
    ...extra.map((l) => `  ${l}`),
  ];
  await writeFile(
    file,
    [
      'Host sshd-jump',
      '  HostName 127.0.0.1',
      `  Port ${sshd.port}`,
      ...common,
      'Host sshd-target',
      '  HostName 127.0.0.1',
      `  Port ${sshd.port}`,
      '  ProxyJump sshd-jump',
      ...common,
      '',
    ].join('\n'),
  );
  return file;
}

// ---------- ssh2 client helpers (RTT and idle sessions) ----------

interface Target {
  port: number;
  username: string;
  /** For a jump: the host to open direct-tcpip to, and the user on it. */
  via?: { host: string; port: number; username: string };
}

function connectClient(
  key: ParsedKey,
  opts: { port?: number; sock?: NodeJS.ReadableStream; username: string },
): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.once('ready', () => resolve(c))
      .once('error', reject)
      .connect({
        host: '127.0.0.1',
        port: opts.port,
        sock: opts.sock as never,
        username: opts.username,
        authHandler: [
          { type: 'publickey', username: opts.username, key } as ssh2.PublicKeyAuthMethod,
        ],
        hostVerifier: () => true,
        algorithms: { kex: ['curve25519-sha256'], cipher: ['chacha20-poly1305@openssh.com'] },
        readyTimeout: 60_000,
        keepaliveInterval: 0,
      });
  });
}

async function open(
  key: ParsedKey,
  t: Target,
): Promise<{ session: ssh2.Client; all: ssh2.Client[] }> {
  const outer = await connectClient(key, { port: t.port, username: t.username });
  if (!t.via) return { session: outer, all: [outer] };
  const stream = await new Promise<ClientChannel>((resolve, reject) =>
    outer.forwardOut('127.0.0.1', 0, t.via!.host, t.via!.port, (err, s) =>
      err ? reject(err) : resolve(s),
    ),
  );
  const inner = await connectClient(key, { sock: stream, username: t.via.username });
  return { session: inner, all: [inner, outer] };
}

async function echoRtt(
  key: ParsedKey,
  t: Target,
  n: number,
  mode: 'pty' | 'pipes',
): Promise<number> {
  const { session, all } = await open(key, t);
  const ch = await new Promise<ClientChannel>((resolve, reject) =>
    mode === 'pty'
      ? session.shell({ term: 'xterm', cols: 80, rows: 24 }, (err, s) =>
          err ? reject(err) : resolve(s),
        )
      : session.exec('cat', (err, s) => (err ? reject(err) : resolve(s))),
  );
  let buf = '';
  ch.on('data', (d: Buffer) => (buf += d.toString('latin1')));
  if (mode === 'pty') ch.write('stty raw -echo; exec cat\n');
  await sleep(500);
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    buf = '';
    const t0 = process.hrtime.bigint();
    await new Promise<void>((resolve) => {
      const onData = () => {
        if (buf.includes('x')) {
          ch.off('data', onData);
          resolve();
        }
      };
      ch.on('data', onData);
      ch.write('x');
    });
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ch.close();
  for (const c of all) c.end();
  return median(times);
}

function statusKb(pid: number, field: 'VmRSS'): number {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(
      readFileSync(`/proc/${pid}/status`, 'utf8'),
    );
    return Number(m?.[1] ?? 0);
  } catch {
    return 0;
  }
}

/** User and system CPU seconds of a process and its reaped children (/proc/PID/stat, 100 Hz). */
function cpuSplit(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // After "pid (comm) ": state is field 3, so utime, stime, cutime, cstime (14..17) are at 11..14.
  const at = (i: number) => Number(fields[i]) / 100;
  return { user: at(11) + at(13), system: at(12) + at(14) };
}

/** Sum of PSS of every process named `sshd` (kB): shared pages counted once. */
function sshdPssKb(): { kb: number; procs: number } {
  let kb = 0;
  let procs = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (readFileSync(`/proc/${d}/comm`, 'utf8').trim() !== 'sshd') continue;
      const m = /Pss:\s+(\d+) kB/.exec(readFileSync(`/proc/${d}/smaps_rollup`, 'utf8'));
      kb += Number(m?.[1] ?? 0);
      procs++;
    } catch {
      // process went away
    }
  }
  return { kb, procs };
}

async function idleSessions(key: ParsedKey, t: Target, n: number): Promise<ssh2.Client[]> {
  const clients: ssh2.Client[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const { session, all } = await open(key, t);
      await new Promise<void>((resolve, reject) =>
        // `cat` ends when the connection closes its stdin; sshd leaves a `sleep` running forever.
        session.exec('cat', (err, ch) => {
          if (err) return reject(err);
          ch.on('data', () => undefined);
          ch.stderr.on('data', () => undefined);
          resolve();
        }),
      );
      clients.push(...all);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return clients;
}

async function main(): Promise<void> {
  const tmp = await tempDir('nd-bench-bastion-');
  const dir = tmp.dir;
  let bastion: Bastion | undefined;
  let sshd: SshdHandle | undefined;
  const results: string[] = [];
  const say = (line: string) => {
    results.push(line);
    process.stdout.write(`${line}\n`);
  };
  try {
    const [userCa, hostCa, hostKey, user] = await Promise.all([
      makeKey(dir, 'user_ca'),
      makeKey(dir, 'host_ca'),
      makeKey(dir, 'host_key'),
      makeKey(dir, 'id_bench'),
    ]);
    const hostCert = await signCert(hostCa, hostKey, {
      keyId: 'bench',
      principals: [BASTION_NAME, '*.neetodeploy'],
      host: true,
      validity: '-5m:+4h',
    });
    const cert = await signCert(userCa, user, {
      keyId: 'bench@example.com:b1',
      principals: ['demo'],
      validity: '-5m:+4h',
      // sshd needs it to act as a jump host; the bastion serves its virtual hosts without it.
      options: ['clear', 'permit-pty', 'permit-port-forwarding'],
    });
    bastion = await startBastion(dir, `${userCa.file}.pub`, hostKey.file, hostCert);
    sshd = await startSshd({
      trustedUserCAKeys: [userCa.publicKey],
      authorizedPrincipals: ['demo'],
      extraConfig: ['AllowTcpForwarding yes', 'PermitTTY yes'],
    });
    const bastionKnown = path.join(dir, 'known_hosts_bastion');
    await writeFile(
      bastionKnown,
      `@cert-authority ${BASTION_NAME},*.neetodeploy ${hostCa.publicKey}\n`,
    );
    const sshdKnown = path.join(dir, 'known_hosts_sshd');
    await writeFile(sshdKnown, `[127.0.0.1]:${sshd.port} ${sshd.hostKeyLine}\n`);
    const nativeCrypto = (() => {
      try {
        readFileSync(
          path.join(
            path.dirname(createRequire(import.meta.url).resolve('ssh2')),
            'protocol/crypto/build/Release/sshcrypto.node',
          ),
        );
        return 'yes';
      } catch {
        return 'NO (chacha20 falls back to JS)';
      }
    })();
    say(
      `machine: ${readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? '?'}, ${os.cpus().length} cores; ssh2 native crypto binding: ${nativeCrypto}`,
    );

    const configs = async (name: string, extra: string[]) => ({
      bastion: await writeSshConfig(path.join(dir, `b-${name}.ssh_config`), {
        port: bastion!.port,
        identity: user.file,
        certificate: cert,
        knownHosts: bastionKnown,
        bastionName: BASTION_NAME,
        extra,
      }),
      sshd: await sshdConfig(
        path.join(dir, `s-${name}.ssh_config`),
        sshd!,
        user.file,
        cert,
        sshdKnown,
        extra,
      ),
    });

    // 1. Throughput through the jump.
    const size = QUICK ? GIB / 4 : GIB;
    const reps = Number(flagValue('--reps') ?? (QUICK ? 1 : 3));
    const only = flagValue('--cipher') ?? '';
    const ciphers = ['chacha20-poly1305@openssh.com', 'aes128-gcm@openssh.com'].filter((c) =>
      c.startsWith(only),
    );
    for (const cipher of runs('throughput') ? ciphers : []) {
      const cfg = await configs(cipher.split('@')[0]!, [
        `Ciphers ${cipher}`,
        'KexAlgorithms curve25519-sha256',
      ]);
      /** One transfer: MiB/s and CPU seconds per GiB spent server-side (incl. reaped children). */
      const transfer = async (config: string, host: string, serverPid: () => number) => {
        const before = cpuSplit(serverPid());
        const stopCounting = SYSCALLS ? countSyscalls(serverPid()) : undefined;
        if (stopCounting) await sleep(200); // perf attaches
        const r = await sshTimed(['-F', config, host, `head -c ${size} /dev/zero`]);
        if (r.code !== 0) throw new Error(`${host}: ${r.stderr}`);
        await sleep(300); // let sshd reap its per-connection processes
        const after = cpuSplit(serverPid());
        const gib = size / GIB;
        const userS = (after.user - before.user) / gib;
        const systemS = (after.system - before.system) / gib;
        const counts = await stopCounting?.();
        if (counts) {
          const perMiB = (e: string) => fmt((counts.get(e) ?? 0) / (size / 1024 / 1024), 1);
          const syscalls = SYSCALL_EVENTS.map(
            (e) => `${e.replace(/^syscalls:sys_enter_/, '')} ${perMiB(e)}/MiB`,
          ).join(', ');
          say(
            `  ${host}: user ${fmt(userS, 2)} s/GiB, system ${fmt(systemS, 2)} s/GiB, ${syscalls}`,
          );
        }
        return { rate: size / 1024 / 1024 / (r.ms / 1000), cpu: userS + systemS };
      };
      const sshdPid = () => Number(readFileSync(path.join(sshd!.dir, 'sshd.pid'), 'utf8').trim());
      // Second pass: one CPU-bound neighbour process, as on a shared node.
      for (const neighbour of [false, true]) {
        const busy = neighbour ? spawnNeighbour() : undefined;
        try {
          // Bastion and sshd alternate, so a change in the machine's load between runs lands on
          // both sides rather than on one.
          const b: { rate: number; cpu: number }[] = [];
          const s: { rate: number; cpu: number }[] = [];
          for (let i = 0; i < reps; i++) {
            b.push(await transfer(cfg.bastion, 'demo.neetodeploy', () => bastion!.child.pid!));
            s.push(await transfer(cfg.sshd, 'sshd-target', sshdPid));
          }
          const ratios = b.map((x, i) => x.rate / s[i]!.rate);
          const rateB = median(b.map((x) => x.rate));
          const rateS = median(s.map((x) => x.rate));
          say(
            `throughput ${size / GIB} GiB via jump, ${cipher}${neighbour ? ', with a CPU-bound neighbour' : ''}: bastion ${fmt(rateB)} MiB/s, sshd -J ${fmt(rateS)} MiB/s, ratio ${fmt(rateB / rateS, 2)}x ` +
              `(pairs ${fmt(Math.min(...ratios), 2)}-${fmt(Math.max(...ratios), 2)}x); ` +
              `server CPU per GiB (console included): bastion ${fmt(median(b.map((x) => x.cpu)), 2)} s, sshd ${fmt(median(s.map((x) => x.cpu)), 2)} s`,
          );
        } finally {
          busy?.kill('SIGKILL');
        }
      }
    }

    // 2. Connection rate, direct, same kex and cipher, classical and post-quantum.
    for (const kex of runs('rate') ? ['curve25519-sha256', 'sntrup761x25519-sha512'] : []) {
      const cfg = await configs(`rate-${kex}`, [
        'Ciphers chacha20-poly1305@openssh.com',
        `KexAlgorithms ${kex}`,
      ]);
      const seqN = QUICK ? 10 : 40;
      const rateOf = async (config: string, host: string, parallel: number, total: number) => {
        let next = 0;
        const t0 = Date.now();
        const worker = async () => {
          while (next < total) {
            next++;
            const r = await sshTimed(['-F', config, host, 'true']);
            if (r.code !== 0) throw new Error(`${host}: ${r.stderr}`);
          }
        };
        await Promise.all(Array.from({ length: parallel }, worker));
        return total / ((Date.now() - t0) / 1000);
      };
      const b = await rateOf(cfg.bastion, 'bastion', 1, seqN);
      const s = await rateOf(cfg.sshd, 'sshd-jump', 1, seqN);
      say(
        `${kex}: connect+auth+exec true, sequential: bastion ${fmt(b)}/s (${fmt(1000 / b, 0)} ms), sshd ${fmt(s)}/s (${fmt(1000 / s, 0)} ms), ratio ${fmt(b / s, 2)}x`,
      );
      const pb = await rateOf(cfg.bastion, 'bastion', 16, seqN * 4);
      const ps = await rateOf(cfg.sshd, 'sshd-jump', 16, seqN * 4);
      say(
        `${kex}: connect+auth+exec true, 16 parallel: bastion ${fmt(pb)}/s, sshd ${fmt(ps)}/s, ratio ${fmt(pb / ps, 2)}x`,
      );
    }
    if (ONLY !== undefined && ONLY !== 'echo' && ONLY !== 'memory') return;

    // 3. Echo round trip (ssh2 client on both, pty shell running `cat` in raw mode).
    const key = certificateKey(await readFile(user.file, 'utf8'), await readFile(cert, 'utf8'));
    const n = QUICK ? 200 : 1000;
    for (const mode of ['pty', 'pipes'] as const) {
      const bDirect = await echoRtt(key, { port: bastion.port, username: 'demo' }, n, mode);
      const bJump = await echoRtt(
        key,
        {
          port: bastion.port,
          username: 'demo',
          via: { host: 'demo.neetodeploy', port: 22, username: 'demo' },
        },
        n,
        mode,
      );
      const sDirect = await echoRtt(key, { port: sshd.port, username: 'root' }, n, mode);
      const sJump = await echoRtt(
        key,
        {
          port: sshd.port,
          username: 'root',
          via: { host: '127.0.0.1', port: sshd.port, username: 'root' },
        },
        n,
        mode,
      );
      say(
        `1-byte echo RTT, ${mode === 'pty' ? 'interactive pty shell running cat' : 'exec cat on pipes'} (median of ${n}): ` +
          `bastion direct ${fmt(bDirect, 3)} ms, via jump ${fmt(bJump, 3)} ms (jump adds ${fmt(bJump - bDirect, 3)} ms); ` +
          `sshd direct ${fmt(sDirect, 3)} ms, via sshd -J ${fmt(sJump, 3)} ms (jump adds ${fmt(sJump - sDirect, 3)} ms)`,
      );
    }

    // 4. Memory per idle jump session.
    const nb = QUICK ? 200 : 1000;
    const ns = QUICK ? 50 : 200;
    await sleep(500);
    const before = statusKb(bastion.child.pid!, 'VmRSS');
    const bClients = await idleSessions(
      key,
      {
        port: bastion.port,
        username: 'demo',
        via: { host: 'demo.neetodeploy', port: 22, username: 'demo' },
      },
      nb,
    );
    await sleep(2000);
    const after = statusKb(bastion.child.pid!, 'VmRSS');
    const perB = (after - before) / nb;
    for (const c of bClients) c.end();
    const sBefore = sshdPssKb();
    const sClients = await idleSessions(
      key,
      {
        port: sshd.port,
        username: 'root',
        via: { host: '127.0.0.1', port: sshd.port, username: 'root' },
      },
      ns,
    );
    await sleep(2000);
    const sAfter = sshdPssKb();
    const perS = (sAfter.kb - sBefore.kb) / ns;
    for (const c of sClients) c.end();
    say(
      `idle jump session memory: bastion ${fmt(perB, 0)} kB/session at ${nb} sessions (RSS ${fmt(before / 1024, 0)} → ${fmt(after / 1024, 0)} MB); ` +
        `sshd ${fmt(perS, 0)} kB/session at ${ns} sessions (PSS of ${sAfter.procs - sBefore.procs} extra sshd processes), ratio ${fmt(perS / perB, 1)}x less`,
    );
  } finally {
    await bastion?.stop();
    await sshd?.stop();
    await tmp.cleanup();
  }
  process.stdout.write(`\n${results.map((r) => `- ${r}`).join('\n')}\n`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
