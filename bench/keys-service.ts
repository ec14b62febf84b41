/**
 * Benchmark: `POST /api/v1/certificates` over HTTPS keep-alive, driven from a second process at
 * concurrency 1, 4 and 16, next to the bare sshcert signing rate measured in this run.
 *
 *   node --conditions=neetodeploy-source --import tsx bench/keys-service.ts \
 *     [--seconds 10] [--sync normal|full] [--only 'c=16'] [--no-pin] [--log-file FILE]
 *
 * (or `npm run build` first and drop the `--conditions` flag to run the built packages).
 * "On one core", literally: the server (this process, all its threads) is pinned to CPU 0 with
 * taskset and the load generator to CPU 1. Each row has two phases of `--seconds` each:
 *
 * 1. latency: the client drives the server; requests/s, p50/p99 and server CPU per request.
 * 2. ratio: the same load, while the server stops every 900 ms for 100 ms to sign certificates
 *    bare (signCertificate in a loop) on the same core. Each serving slice's CPU per request is
 *    paired with the bare slice next to it, so both are measured under the same machine
 *    conditions: on a shared VM the bare loop's speed drifts by 2x within minutes, far more than
 *    the server's. The ratio is the median of the pairs (BENCH_DEBUG=1 prints every pair).
 *
 * Two reference rows: `floor` is a bare node:https server in this process that only parses and
 * signs (the most any Node HTTPS design can reach here), `GET /healthz` the cheapest express
 * endpoint of the keys-service.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import {
  addUser,
  createKeysService,
  mintToken,
  parseKeysServiceConfig,
} from '@neetodeploy/keys-service';
import {
  encodeCertificateText,
  encodePublicKeyText,
  generatePrivateKey,
  parsePublicKeyText,
  signCertificate,
} from '@neetodeploy/sshcert';

interface ClientResult {
  readonly concurrency: number;
  readonly count: number;
  readonly errors: number;
  readonly seconds: number;
  readonly p50: number;
  readonly p99: number;
}

const args = process.argv.slice(2);
const flag = (name: string, fallback: string): string => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] ? args[i + 1]! : fallback;
};

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** The load generator (child process). */
async function runClient(): Promise<void> {
  const url = flag('--url', '');
  const ca = fs.readFileSync(flag('--ca', ''), 'utf8');
  const token = flag('--token', '');
  const concurrency = Number(flag('--concurrency', '1'));
  const seconds = Number(flag('--seconds', '10'));
  const healthz = args.includes('--healthz');
  const publicKey = encodePublicKeyText(generatePrivateKey('ssh-ed25519').publicKey, 'bench');
  const body = healthz
    ? Buffer.alloc(0)
    : Buffer.from(JSON.stringify({ app: 'demo', public_key: publicKey }));
  const expected = healthz ? 200 : 201;
  // One TLS session per connection for the whole run (keep-alive); no handshakes are measured.
  const agent = new https.Agent({ keepAlive: true, maxSockets: concurrency, ca });
  const target = new URL(healthz ? '/healthz' : '/api/v1/certificates', url);

  const once = (): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = https.request(
        target,
        {
          method: healthz ? 'GET' : 'POST',
          agent,
          headers: healthz
            ? {}
            : {
                authorization: `Bearer ${token}`,
                'content-type': 'application/json',
                'content-length': String(body.length),
              },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  // Warm up the connections and the server's JIT.
  await Promise.all(Array.from({ length: concurrency }, () => once()));
  const latencies: number[] = [];
  let errors = 0;
  const deadline = performance.now() + seconds * 1000;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        const status = await once();
        if (status === expected) latencies.push(performance.now() - t0);
        else errors++;
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const result: ClientResult = {
    concurrency,
    count: latencies.length,
    errors,
    seconds: elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

const cpuMicros = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** The ceiling: sshcert's signCertificate alone (ed25519 CA and key). */
function createBareSigner(): (ms: number) => { perSecondWall: number; cpuMicrosEach: number } {
  const ca = generatePrivateKey('ssh-ed25519');
  const subject = generatePrivateKey('ssh-ed25519').publicKey;
  const sign = (): void => {
    signCertificate(
      {
        publicKey: subject,
        certType: 'user',
        keyId: 'bench@example.com:req',
        principals: ['demo'],
        ttlSeconds: 300,
      },
      ca,
    );
  };
  for (let i = 0; i < 2000; i++) sign();
  return (ms) => {
    let n = 0;
    const t0 = performance.now();
    const c0 = cpuMicros();
    const deadline = t0 + ms;
    while (performance.now() < deadline) {
      for (let i = 0; i < 20; i++) sign();
      n += 20;
    }
    return {
      perSecondWall: n / ((performance.now() - t0) / 1000),
      cpuMicrosEach: (cpuMicros() - c0) / n,
    };
  };
}

/**
 * The floor of any design on node:https: the same TLS certificate, the body read and parsed,
 * the client key parsed and a certificate signed with sshcert, answered as JSON. No token, policy,
 * audit, metrics or security headers. What the keys-service adds is the rest of its row.
 */
async function startFloorServer(tls: {
  key: string;
  cert: string;
}): Promise<{ url: string; served: () => number; close: () => Promise<void> }> {
  const ca = generatePrivateKey('ssh-ed25519');
  let served = 0;
  const server = https.createServer(tls, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const { public_key: publicKey } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        public_key: string;
      };
      const cert = signCertificate(
        {
          publicKey: parsePublicKeyText(publicKey),
          certType: 'user',
          keyId: 'bench@example.com:req',
          principals: ['demo'],
          ttlSeconds: 300,
        },
        ca,
      );
      const text = JSON.stringify({ certificate: encodeCertificateText(cert) });
      res.writeHead(201, {
        'Content-Type': 'application/json; charset=utf-8',
        'Content-Length': Buffer.byteLength(text),
      });
      res.end(text);
      served++;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `https://127.0.0.1:${port}`,
    served: () => served,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const CLIENT_CPU = '1';
const SERVER_CPU = '0';

function hasTaskset(): boolean {
  return spawnSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' }).status === 0;
}

function spawnClient(options: {
  url: string;
  ca: string;
  token: string;
  concurrency: number;
  seconds: number;
  healthz?: boolean;
  pinned: boolean;
}): Promise<ClientResult> {
  const self = fileURLToPath(import.meta.url);
  const argv = [
    ...process.execArgv,
    self,
    '--client',
    '--url',
    options.url,
    '--ca',
    options.ca,
    '--token',
    options.token,
    '--concurrency',
    String(options.concurrency),
    '--seconds',
    String(options.seconds),
    ...(options.healthz ? ['--healthz'] : []),
  ];
  const [command, commandArgs] = options.pinned
    ? ['taskset', ['-c', CLIENT_CPU, process.execPath, ...argv]]
    : [process.execPath, argv];
  return new Promise((resolve, reject) => {
    const child = spawn(command, commandArgs, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`client exited with ${code}`));
      else resolve(JSON.parse(out) as ClientResult);
    });
  });
}

const median = (xs: readonly number[]): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted.length === 0 ? NaN : sorted[Math.floor(sorted.length / 2)]!;
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const seconds = Number(flag('--seconds', '10'));
  const pinned = !args.includes('--no-pin') && os.cpus().length >= 2 && hasTaskset();
  if (pinned && process.env.NEETODEPLOY_BENCH_PINNED !== '1') {
    // Re-run this process on CPU 0 so every server thread (GC, checkpoints) shares that core.
    const child = spawnSync(
      'taskset',
      ['-c', SERVER_CPU, process.execPath, ...process.execArgv, ...process.argv.slice(1)],
      { stdio: 'inherit', env: { ...process.env, NEETODEPLOY_BENCH_PINNED: '1' } },
    );
    process.exit(child.status ?? 1);
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keys-bench-'));
  const policyFile = path.join(dir, 'policy.yaml');
  fs.writeFileSync(
    policyFile,
    'rules:\n  - users: [bench@example.com]\n    apps: [demo]\n    permissions: [exec]\n',
  );
  const config = parseKeysServiceConfig({
    dataDir: path.join(dir, 'data'),
    listen: { host: '127.0.0.1', port: 0 },
    policyFile,
    logLevel: 'silent',
    metrics: { enabled: true },
    storage: { synchronous: flag('--sync', 'normal') as 'full' | 'normal' },
  });
  // Logs are off unless --log-file names a file: then the service logs at info, one line per
  // certificate as in production, written synchronously as its default stdout logger does.
  const logFile = flag('--log-file', '');
  const logger = logFile
    ? pino({ level: 'info' }, pino.destination({ dest: logFile, sync: true }))
    : pino({ level: 'silent' });
  const service = createKeysService(config, { logger });
  const bare = createBareSigner();
  let floor: Awaited<ReturnType<typeof startFloorServer>> | undefined;
  try {
    const address = await service.start();
    floor = await startFloorServer({
      key: fs.readFileSync(path.join(config.dataDir, 'tls', 'server.key'), 'utf8'),
      cert: fs.readFileSync(path.join(config.dataDir, 'tls', 'server.crt'), 'utf8'),
    });
    await addUser(service.context.store, { email: 'bench@example.com', groups: [] });
    const { token } = await mintToken(service.context, {
      email: 'bench@example.com',
      clientDescription: 'bench',
    });
    const servedOn = async (route: string): Promise<number> =>
      (await service.context.metrics.requests.get()).values
        .filter((v) => v.labels.route === route)
        .reduce((sum, v) => sum + v.value, 0);

    console.log(
      `node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}, sqlite synchronous=${config.storage.synchronous}, ${
        pinned
          ? `server pinned to CPU ${SERVER_CPU}, client to CPU ${CLIENT_CPU}`
          : 'not pinned (no taskset or one CPU)'
      }`,
    );
    console.log(
      'bare = sshcert signCertificate alone (ed25519 CA and key) on the server core, in 100 ms slices between serving slices.',
    );
    console.log(
      'row                 req/s   p50 ms   p99 ms  errors | server CPU us/req | paired: server us/req  bare us/sign  bare/s  % of bare (min..max)',
    );
    const floorServer = floor;
    const certificates = () => servedOn('/api/v1/certificates');
    const rows = [
      { name: 'certificates c=1', concurrency: 1, healthz: false, served: certificates },
      { name: 'certificates c=4', concurrency: 4, healthz: false, served: certificates },
      { name: 'certificates c=16', concurrency: 16, healthz: false, served: certificates },
      {
        name: 'floor c=16',
        concurrency: 16,
        healthz: false,
        served: () => Promise.resolve(floorServer.served()),
        url: floorServer.url,
      },
      {
        name: 'GET /healthz c=16',
        concurrency: 16,
        healthz: true,
        served: () => servedOn('/healthz'),
      },
    ];
    const only = flag('--only', '');
    for (const row of rows.filter((r) => r.name.includes(only))) {
      const served = row.served;
      const client = {
        url: row.url ?? address.url,
        ca: address.caFile!,
        token,
        concurrency: row.concurrency,
        seconds,
        healthz: row.healthz,
        pinned,
      };
      // Phase 1: latency and throughput, nothing else on the server core.
      const c0 = cpuMicros();
      const n0 = await served();
      const r = await spawnClient(client);
      const cpuPerReq = (cpuMicros() - c0) / ((await served()) - n0);

      // Phase 2: serving slices paired with bare signing slices on the same core.
      const pairs: { serverUs: number; bareUs: number; bareRate: number }[] = [];
      const loaded = spawnClient(client);
      let done = false;
      void loaded.finally(() => (done = true));
      // Slices start once the client's warm-up (process start, TLS handshakes) is over.
      const start = await served();
      while (!done && (await served()) - start < 200) await sleep(50);
      await sleep(200);
      while (!done) {
        const sc0 = cpuMicros();
        const sn0 = await served();
        await sleep(900);
        const count = (await served()) - sn0;
        const serverUs = (cpuMicros() - sc0) / count;
        const b = bare(100);
        if (!done && count > 50) {
          pairs.push({ serverUs, bareUs: b.cpuMicrosEach, bareRate: b.perSecondWall });
        }
      }
      await loaded;
      const ratios = pairs.map((p) => (100 * p.bareUs) / p.serverUs);
      if (process.env.BENCH_DEBUG)
        console.error(
          JSON.stringify(pairs.map((p) => [Math.round(p.serverUs), Math.round(p.bareUs)])),
        );
      console.log(
        [
          row.name.padEnd(17),
          (r.count / r.seconds).toFixed(0).padStart(7),
          r.p50.toFixed(2).padStart(8),
          r.p99.toFixed(2).padStart(8),
          String(r.errors).padStart(7),
          '|',
          cpuPerReq.toFixed(0).padStart(17),
          '|',
          median(pairs.map((p) => p.serverUs))
            .toFixed(0)
            .padStart(21),
          median(pairs.map((p) => p.bareUs))
            .toFixed(0)
            .padStart(13),
          median(pairs.map((p) => p.bareRate))
            .toFixed(0)
            .padStart(7),
          `${median(ratios).toFixed(1)}% (${Math.min(...ratios).toFixed(0)}..${Math.max(...ratios).toFixed(0)})`.padStart(
            21,
          ),
        ].join(' '),
      );
    }
  } finally {
    await floor?.close();
    await service.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (args.includes('--client')) await runClient();
else await main();
