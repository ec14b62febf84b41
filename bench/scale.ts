/**
 * Bastion at scale (issue 18): N concurrent authenticated ProxyJump sessions, each with a
 * running `cat` console on the local platform, held by ONE bastion process. Reports, at each
 * step of the curve, the bastion's memory per session (RSS delta after gc / sessions held) and
 * how long a legitimate new session takes to open while they are held.
 *
 * Run (root, from the repo root):
 *   node --import tsx bench/scale.ts [--steps 1000,2000,4000] [--clients 4] [--probes 5]
 *        [--cipher aes128-gcm@openssh.com] [--concurrency 8] [--from bundle|source]
 *        [--heap-snapshot DIR] [--ssh2 DIR] [--without-console]
 *
 * Three kinds of process, all from this file:
 *  - the bastion (`--bastion-child`): `createBastion` + the local platform, as its `main.ts`
 *    builds them, with limits raised in ITS config only (defaults untouched); answers `measure`
 *    with its RSS after gc(), heap and open file descriptors;
 *  - client workers (`--client-child`): ssh2 clients, one outer connection + one inner
 *    connection over `direct-tcpip` per session, `exec cat`; each worker binds its own loopback
 *    source address (127.0.0.1x) so per-address limits and ephemeral ports are not shared;
 *  - this process: keys, the curve, and the probe (fresh sessions from 127.0.0.250, timed from
 *    TCP connect to the first stdout byte of `echo ready`).
 *
 * What caps N on a machine: each held session costs the bastion one TCP socket plus three pipe
 * ends to its `cat` (stdin, stdout, stderr), so `ulimit -n` of the bastion bounds N at about
 * (limit - 100) / 4. The benchmark prints the limits the bastion runs with (soft/hard).
 * `--without-console` holds authenticated jump sessions (outer and inner SSH connection) that
 * run nothing: one descriptor each, so a machine whose limit stops the curve at N/4 with
 * consoles can still show how the bastion holds N connections. The probe still runs a command.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { writeHeapSnapshot } from 'node:v8';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ssh2 from 'ssh2';
import type { ClientChannel, ParsedKey } from 'ssh2';
import { pino } from 'pino';
import { certificateKey } from '../cli/src/ssh/index.js';
import { ROOT } from '../test/support/paths.js';
import { makeKey, signCert, tempDir } from '../test/support/ssh-client.js';

const SELF = fileURLToPath(import.meta.url);
const APP = 'demo';
const PROBE_SOURCE = '127.0.0.250';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const loadavg = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

// ---------- messages between the processes ----------

interface BastionArgs {
  dataDir: string;
  hostKey: string;
  userCa: string;
  maxSessions: number;
  /** `source`: the TypeScript sources through tsx; otherwise the path of a bundle. */
  module: string;
  snapshotDir?: string;
}
interface ClientArgs {
  port: number;
  keyFile: string;
  certFile: string;
  source: string;
  cipher: string;
  concurrency: number;
  /** What each held session runs; undefined: nothing (`--without-console`). */
  command: string | undefined;
}
interface Memory {
  rss: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  fds: number;
  fdLimit: string;
}
type BastionMsg =
  | { type: 'listening'; port: number; fdLimit: string }
  | ({ type: 'memory' } & Memory)
  | { type: 'snapshot'; file: string };
type ClientMsg =
  | { type: 'opened'; ok: number; failed: number; firstError?: string; held: number; ms: number }
  | { type: 'closed' };

function nextMessage<M extends { type: string }, T extends M['type']>(
  child: ChildProcess,
  type: T,
): Promise<Extract<M, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: M) => {
      if (m.type !== type) return;
      child.off('message', onMsg);
      child.off('exit', onExit);
      resolve(m as Extract<M, { type: T }>);
    };
    const onExit = (code: number | null) => reject(new Error(`child exited ${code}`));
    child.on('message', onMsg);
    child.once('exit', onExit);
  });
}

/** Soft `ulimit -n` raised to the hard limit: the limit we report is the one the process has. */
function fdLimit(): string {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const [soft, hard] = line?.split(/\s+/).slice(3, 5) ?? [];
    return `${soft}/${hard}`;
  } catch {
    return '?';
  }
}

// ---------- the bastion process ----------

interface BastionModule {
  createBastion: typeof import('@neetodeploy/bastion').createBastion;
  parseBastionConfig: typeof import('@neetodeploy/bastion').parseBastionConfig;
  createPlatformFromConfig: typeof import('@neetodeploy/platform').createPlatformFromConfig;
}

/**
 * The bastion's code as production runs it. Through tsx every function gets esbuild's
 * `keepNames` wrapper, which gives each closure its own dictionary of properties (~250 bytes
 * each, some 150 closures per jump session), so sources run through tsx overstate memory per
 * session; and `dist/` may be stale while others work. So: the current sources, bundled by
 * esbuild without keepNames (what `tsc` emits for ES2023 is the same code), beside the repo's
 * node_modules so that packages resolve as they do for `dist/`.
 */
async function bundleBastion(ssh2Dir: string | undefined): Promise<string> {
  const { build } = await import('esbuild');
  const outfile = path.join(
    ROOT,
    'node_modules',
    '.cache',
    'neetodeploy-bench',
    `scale-bastion-${process.pid}.mjs`,
  );
  await build({
    stdin: {
      contents: [
        "export { createBastion, parseBastionConfig } from './bastion/src/index.ts';",
        "export { createPlatformFromConfig } from './platform/src/index.ts';",
      ].join('\n'),
      resolveDir: ROOT,
      loader: 'ts',
    },
    bundle: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    conditions: ['neetodeploy-source'],
    outfile,
    logLevel: 'error',
    plugins: [
      {
        name: 'workspace-only',
        setup(b) {
          // Workspace packages are bundled from source; everything else loads from node_modules.
          b.onResolve({ filter: /^[^./]/ }, (r) => {
            if (r.path.startsWith('@neetodeploy/')) return undefined;
            // `--ssh2 DIR`: an edited copy of ssh2, to measure a change before it is swapped in.
            if (ssh2Dir && r.path === 'ssh2')
              return { path: path.resolve(ssh2Dir), external: true };
            return { path: r.path, external: true };
          });
        },
      },
    ],
  });
  return outfile;
}

async function bastionChild(args: BastionArgs): Promise<void> {
  const mod: BastionModule =
    args.module === 'source'
      ? { ...(await import('@neetodeploy/bastion')), ...(await import('@neetodeploy/platform')) }
      : ((await import(pathToFileURL(args.module).href)) as BastionModule);
  const { createBastion, parseBastionConfig, createPlatformFromConfig } = mod;
  const logger = pino({ level: 'warn' });
  const n = args.maxSessions;
  const config = parseBastionConfig({
    listen: { host: '127.0.0.1', port: 0 },
    name: 'bastion.scale',
    hostKeys: [{ privateKeyFile: args.hostKey }],
    trust: { static: { userCaKeyFiles: [args.userCa] } },
    platform: { type: 'local', dataDir: args.dataDir },
    limits: {
      maxStartups: { begin: 2000, rate: 30, full: 4000 },
      perIpUnauthenticated: 2000,
      perIpConnections: n * 2,
      maxSessionsPerUser: n * 2,
      // Thousands of handshakes queue behind each other on a loaded 2-core machine.
      kexTimeoutMs: 120_000,
      authTimeoutMs: 180_000,
    },
    log: { level: 'warn' },
  });
  const platform = await createPlatformFromConfig(config.platform, { logger });
  const bastion = createBastion(config, { platform, logger });
  const port = (await bastion.start()).ssh.port;
  const gc = (globalThis as { gc?: () => void }).gc;
  process.on('message', (m: { type: string }) => {
    if (m.type === 'measure') {
      gc?.();
      gc?.();
      const mem = process.memoryUsage();
      process.send?.({
        type: 'memory',
        rss: mem.rss,
        heapUsed: mem.heapUsed,
        external: mem.external,
        arrayBuffers: mem.arrayBuffers,
        fds: readdirSync('/proc/self/fd').length,
        fdLimit: fdLimit(),
      } satisfies BastionMsg);
    } else if (m.type === 'snapshot') {
      // `--heap-snapshot DIR`: where the per-session bytes go, by constructor (compare two).
      const file = writeHeapSnapshot(
        path.join(args.snapshotDir ?? os.tmpdir(), `scale-${Date.now()}.heapsnapshot`),
      );
      process.send?.({ type: 'snapshot', file } satisfies BastionMsg);
    } else if (m.type === 'stop') {
      void bastion
        .stop()
        .then(() => platform.close())
        .then(() => process.exit(0));
    }
  });
  process.send?.({ type: 'listening', port, fdLimit: fdLimit() } satisfies BastionMsg);
}

// ---------- ssh2 client side ----------

function connect(
  key: ParsedKey,
  cipher: string,
  opts: { port?: number; sock?: ClientChannel; source?: string },
): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    // ssh2 may emit more than one error (a reset after a timeout, say): the first rejects, a
    // later one (a held session reset) is counted by the caller, never thrown.
    c.on('error', reject);
    c.once('ready', () => resolve(c)).connect({
      host: '127.0.0.1',
      ...(opts.port !== undefined ? { port: opts.port } : {}),
      ...(opts.sock ? { sock: opts.sock } : {}),
      ...(opts.source ? { localAddress: opts.source } : {}),
      username: APP,
      authHandler: [{ type: 'publickey', username: APP, key } as ssh2.PublicKeyAuthMethod],
      hostVerifier: () => true,
      algorithms: {
        kex: ['curve25519-sha256'],
        cipher: [cipher as ssh2.CipherAlgorithm],
        serverHostKey: ['ssh-ed25519'],
      },
      readyTimeout: 120_000,
      keepaliveInterval: 0,
    });
  });
}

interface Held {
  clients: ssh2.Client[];
  channel?: ClientChannel;
}

/**
 * A jump session, like `ssh -J bastion demo.neetodeploy CMD`: resolves on `marker` in stdout,
 * or once both connections are authenticated when there is no command.
 */
async function openJumpSession(
  key: ParsedKey,
  port: number,
  cipher: string,
  source: string,
  command: string | undefined,
  marker: string,
): Promise<Held> {
  const outer = await connect(key, cipher, { port, source });
  try {
    const tunnel = await new Promise<ClientChannel>((resolve, reject) =>
      outer.forwardOut('127.0.0.1', 0, `${APP}.neetodeploy`, 22, (err, s) =>
        err ? reject(err) : resolve(s),
      ),
    );
    const inner = await connect(key, cipher, { sock: tunnel });
    if (command === undefined) return { clients: [inner, outer] };
    const channel = await new Promise<ClientChannel>((resolve, reject) =>
      inner.exec(command, (err, ch) => (err ? reject(err) : resolve(ch))),
    );
    channel.stderr.resume();
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const onData = (d: Buffer) => {
        out += d.toString();
        if (!out.includes(marker)) return;
        channel.off('data', onData);
        channel.off('close', onClose);
        channel.resume();
        resolve();
      };
      const onClose = () => reject(new Error(`session closed before ${marker}: ${out}`));
      channel.on('data', onData);
      channel.once('close', onClose);
    });
    return { clients: [inner, outer], channel };
  } catch (err) {
    outer.end();
    throw err;
  }
}

async function clientChild(args: ClientArgs): Promise<void> {
  const key = certificateKey(
    await readFile(args.keyFile, 'utf8'),
    await readFile(args.certFile, 'utf8'),
  );
  const held: Held[] = [];
  process.on('message', (m: { type: string; count?: number }) => {
    if (m.type === 'open') {
      void openMany(m.count ?? 0);
    } else if (m.type === 'close') {
      for (const h of held.splice(0)) for (const c of h.clients) c.end();
      process.send?.({ type: 'closed' } satisfies ClientMsg);
    }
  });
  async function openMany(count: number): Promise<void> {
    const t0 = performance.now();
    let next = 0;
    let ok = 0;
    let failed = 0;
    let firstError: string | undefined;
    const worker = async () => {
      while (next < count) {
        next++;
        try {
          held.push(
            await openJumpSession(key, args.port, args.cipher, args.source, args.command, 'up'),
          );
          ok++;
        } catch (err) {
          failed++;
          firstError ??= (err as Error).message;
        }
      }
    };
    await Promise.all(Array.from({ length: args.concurrency }, worker));
    process.send?.({
      type: 'opened',
      ok,
      failed,
      held: held.length,
      ms: performance.now() - t0,
      ...(firstError !== undefined ? { firstError } : {}),
    } satisfies ClientMsg);
  }
}

// ---------- the curve ----------

/** Consoles the bastion runs: its direct children (dash `-c` execs `cat` in place). */
function consoleProcesses(bastionPid: number): number {
  let n = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === bastionPid) n++;
    } catch {
      // gone
    }
  }
  return n;
}

async function probe(key: ParsedKey, port: number, cipher: string, n: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const s = await openJumpSession(key, port, cipher, PROBE_SOURCE, 'echo ready', 'ready');
    times.push(performance.now() - t0);
    for (const c of s.clients) c.end();
    await sleep(100);
  }
  return times.sort((a, b) => a - b);
}

async function main(): Promise<void> {
  const steps = (arg('--steps') ?? '500,1000,2000,3000,4000')
    .split(',')
    .map(Number)
    .filter((x) => Number.isFinite(x) && x > 0);
  const nClients = Number(arg('--clients') ?? 4);
  const nProbes = Number(arg('--probes') ?? 5);
  const cipher = arg('--cipher') ?? 'aes128-gcm@openssh.com';
  const concurrency = Number(arg('--concurrency') ?? 8);
  const snapshotDir = arg('--heap-snapshot');
  const from = arg('--from') ?? 'bundle';
  const withConsole = !process.argv.includes('--without-console');
  let module: string | undefined;
  const tmp = await tempDir('nd-bench-scale-');
  const dir = tmp.dir;
  const children: ChildProcess[] = [];
  let bastion: ChildProcess | undefined;
  try {
    const [userCa, hostKey, user] = await Promise.all([
      makeKey(dir, 'user_ca'),
      makeKey(dir, 'host_key'),
      makeKey(dir, 'id_scale'),
    ]);
    const certFile = await signCert(userCa, user, {
      keyId: 'scale@example.com:s1',
      principals: [APP],
      validity: '-5m:+4h',
    });
    const key = certificateKey(await readFile(user.file, 'utf8'), await readFile(certFile, 'utf8'));
    const max = Math.max(...steps);
    module = from === 'source' ? 'source' : await bundleBastion(arg('--ssh2'));
    bastion = fork(
      SELF,
      [
        '--bastion-child',
        JSON.stringify({
          dataDir: path.join(dir, 'data'),
          hostKey: hostKey.file,
          userCa: `${userCa.file}.pub`,
          maxSessions: max,
          module,
          ...(snapshotDir !== undefined ? { snapshotDir } : {}),
        } satisfies BastionArgs),
      ],
      {
        execArgv: ['--expose-gc', '--conditions=neetodeploy-source', '--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    children.push(bastion);
    const listening = await nextMessage<BastionMsg, 'listening'>(bastion, 'listening');
    const port = listening.port;
    const measure = async (): Promise<Memory> => {
      bastion!.send({ type: 'measure' });
      return nextMessage<BastionMsg, 'memory'>(bastion!, 'memory');
    };
    const machine = readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1];
    console.log(
      `# ${machine ?? '?'}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}; ` +
        `bastion pid ${bastion.pid}, open files limit (soft/hard) ${listening.fdLimit}; cipher ${cipher}; bastion code: ${from === 'source' ? 'TypeScript sources via tsx' : 'sources bundled without keepNames'}; ` +
        `${nClients} client processes x ${concurrency} in flight; held sessions ${withConsole ? 'run `cat`' : 'run nothing (--without-console)'}; load ${loadavg()}`,
    );

    // Warm up (lazily loaded code, pools), then the baseline every delta is taken from.
    const warm = await probe(key, port, cipher, 2);
    await sleep(500);
    const base = await measure();
    const snapshot = async (): Promise<void> => {
      if (snapshotDir === undefined) return;
      bastion!.send({ type: 'snapshot' });
      const { file } = await nextMessage<BastionMsg, 'snapshot'>(bastion!, 'snapshot');
      console.log(`# heap snapshot: ${file}`);
    };
    await snapshot();
    console.log(
      `# baseline: bastion RSS ${(base.rss / 2 ** 20).toFixed(1)} MiB, heap ${(base.heapUsed / 2 ** 20).toFixed(1)} MiB, ` +
        `${base.fds} fds; idle probe ${warm.map((t) => t.toFixed(0)).join(', ')} ms`,
    );
    for (let i = 0; i < nClients; i++) {
      const c = fork(
        SELF,
        [
          '--client-child',
          JSON.stringify({
            port,
            keyFile: user.file,
            certFile,
            source: `127.0.0.${10 + i}`,
            cipher,
            concurrency,
            // `echo` first so that "open" means the console runs, then `cat` holds it.
            command: withConsole ? 'echo up; cat' : undefined,
          } satisfies ClientArgs),
        ],
        {
          execArgv: ['--conditions=neetodeploy-source', '--import', 'tsx'],
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        },
      );
      children.push(c);
    }
    const clients = children.slice(1);
    const heldBy = clients.map(() => 0);
    console.log(
      '| sessions held | failed | consoles | bastion fds | RSS MiB | RSS delta / session | heap + buffers delta / session | probe p50 / max (ms) | open rate | load |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    for (const target of steps) {
      const total = heldBy.reduce((a, b) => a + b, 0);
      const want = target - total;
      if (want <= 0) continue;
      const t0 = performance.now();
      const results = await Promise.all(
        clients.map((c, i) => {
          const share = Math.floor(want / clients.length) + (i < want % clients.length ? 1 : 0);
          const done = nextMessage<ClientMsg, 'opened'>(c, 'opened');
          c.send({ type: 'open', count: share });
          return done;
        }),
      );
      const wall = (performance.now() - t0) / 1000;
      results.forEach((r, i) => (heldBy[i] = r.held));
      const held = heldBy.reduce((a, b) => a + b, 0);
      const failed = results.reduce((a, r) => a + r.failed, 0);
      const firstError = results.find((r) => r.firstError)?.firstError;
      await sleep(2000);
      const mem = await measure();
      const consoles = consoleProcesses(bastion.pid!);
      await snapshot();
      let probes: string;
      try {
        const p = await probe(key, port, cipher, nProbes);
        probes = `${p[Math.floor(p.length / 2)]!.toFixed(0)} / ${p.at(-1)!.toFixed(0)}`;
      } catch (err) {
        probes = `FAILED: ${(err as Error).message}`;
      }
      const per = (x: number, y: number) => ((x - y) / Math.max(1, held) / 1024).toFixed(1);
      console.log(
        `| ${held} | ${failed}${firstError ? ` (${firstError.slice(0, 80)})` : ''} | ${consoles} | ${mem.fds} | ` +
          `${(mem.rss / 2 ** 20).toFixed(0)} | ${per(mem.rss, base.rss)} kB | ${per(mem.heapUsed + mem.arrayBuffers, base.heapUsed + base.arrayBuffers)} kB | ` +
          `${probes} | ${(want / wall).toFixed(0)}/s | ${loadavg()} |`,
      );
      // A few handshakes timing out on a loaded machine is noted; more means a limit was hit.
      if (failed > want / 100) break;
    }
  } finally {
    for (const c of children.slice(1)) {
      if (c.exitCode !== null) continue;
      c.send({ type: 'close' });
      await Promise.race([nextMessage<ClientMsg, 'closed'>(c, 'closed'), sleep(30_000)]).catch(
        () => undefined,
      );
      c.kill();
    }
    if (bastion && bastion.exitCode === null) {
      const exited = new Promise((r) => bastion!.once('exit', r));
      bastion.send({ type: 'stop' });
      await Promise.race([exited, sleep(60_000)]);
      if (bastion.exitCode === null) bastion.kill('SIGKILL');
    }
    if (module !== undefined && module !== 'source') await rm(module, { force: true });
    await tmp.cleanup();
  }
}

const role = process.argv.includes('--bastion-child')
  ? 'bastion'
  : process.argv.includes('--client-child')
    ? 'client'
    : 'main';
if (role === 'bastion') {
  await bastionChild(JSON.parse(arg('--bastion-child') ?? '{}') as BastionArgs);
} else if (role === 'client') {
  await clientChild(JSON.parse(arg('--client-child') ?? '{}') as ClientArgs);
} else {
  await main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
