import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import * as z from 'zod';
import { parsePublicKeyText } from '@neetodeploy/sshcert';
import type { BastionConfig } from '../config.js';
import { EVENTS } from '../events.js';
import { buildSnapshot } from './snapshot.js';
import type { TrustSnapshot, TrustStore } from './types.js';

/** `GET /api/v1/ca` as docs/identity.md defines it. */
const caResponseSchema = z.object({
  user_ca_keys: z.array(z.string()).min(1),
  host_ca_key: z.string().nullable().optional(),
  krl: z.string().nullable(),
  // Deprecated plain e-mail keys (older keys-services); `not_before_sha256` is what is sent now.
  not_before: z.record(z.string(), z.number()).default({}),
  not_before_sha256: z.record(z.string(), z.number()).default({}),
  generated_at: z.string().optional(),
});

interface HttpResult {
  status: number;
  etag?: string;
  body: string;
}

const MAX_BODY = 16 * 1024 * 1024;

function get(
  url: URL,
  headers: Record<string, string>,
  timeoutMs: number,
  ca?: Buffer,
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const mod = url.protocol === 'https:' ? https : http;
    const req = mod.request(url, { method: 'GET', headers, timeout: timeoutMs, ca }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) req.destroy(new Error('response too large'));
        else chunks.push(c);
      });
      res.on('end', () => {
        const etag = res.headers.etag;
        resolve({
          status: res.statusCode ?? 0,
          etag,
          body: Buffer.concat(chunks).toString('utf8'),
        });
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** Trust polled from the keys-service with ETag; keeps the last good snapshot on failure. */
export function createPollingTrustStore(
  config: NonNullable<BastionConfig['trust']['keysService']>,
  logger: Logger,
  now: () => Date,
): TrustStore {
  const url = new URL('api/v1/ca', config.url.endsWith('/') ? config.url : `${config.url}/`);
  let snapshot: TrustSnapshot | undefined;
  const listeners: ((s: TrustSnapshot) => void)[] = [];
  let etag: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let ca: Buffer | undefined;
  let stopped = false;

  async function poll(): Promise<void> {
    try {
      if (config.caFile && !ca) ca = await readFile(config.caFile);
      const headers: Record<string, string> = { accept: 'application/json' };
      if (etag && snapshot) headers['if-none-match'] = etag;
      const res = await get(url, headers, config.timeoutMs, ca);
      if (res.status === 304) return;
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
      const body = caResponseSchema.parse(JSON.parse(res.body));
      snapshot = buildSnapshot({
        userCAs: body.user_ca_keys.map((k) => parsePublicKeyText(k)),
        hostCA: body.host_ca_key ? parsePublicKeyText(body.host_ca_key) : undefined,
        krl: body.krl ? Buffer.from(body.krl, 'base64') : null,
        notBefore: body.not_before,
        notBeforeSha256: body.not_before_sha256,
        source: `${url.href} etag=${res.etag ?? '-'}`,
        now: now(),
      });
      etag = res.etag;
      for (const listener of listeners) listener(snapshot);
      logger.info(
        {
          event: EVENTS.trustLoaded,
          userCAs: snapshot.userCAs.length,
          krl: Boolean(body.krl),
          etag,
        },
        'trust loaded from keys-service',
      );
    } catch (err) {
      logger.error(
        {
          event: EVENTS.trustLoadFailed,
          url: url.href,
          err: (err as Error).message,
          hasPrevious: Boolean(snapshot),
        },
        'cannot load trust from keys-service',
      );
    }
  }

  const schedule = (): void => {
    if (stopped) return;
    timer = setTimeout(() => {
      void poll().finally(schedule);
    }, config.pollIntervalMs);
    timer.unref();
  };

  return {
    async start() {
      stopped = false;
      await poll();
      schedule();
    },
    current: () => snapshot,
    onChange: (listener) => void listeners.push(listener),
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
    },
  };
}
