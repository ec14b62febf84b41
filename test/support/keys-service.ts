/**
 * Test harness for the keys-service: a real instance on 127.0.0.1 port 0 over HTTPS with its
 * generated CA trusted, a temp data dir, a policy file and a user, and a small HTTPS client.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import type { Logger } from 'pino';
import {
  addUserForTests,
  createKeysService,
  ensureLocalTls,
  mintToken,
  parseKeysServiceConfig,
} from './keys-service-internals.js';
import type {
  KeysService,
  KeysServiceAddress,
  KeysServiceConfigInput,
  KeysServiceDeps,
} from './keys-service-internals.js';

export const ALICE = 'alice@example.com';
export const ALICE_PASSWORD = 'correct horse battery';
export const BOB = 'bob@example.com';

export const DEFAULT_POLICY = `
groups:
  ops: [${BOB}]
rules:
  - users: [${ALICE}]
    apps: [demo, "shop-*"]
    permissions: [exec, logs, config:read]
  - groups: [ops]
    apps: ["*"]
    permissions: [exec, port-forward]
  - users: [${ALICE}]
    apps: [pinned]
    permissions: [exec]
    sourceAddress: 10.1.0.0/16
`;

export interface HttpResult {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly text: string;
  /** Parsed JSON, or undefined when the body is not JSON. Loosely typed: tests probe it. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly json: any;
}

export interface RequestOptions {
  readonly method?: string;
  readonly token?: string;
  readonly body?: unknown;
  /** Sent as is (malformed JSON, form bodies). */
  readonly rawBody?: string | Buffer;
  readonly headers?: Record<string, string>;
}

/** A response body as JSON, or undefined when it is empty or not JSON (tests probe both). */
export function jsonOrUndefined(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

export class HttpsClient {
  private readonly agent: https.Agent;

  constructor(
    readonly baseUrl: string,
    ca: string,
  ) {
    this.agent = new https.Agent({ ca, keepAlive: false });
  }

  request(urlPath: string, options: RequestOptions = {}): Promise<HttpResult> {
    const url = new URL(urlPath, this.baseUrl);
    const headers: Record<string, string> = { ...options.headers };
    let body: Buffer | undefined;
    if (options.rawBody !== undefined) body = Buffer.from(options.rawBody);
    else if (options.body !== undefined) {
      body = Buffer.from(JSON.stringify(options.body));
      headers['content-type'] ??= 'application/json';
    }
    if (body) headers['content-length'] = String(body.length);
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    return new Promise((resolve, reject) => {
      const req = https.request(
        url,
        { method: options.method ?? (body ? 'POST' : 'GET'), headers, agent: this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              text,
              json: jsonOrUndefined(text),
            });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

export interface TestKeysService {
  readonly service: KeysService;
  readonly address: KeysServiceAddress;
  readonly client: HttpsClient;
  readonly dataDir: string;
  readonly policyFile: string;
  readonly ca: string;
  /** Mints a token for a user directly in the store. */
  token(email: string, ttlSeconds?: number): Promise<string>;
  /** The Prometheus text of the metrics listener (its own port, not the API's). */
  scrapeMetrics(): Promise<string>;
  /** Stops the service (keeps the data dir). */
  stop(): Promise<void>;
  /** Stops and removes the data dir. */
  dispose(): Promise<void>;
}

export interface StartOptions {
  readonly config?: Partial<KeysServiceConfigInput>;
  readonly deps?: KeysServiceDeps;
  readonly policy?: string;
  /** Reuse a data dir (restart tests). */
  readonly dataDir?: string;
  readonly users?: boolean;
  /** Copy shared TLS material into a fresh data dir instead of generating it (default true). */
  readonly seedTls?: boolean;
}

export function quietLogger(): Logger {
  return pino({ level: process.env.KEYS_TEST_LOG ?? 'silent' });
}

let tlsTemplate: string | undefined;

/**
 * TLS material made once per test process and copied into each fresh data dir: two RSA key
 * generations per start would dominate the suite's time on a busy machine. (First-start
 * generation itself is covered by the tests that pass their own data dir.)
 */
function seedTls(dataDir: string): void {
  if (!tlsTemplate) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keys-tls-template-'));
    ensureLocalTls(dir);
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
    tlsTemplate = dir;
  }
  fs.cpSync(path.join(tlsTemplate, 'tls'), path.join(dataDir, 'tls'), { recursive: true });
}

export async function startKeysService(options: StartOptions = {}): Promise<TestKeysService> {
  const fresh = options.dataDir === undefined;
  const dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'keys-test-'));
  if (fresh && options.seedTls !== false) seedTls(dataDir);
  const policyFile = path.join(dataDir, 'policy.yaml');
  if (!fs.existsSync(policyFile) || options.policy !== undefined) {
    fs.writeFileSync(policyFile, options.policy ?? DEFAULT_POLICY);
  }
  const config = parseKeysServiceConfig({
    dataDir,
    listen: { host: '127.0.0.1', port: 0 },
    policyFile,
    policyReloadDebounceMs: 50,
    logLevel: 'silent',
    metrics: { host: '127.0.0.1', port: 0 },
    ...options.config,
  });
  const service = createKeysService(config, { logger: quietLogger(), ...options.deps });
  const address = await service.start();
  if (options.users !== false && options.dataDir === undefined) {
    await addUserForTests(service.context.store, {
      email: ALICE,
      groups: ['dev'],
      password: ALICE_PASSWORD,
    });
    await addUserForTests(service.context.store, {
      email: BOB,
      groups: [],
      password: 'bob password 1',
    });
  }
  const caFile = address.caFile ?? path.join(dataDir, 'tls', 'ca.crt');
  // With a given certificate (tls.mode files) the caller brings its own trust.
  const ca = fs.existsSync(caFile) ? fs.readFileSync(caFile, 'utf8') : '';
  const client = new HttpsClient(address.url, ca);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    client.close();
    await service.stop();
  };
  return {
    service,
    address,
    client,
    dataDir,
    policyFile,
    ca,
    async token(email, ttlSeconds) {
      const minted = await mintToken(service.context, {
        email,
        clientDescription: 'test',
        ...(ttlSeconds ? { ttlSeconds } : {}),
      });
      return minted.token;
    },
    async scrapeMetrics() {
      if (!address.metricsUrl) throw new Error('this keys-service serves no metrics');
      const res = await fetch(address.metricsUrl);
      assert.equal(res.status, 200, 'metrics listener answers');
      return res.text();
    },
    stop,
    async dispose() {
      await stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** The value of one sample in Prometheus text with exactly these labels, 0 when absent. */
export function metricSample(
  metrics: string,
  name: string,
  labels: Record<string, string> = {},
): number {
  for (const line of metrics.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const found = new Map<string, string>();
    for (const pair of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      found.set(pair[1]!, pair[2]!);
    }
    const wanted = Object.entries(labels);
    if (found.size === wanted.length && wanted.every(([k, v]) => found.get(k) === v)) {
      return Number(m[3]);
    }
  }
  return 0;
}
