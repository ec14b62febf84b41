/**
 * Helpers of the recording suites: a recording key (in memory or on disk), a session's info,
 * and waiting for a recording.
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseRecordingKey, readRecordingText } from '@neetodeploy/recording';
import type {
  RecordingHeader,
  RecordingKey,
  RecordingManifest,
  RecordingStore,
  SessionInfo,
} from '@neetodeploy/recording';

/** A fresh Ed25519 recording key, in memory. */
export const newRecordingKey = (): RecordingKey =>
  parseRecordingKey(
    generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  );

/** Alice's direct `printf hi` on demo, recorded in full; `over` changes any field. */
export const sessionInfo = (id: string, over: Partial<SessionInfo> = {}): SessionInfo => ({
  sessionId: id,
  app: 'demo',
  user: 'alice@example.com',
  keyId: 'alice@example.com/req-1',
  certSerial: '42',
  clientAddress: '127.0.0.1:50000',
  via: 'direct',
  command: 'printf hi',
  pty: false,
  policy: 'full',
  ...over,
});

/** Writes a fresh Ed25519 recording key (PEM) into `dir`; returns its path. */
export function writeRecordingKey(dir: string, name = 'recording-key.pem'): string {
  const file = path.join(dir, name);
  const { privateKey } = generateKeyPairSync('ed25519');
  writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  return file;
}

/**
 * Waits until a recording of `app` that is not in `seen` has its manifest (recordings finish
 * just after the session), and returns it.
 */
export async function nextRecording(
  store: RecordingStore,
  app: string,
  seen: Set<string>,
  timeoutMs = 10_000,
): Promise<RecordingManifest> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const fresh = (await store.listManifests({ app })).find((m) => !seen.has(m.id));
    if (fresh) {
      seen.add(fresh.id);
      return fresh;
    }
    if (Date.now() > deadline) throw new Error(`no new recording of ${app} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export type Event = [number, string, string];

/** The recording's header and events, parsed from its asciicast v3 text. */
export async function replay(
  store: RecordingStore,
  id: string,
): Promise<{ header: RecordingHeader; events: Event[]; text: string }> {
  const text = await readRecordingText(store, id);
  const [first, ...rest] = text.trimEnd().split('\n');
  return {
    header: JSON.parse(first!) as RecordingHeader,
    events: rest.map((l) => JSON.parse(l) as Event),
    text,
  };
}

/** The data of every event with `code`, joined. */
export function streamOf(events: readonly Event[], code: string): string {
  return events
    .filter((e) => e[1] === code)
    .map((e) => e[2])
    .join('');
}
