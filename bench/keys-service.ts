/**
 * Benchmark: `POST /api/v1/certificates` over HTTPS keep-alive, driven from a second process for
 * 10 s at concurrency 1, 4 and 16, next to the bare sshcert signing rate measured in this run.
 *
 *   node --conditions=neetodeploy-source --import tsx bench/keys-service.ts \
 *     [--seconds 10] [--sync normal|full]
 *
 * (or `npm run build` first and drop the `--conditions` flag to run the built packages).
 * The server runs in this process (one event loop, i.e. one core); the load generator is a
 * child process. Prints certificates/s, p50/p99 latency and the ratio to the bare rate, and,
 * as the floor of any express-over-HTTPS endpoint, the same figures for `GET /healthz`.
 */
import { spawn } from 'node:child_process';
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
import { encodePublicKeyText, generatePrivateKey, signCertificate } from '@neetodeploy/sshcert';

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

/**
 * Certificates per second that signCertificate alone reaches in this process: by wall clock,
 * and by this process's CPU time (steadier when other work shares the machine).
 */
function bareSigningRate(seconds: number): { wall: number; cpu: number } {
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
  for (let i = 0; i < 500; i++) sign();
  let n = 0;
  const deadline = performance.now() + seconds * 1000;
  const t0 = performance.now();
  const c0 = cpuMicros();
  while (performance.now() < deadline) {
    for (let i = 0; i < 50; i++) sign();
    n += 50;
  }
  return { wall: n / ((performance.now() - t0) / 1000), cpu: n / ((cpuMicros() - c0) / 1e6) };
}

function spawnClient(options: {
  url: string;
  ca: string;
  token: string;
  concurrency: number;
  seconds: number;
  healthz?: boolean;
}): Promise<ClientResult> {
  const self = fileURLToPath(import.meta.url);
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
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
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`client exited with ${code}`));
      else resolve(JSON.parse(out) as ClientResult);
    });
  });
}

async function main(): Promise<void> {
  const seconds = Number(flag('--seconds', '10'));
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
  const service = createKeysService(config, { logger: pino({ level: 'silent' }) });
  try {
    const address = await service.start();
    await addUser(service.context.store, { email: 'bench@example.com', groups: [] });
    const { token } = await mintToken(service.context, {
      email: 'bench@example.com',
      clientDescription: 'bench',
    });

    console.log(
      `node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), load ${os
        .loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')}, sqlite synchronous=${config.storage.synchronous}`,
    );
    console.log(
      'The bare rate is sshcert signCertificate alone (ed25519 CA and key), measured right before each row.',
    );
    console.log(
      'row                 req/s   p50 ms   p99 ms  errors  bare/s  % of bare | server CPU us/req  bare CPU us  % of bare (CPU)',
    );
    const rows = [
      { name: 'certificates c=1', concurrency: 1, healthz: false },
      { name: 'certificates c=4', concurrency: 4, healthz: false },
      { name: 'certificates c=16', concurrency: 16, healthz: false },
      { name: 'GET /healthz c=16', concurrency: 16, healthz: true },
    ];
    for (const row of rows) {
      // The machine's load changes from minute to minute: the ceiling is measured next to each row.
      const bare = bareSigningRate(Math.min(2, seconds));
      const c0 = cpuMicros();
      const r = await spawnClient({
        url: address.url,
        ca: address.caFile!,
        token,
        concurrency: row.concurrency,
        seconds,
        healthz: row.healthz,
      });
      // Server CPU per request: this process did nothing else meanwhile (warm-up included).
      const cpuPerReq = (cpuMicros() - c0) / (r.count + r.errors + row.concurrency);
      const rate = r.count / r.seconds;
      const bareCpuUs = 1e6 / bare.cpu;
      console.log(
        [
          row.name.padEnd(17),
          rate.toFixed(0).padStart(7),
          r.p50.toFixed(2).padStart(8),
          r.p99.toFixed(2).padStart(8),
          String(r.errors).padStart(7),
          bare.wall.toFixed(0).padStart(7),
          `${((100 * rate) / bare.wall).toFixed(1)}%`.padStart(10),
          '|',
          cpuPerReq.toFixed(0).padStart(17),
          bareCpuUs.toFixed(0).padStart(12),
          `${((100 * bareCpuUs) / cpuPerReq).toFixed(1)}%`.padStart(16),
        ].join(' '),
      );
    }
  } finally {
    await service.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (args.includes('--client')) await runClient();
else await main();
