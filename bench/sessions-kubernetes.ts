/**
 * N (default 200) concurrent `exec` sessions through one bastion on the kubernetes platform,
 * over the fake API server (issues 6 and 18). Run:
 * `node --import tsx bench/sessions-kubernetes.ts [--sessions N] [--clients K] [--in-flight M]
 * [--mode console|running-pod] [--bastion-log FILE]`.
 *
 * The fake API server (with the chart's rendered RBAC) runs in this process, alone: the ssh2
 * clients run in `--clients K` child processes (default 4), because 1,000 clients' key exchanges
 * in the same process kept the fake API server from answering in time. The bastion runs alone in
 * a child process (same `createBastion` + kubernetes platform as its `main.ts`, authenticating
 * as the chart's bastion ServiceAccount) so that its RSS is its own, measured after `gc()`.
 *
 * Two rounds, each holding N sessions open at once, set up M at a time per client process
 * (`--in-flight 0`: all at once) (ssh2 client, certificate via the CLI's wrapper,
 * ProxyJump-style: direct-tcpip to APP.neetodeploy then an inner SSH session):
 *  - `console`: user `shop`, a one-off console pod per session (pod create, wait Running, exec);
 *  - `running-pod`: user `shop:web`, exec into the app's running web pod.
 * Setup latency = from TCP connect to the first stdout byte of the remote `echo ready; cat`.
 * Memory per session = (bastion RSS with all N open - RSS before) / N, both after gc().
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import ssh2 from 'ssh2';
import type { ClientChannel, ParsedKey } from 'ssh2';
import { pino } from 'pino';
import { certificateKey } from '../cli/src/ssh/index.js';
import { chartRbacYaml, DEFAULT_NAMESPACE, serviceAccountNames } from '../test/support/chart.js';
import {
  serviceAccountUsername,
  startFakeApiServer,
  type FakeApiServer,
} from '../test/support/fake-apiserver/index.js';
import { makeKey, signCert, tempDir } from '../test/support/ssh-client.js';

const APP = 'shop';
const NS = 'apps';
const APP_LABEL = 'neetodeploy.com/app';
const PROCESS_LABEL = 'neetodeploy.com/process';
const CONSOLE_LABEL = 'neetodeploy.com/console';
const SELF = fileURLToPath(import.meta.url);

function flagValue(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function argValue(name: string, fallback: number): number {
  const raw = flagValue(name);
  const v = raw !== undefined ? Number(raw) : fallback;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

type ChildMsg =
  | { type: 'listening'; port: number }
  | { type: 'rss'; rss: number; heapUsed: number }
  | { type: 'opened'; ms: number[]; failures: string[] }
  | { type: 'closed'; codes: (number | null)[] };

/** The bastion's process: builds it like main.ts does, answers `gc` with its memory. */
async function bastionChild(): Promise<void> {
  const { createBastion, parseBastionConfig } = await import('@neetodeploy/bastion');
  const { createKubernetesPlatform } = await import('@neetodeploy/platform');
  const args = JSON.parse(flagValue('--bastion-child') ?? '{}') as {
    kubeconfig: string;
    hostKey: string;
    userCa: string;
    sessions: number;
    log?: string;
  };
  // --bastion-log FILE: everything the bastion logs at info, as in production, in FILE.
  const logger = args.log
    ? pino({ level: 'info' }, pino.destination({ dest: args.log, sync: false }))
    : pino({ level: 'warn' });
  const platform = await createKubernetesPlatform(
    {
      kubeconfigPath: args.kubeconfig,
      namespaces: { mode: 'shared', namespace: NS },
      reaper: { intervalMs: 0 },
      console: { startTimeoutMs: 120_000, terminationGracePeriodSeconds: 1, stopGraceMs: 1000 },
    },
    { logger },
  );
  const n = args.sessions;
  const bastion = createBastion(
    parseBastionConfig({
      listen: { host: '127.0.0.1', port: 0 },
      name: '127.0.0.1',
      hostKeys: [{ privateKeyFile: args.hostKey }],
      trust: { static: { userCaKeyFiles: [args.userCa] } },
      limits: {
        maxStartups: { begin: n * 2, rate: 30, full: n * 4 },
        perIpUnauthenticated: n * 2,
        perIpConnections: n * 4,
        maxSessionsPerUser: n * 4,
        // N handshakes at once queue for minutes on 2 cores: not what the deadlines are for.
        kexTimeoutMs: 300_000,
        authTimeoutMs: 360_000,
      },
      log: { level: args.log ? 'info' : 'warn' },
    }),
    { platform, logger },
  );
  const port = (await bastion.start()).ssh.port;
  const gc = (globalThis as { gc?: () => void }).gc;
  process.on('message', (m: { type: string }) => {
    if (m.type === 'gc') {
      gc?.();
      gc?.();
      const mem = process.memoryUsage();
      process.send?.({ type: 'rss', rss: mem.rss, heapUsed: mem.heapUsed } satisfies ChildMsg);
    } else if (m.type === 'stop') {
      void bastion
        .stop()
        .then(() => platform.close())
        .then(() => process.exit(0));
    }
  });
  process.send?.({ type: 'listening', port } satisfies ChildMsg);
}

function nextMessage<T extends ChildMsg['type']>(
  child: ChildProcess,
  type: T,
): Promise<Extract<ChildMsg, { type: T }>> {
  return new Promise((resolve, reject) => {
    const onMsg = (m: ChildMsg) => {
      if (m.type !== type) return;
      child.off('message', onMsg);
      child.off('exit', onExit);
      resolve(m as Extract<ChildMsg, { type: T }>);
    };
    const onExit = (code: number | null) => reject(new Error(`bastion exited ${code}`));
    child.on('message', onMsg);
    child.once('exit', onExit);
  });
}

function connect(
  key: ParsedKey,
  username: string,
  opts: { port?: number; sock?: ClientChannel },
): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.once('ready', () => resolve(c))
      .once('error', reject)
      .connect({
        host: '127.0.0.1',
        ...(opts.port !== undefined ? { port: opts.port } : {}),
        ...(opts.sock ? { sock: opts.sock } : {}),
        username,
        authHandler: [{ type: 'publickey', username, key } as ssh2.PublicKeyAuthMethod],
        hostVerifier: () => true,
        readyTimeout: 300_000,
        keepaliveInterval: 0,
      });
  });
}

interface Open {
  ms: number;
  clients: ssh2.Client[];
  channel: ClientChannel;
}

async function openSession(key: ParsedKey, port: number, username: string): Promise<Open> {
  const t0 = performance.now();
  const outer = await connect(key, username, { port });
  const tunnel = await new Promise<ClientChannel>((resolve, reject) =>
    outer.forwardOut('127.0.0.1', 0, `${APP}.neetodeploy`, 22, (err, s) =>
      err ? reject(err) : resolve(s),
    ),
  );
  const inner = await connect(key, username, { sock: tunnel });
  const channel = await new Promise<ClientChannel>((resolve, reject) =>
    inner.exec('echo ready; cat', (err, ch) => (err ? reject(err) : resolve(ch))),
  );
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) {
        channel.off('data', onData);
        resolve();
      }
    };
    let err = '';
    channel.on('data', onData);
    channel.stderr.on('data', (d: Buffer) => (err += d.toString()));
    channel.once('exit', (code: number | null, signal?: string) => {
      err += ` [exit ${code ?? signal}]`;
    });
    channel.once('close', () =>
      reject(new Error(`session closed before ready: ${out}${err.trim().slice(0, 300)}`)),
    );
  });
  return { ms: performance.now() - t0, clients: [inner, outer], channel };
}

async function closeSession(o: Open): Promise<number | null> {
  const code = new Promise<number | null>((resolve) =>
    o.channel.once('exit', (c: number | null) => resolve(c)),
  );
  o.channel.end();
  const c = await Promise.race([code, new Promise<null>((r) => setTimeout(() => r(null), 30_000))]);
  for (const cl of o.clients) cl.end();
  return c;
}

interface ClientChildArgs {
  readonly port: number;
  readonly keyFile: string;
  readonly certFile: string;
  readonly username: string;
  readonly sessions: number;
  /** Sessions being set up at once by this process; 0 opens them all at once. */
  readonly inFlight: number;
}

/** Opens n sessions, at most inFlight at a time (all at once when inFlight is 0). */
async function openAll(
  n: number,
  inFlight: number,
  open: () => Promise<Open>,
): Promise<PromiseSettledResult<Open>[]> {
  const settled: PromiseSettledResult<Open>[] = [];
  let started = 0;
  const lane = async (): Promise<void> => {
    while (started < n) {
      started++;
      settled.push(
        await open().then(
          (value) => ({ status: 'fulfilled', value }) as const,
          (reason: unknown) => ({ status: 'rejected', reason }) as const,
        ),
      );
    }
  };
  await Promise.all(Array.from({ length: inFlight > 0 ? Math.min(inFlight, n) : n }, lane));
  return settled;
}

/**
 * A client process: on `open` it opens its share of the sessions, `inFlight` at a time, and
 * reports each one's setup time; on `close` it ends them and reports each `cat`'s exit status.
 */
async function clientChild(): Promise<void> {
  const args = JSON.parse(flagValue('--client-child') ?? '{}') as ClientChildArgs;
  const key = certificateKey(
    await readFile(args.keyFile, 'utf8'),
    await readFile(args.certFile, 'utf8'),
  );
  let opened: Open[] = [];
  process.on('message', (m: { type: string }) => {
    if (m.type === 'open') {
      void openAll(args.sessions, args.inFlight, () =>
        openSession(key, args.port, args.username),
      ).then((settled) => {
        opened = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
        const failures = settled.flatMap((r) =>
          r.status === 'rejected' ? [String((r.reason as Error).message)] : [],
        );
        process.send?.({
          type: 'opened',
          ms: opened.map((o) => o.ms),
          failures,
        } satisfies ChildMsg);
      });
    } else if (m.type === 'close') {
      void Promise.all(opened.map((o) => closeSession(o))).then((codes) => {
        process.send?.({ type: 'closed', codes } satisfies ChildMsg, () => process.exit(0));
      });
    }
  });
}

function forkClients(
  args: Omit<ClientChildArgs, 'sessions'>,
  n: number,
  k: number,
): ChildProcess[] {
  return Array.from({ length: Math.min(k, n) }, (_, i) => {
    const sessions = Math.floor(n / k) + (i < n % k ? 1 : 0);
    return fork(SELF, ['--client-child', JSON.stringify({ ...args, sessions })], {
      execArgv: ['--conditions=neetodeploy-source', '--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
  });
}

/** The distinct failure messages, most frequent first, with their counts. */
function failureSummary(failures: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const f of failures) counts.set(f, (counts.get(f) ?? 0) + 1);
  return [...counts]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([f, c]) => `${c}x "${f}"`)
    .join(', ');
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

function consoleCount(fake: FakeApiServer): number {
  return fake.list('pods', NS).filter((p) => p.metadata?.labels?.[CONSOLE_LABEL] !== undefined)
    .length;
}

/** utime + stime of a process, in seconds (Linux /proc). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

async function measure(child: ChildProcess): Promise<{ rss: number; heapUsed: number }> {
  child.send({ type: 'gc' });
  const m = await nextMessage(child, 'rss');
  return { rss: m.rss, heapUsed: m.heapUsed };
}

interface RoundSetup {
  readonly key: ParsedKey;
  readonly keyFile: string;
  readonly certFile: string;
  readonly port: number;
  readonly bastion: ChildProcess;
  readonly fake: FakeApiServer;
  readonly clients: number;
  readonly inFlight: number;
}

async function round(
  label: string,
  username: string,
  n: number,
  setup: RoundSetup,
): Promise<string> {
  const { bastion, fake } = setup;
  // One session first so lazily loaded code and pools are not counted per session.
  const warm = await openSession(setup.key, setup.port, username);
  await closeSession(warm);
  await new Promise((r) => setTimeout(r, 500));
  const clients = forkClients(
    {
      port: setup.port,
      keyFile: setup.keyFile,
      certFile: setup.certFile,
      username,
      inFlight: setup.inFlight,
    },
    n,
    setup.clients,
  );
  // Let the client processes load before the clock starts.
  await new Promise((r) => setTimeout(r, 3000));
  const before = await measure(bastion);
  const t0 = performance.now();
  const cpuOf = (ps: ChildProcess[]): number =>
    ps.reduce((sum, p) => sum + cpuSeconds(p.pid ?? 0), 0);
  const cpuBastion0 = cpuSeconds(bastion.pid ?? 0);
  const cpuClients0 = cpuOf(clients);
  const cpuSelf0 = process.cpuUsage();
  const replies = clients.map((c) => nextMessage(c, 'opened'));
  for (const c of clients) c.send({ type: 'open' });
  const opened = await Promise.all(replies);
  const wall = performance.now() - t0;
  const cpuBastion = cpuSeconds(bastion.pid ?? 0) - cpuBastion0;
  const cpuClients = cpuOf(clients) - cpuClients0;
  const selfUsage = process.cpuUsage(cpuSelf0);
  const cpuFake = (selfUsage.user + selfUsage.system) / 1e6;
  const lat = opened.flatMap((o) => o.ms).sort((a, b) => a - b);
  const failures = opened.flatMap((o) => o.failures);
  const execs = fake.activeExecs();
  const consoles = consoleCount(fake);
  const after = await measure(bastion);
  const closedReplies = clients.map((c) => nextMessage(c, 'closed'));
  for (const c of clients) c.send({ type: 'close' });
  const codes = (await Promise.all(closedReplies)).flatMap((r) => r.codes);
  const clean = codes.filter((c) => c === 0).length;
  const t1 = Date.now();
  while ((consoleCount(fake) > 0 || fake.activeExecs() > 0) && Date.now() - t1 < 60_000) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const perSession = (after.rss - before.rss) / Math.max(1, lat.length);
  const heapPerSession = (after.heapUsed - before.heapUsed) / Math.max(1, lat.length);
  const line =
    `${label}: ${lat.length}/${n} sessions open (${failures.length} failed${failures.length ? `: ${failureSummary(failures)}` : ''}), ` +
    `all open in ${(wall / 1000).toFixed(1)} s (CPU meanwhile: bastion ${cpuBastion.toFixed(1)} s, ${clients.length} client processes ${cpuClients.toFixed(1)} s, fake API server ${cpuFake.toFixed(1)} s); setup p50 ${pct(lat, 50).toFixed(0)} ms, ` +
    `p99 ${pct(lat, 99).toFixed(0)} ms, max ${(lat.at(-1) ?? NaN).toFixed(0)} ms; ` +
    `fake saw ${execs} execs, ${consoles} console pods; bastion RSS ${(before.rss / 1048576).toFixed(1)} → ` +
    `${(after.rss / 1048576).toFixed(1)} MiB = ${(perSession / 1024).toFixed(0)} KiB/session (JS heap ${(heapPerSession / 1024).toFixed(0)} KiB/session); ` +
    `${clean} exit 0 on close; console pods left after ${((Date.now() - t1) / 1000).toFixed(1)} s: ${consoleCount(fake)}`;
  console.log(line);
  return line;
}

async function main(): Promise<void> {
  const n = argValue('--sessions', 200);
  const tmp = await tempDir('bench-k8s-sessions-');
  const dir = tmp.dir;
  const fake = await startFakeApiServer({ kubelet: { startDelayMs: 50 } });
  let child: ChildProcess | undefined;
  try {
    fake.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    fake.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: DEFAULT_NAMESPACE } });
    fake.loadRbacYaml(
      await chartRbacYaml({
        appNamespaces: [{ name: NS, allowedImagePrefixes: ['registry.example/'] }],
      }),
    );
    const sa = serviceAccountNames().bastion;
    fake.serviceAccountToken(DEFAULT_NAMESPACE, sa);
    const labels = { [APP_LABEL]: APP, [PROCESS_LABEL]: 'web' };
    const podSpec = {
      containers: [
        {
          name: 'web',
          image: 'registry.example/shop:1',
          envFrom: [{ secretRef: { name: `${APP}-config` } }],
        },
      ],
    };
    fake.create({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: `${APP}-config`, namespace: NS, labels: { [APP_LABEL]: APP } },
      data: { GREETING: Buffer.from('hello').toString('base64') },
    });
    fake.create({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: `${APP}-web`, namespace: NS, labels },
      spec: {
        replicas: 1,
        selector: { matchLabels: labels },
        template: { metadata: { labels }, spec: podSpec },
      },
    });
    fake.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: `${APP}-web-7c9d4-a1b2c`, namespace: NS, labels },
      spec: podSpec,
    });

    const userCa = await makeKey(dir, 'user_ca');
    const hostKey = await makeKey(dir, 'host');
    const user = await makeKey(dir, 'user');
    const cert = await signCert(userCa, user, {
      keyId: 'bench',
      principals: [APP],
      validity: '-1m:+2h',
    });
    const key = certificateKey(await readFile(user.file, 'utf8'), await readFile(cert, 'utf8'));
    const clients = argValue('--clients', 4);
    const logFile = flagValue('--bastion-log');
    // 0 (`--in-flight 0`): every session at once, where setup latency is mostly queueing.
    const inFlight = Number(flagValue('--in-flight') ?? 4);

    child = fork(
      SELF,
      [
        '--bastion-child',
        JSON.stringify({
          kubeconfig: fake.kubeconfigPath(serviceAccountUsername(DEFAULT_NAMESPACE, sa), NS),
          hostKey: hostKey.file,
          userCa: `${userCa.file}.pub`,
          sessions: n,
          ...(logFile ? { log: logFile } : {}),
        }),
      ],
      {
        execArgv: ['--expose-gc', '--conditions=neetodeploy-source', '--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    const { port } = await nextMessage(child, 'listening');
    const setup: RoundSetup = {
      key,
      keyFile: user.file,
      certFile: cert,
      port,
      bastion: child,
      fake,
      clients,
      inFlight,
    };

    console.log(
      `# ${n} concurrent exec sessions (${clients} client processes, ${inFlight || 'all'} set up at once in each), one bastion (child pid ${child.pid}) → fake API server; ` +
        `node ${process.version}, ${os.cpus().length} CPUs; load before: ${os
          .loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')}`,
    );
    // Each mode in a fresh run gives clean RSS deltas: RSS seldom shrinks after a round.
    const mode = flagValue('--mode');
    if (mode !== 'running-pod') {
      await round('console (one-off pod per session)', APP, n, setup);
    }
    if (mode !== 'console') {
      await round('running-pod (exec into web pod)', `${APP}:web`, n, setup);
    }
    console.log(
      `# load after: ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
    );
  } finally {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.send({ type: 'stop' });
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    await fake.stop();
    await tmp.cleanup();
  }
}

if (process.argv.includes('--bastion-child')) {
  await bastionChild();
} else if (process.argv.includes('--client-child')) {
  await clientChild();
} else {
  await main();
}
