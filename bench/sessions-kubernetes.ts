/**
 * 200 concurrent `exec` sessions through one bastion on the kubernetes platform, over the fake
 * API server (issue 6). Run: `node --import tsx bench/sessions-kubernetes.ts [--sessions N]`.
 *
 * The fake API server (with the chart's rendered RBAC) and the ssh2 clients run in this
 * process; the bastion runs alone in a child process (same `createBastion` + kubernetes
 * platform as its `main.ts`, authenticating as the chart's bastion ServiceAccount) so that its
 * RSS is its own, measured after `gc()`.
 *
 * Two rounds, each opening N sessions at once (ssh2 client, certificate via the CLI's wrapper,
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

function argValue(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

type ChildMsg =
  { type: 'listening'; port: number } | { type: 'rss'; rss: number; heapUsed: number };

/** The bastion's process: builds it like main.ts does, answers `gc` with its memory. */
async function bastionChild(): Promise<void> {
  const { createBastion, parseBastionConfig } = await import('@neetodeploy/bastion');
  const { createKubernetesPlatform } = await import('@neetodeploy/platform');
  const args = JSON.parse(process.argv[process.argv.indexOf('--bastion-child') + 1] ?? '{}') as {
    kubeconfig: string;
    hostKey: string;
    userCa: string;
    sessions: number;
  };
  const logger = pino({ level: 'warn' });
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
      log: { level: 'warn' },
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
    channel.on('data', onData);
    channel.stderr.resume();
    channel.once('close', () => reject(new Error(`session closed before ready: ${out}`)));
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

async function round(
  label: string,
  username: string,
  n: number,
  key: ParsedKey,
  port: number,
  child: ChildProcess,
  fake: FakeApiServer,
): Promise<string> {
  // One session first so lazily loaded code and pools are not counted per session.
  const warm = await openSession(key, port, username);
  await closeSession(warm);
  await new Promise((r) => setTimeout(r, 500));
  const before = await measure(child);
  const t0 = performance.now();
  const cpuChild0 = cpuSeconds(child.pid ?? 0);
  const cpuSelf0 = process.cpuUsage();
  const settled = await Promise.allSettled(
    Array.from({ length: n }, () => openSession(key, port, username)),
  );
  const wall = performance.now() - t0;
  const cpuChild = cpuSeconds(child.pid ?? 0) - cpuChild0;
  const selfUsage = process.cpuUsage(cpuSelf0);
  const cpuSelf = (selfUsage.user + selfUsage.system) / 1e6;
  const opened = settled.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
  const failures = settled.flatMap((s) =>
    s.status === 'rejected' ? [String((s.reason as Error).message)] : [],
  );
  const execs = fake.activeExecs();
  const consoles = consoleCount(fake);
  const after = await measure(child);
  const lat = opened.map((o) => o.ms).sort((a, b) => a - b);
  const codes = await Promise.all(opened.map((o) => closeSession(o)));
  const clean = codes.filter((c) => c === 0).length;
  const t1 = Date.now();
  while ((consoleCount(fake) > 0 || fake.activeExecs() > 0) && Date.now() - t1 < 60_000) {
    await new Promise((r) => setTimeout(r, 100));
  }
  const perSession = (after.rss - before.rss) / Math.max(1, opened.length);
  const heapPerSession = (after.heapUsed - before.heapUsed) / Math.max(1, opened.length);
  const line =
    `${label}: ${opened.length}/${n} sessions open (${failures.length} failed${failures[0] ? `: ${failures[0]}` : ''}), ` +
    `all open in ${(wall / 1000).toFixed(1)} s (CPU meanwhile: bastion ${cpuChild.toFixed(1)} s, clients + fake API server ${cpuSelf.toFixed(1)} s); setup p50 ${pct(lat, 50).toFixed(0)} ms, ` +
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

    child = fork(
      SELF,
      [
        '--bastion-child',
        JSON.stringify({
          kubeconfig: fake.kubeconfigPath(serviceAccountUsername(DEFAULT_NAMESPACE, sa), NS),
          hostKey: hostKey.file,
          userCa: `${userCa.file}.pub`,
          sessions: n,
        }),
      ],
      {
        execArgv: ['--expose-gc', '--conditions=neetodeploy-source', '--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    const { port } = await nextMessage(child, 'listening');

    console.log(
      `# ${n} concurrent exec sessions, one bastion (child pid ${child.pid}) → fake API server; ` +
        `node ${process.version}, ${os.cpus().length} CPUs; load before: ${os
          .loadavg()
          .map((l) => l.toFixed(2))
          .join(' ')}`,
    );
    // Each mode in a fresh run gives clean RSS deltas: RSS seldom shrinks after a round.
    const mode = process.argv[process.argv.indexOf('--mode') + 1];
    if (mode !== 'running-pod') {
      await round('console (one-off pod per session)', APP, n, key, port, child, fake);
    }
    if (mode !== 'console') {
      await round('running-pod (exec into web pod)', `${APP}:web`, n, key, port, child, fake);
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
} else {
  await main();
}
