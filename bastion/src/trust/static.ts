import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import * as z from 'zod';
import type { BastionConfig } from '../config.js';
import { EVENTS } from '../events.js';
import { buildSnapshot, parseKeyLines } from './snapshot.js';
import type { TrustSnapshot, TrustStore } from './types.js';

const notBeforeSchema = z.record(z.string(), z.number());

/** Trust from files on disk (a mounted ConfigMap), re-read periodically. */
export function createStaticTrustStore(
  config: NonNullable<BastionConfig['trust']['static']>,
  logger: Logger,
  now: () => Date,
): TrustStore {
  let snapshot: TrustSnapshot | undefined;
  const listeners: ((s: TrustSnapshot) => void)[] = [];
  let timer: NodeJS.Timeout | undefined;
  let lastFingerprint = '';

  async function load(): Promise<void> {
    try {
      const caTexts = await Promise.all(config.userCaKeyFiles.map((f) => readFile(f, 'utf8')));
      const krl = config.krlFile ? await readFile(config.krlFile) : undefined;
      const nbText = config.notBeforeFile ? await readFile(config.notBeforeFile, 'utf8') : '{}';
      const fingerprint = JSON.stringify([caTexts, krl?.toString('base64'), nbText]);
      if (fingerprint === lastFingerprint && snapshot) return;
      snapshot = buildSnapshot({
        userCAs: caTexts.flatMap(parseKeyLines),
        krl,
        notBefore: notBeforeSchema.parse(JSON.parse(nbText)),
        source: ['static', ...config.userCaKeyFiles].join(' '),
        now: now(),
      });
      lastFingerprint = fingerprint;
      for (const listener of listeners) listener(snapshot);
      logger.info(
        { event: EVENTS.trustLoaded, userCAs: snapshot.userCAs.length, krl: Boolean(krl) },
        'trust loaded from files',
      );
    } catch (err) {
      logger.error(
        {
          event: EVENTS.trustLoadFailed,
          err: (err as Error).message,
          hasPrevious: Boolean(snapshot),
        },
        'cannot load trust files',
      );
    }
  }

  return {
    async start() {
      await load();
      timer = setInterval(() => void load(), config.reloadIntervalMs);
      timer.unref();
    },
    current: () => snapshot,
    onChange: (listener) => void listeners.push(listener),
    stop() {
      if (timer) clearInterval(timer);
    },
  };
}
