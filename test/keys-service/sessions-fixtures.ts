/**
 * Recordings for the session tests, written by the recording library's own recorder (what the
 * bastion uses) into a store directory, signed with a key made here.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { FileRecordingStore, parseRecordingKey, startRecording } from '@neetodeploy/recording';
import type {
  RecordedExit,
  RecordingKey,
  RecordingManifest,
  RecordingPolicy,
  RecordingStore,
} from '@neetodeploy/recording';
import { ALICE, BOB } from '../support/keys-service.js';

export { ALICE, BOB };

/** Alice may read sessions of demo and other; Bob may exec and read logs on demo, no more. */
export const SESSIONS_POLICY = `
rules:
  - users: [${ALICE}]
    apps: [demo, other]
    permissions: [exec, logs, sessions:read]
  - users: [${BOB}]
    apps: [demo]
    permissions: [exec, logs]
`;

export interface RecordingKeyFiles {
  readonly key: RecordingKey;
  readonly dir: string;
  /** PEM of the public half (what the keys-service is given). */
  readonly publicKeyFile: string;
}

export function makeRecordingKey(): RecordingKeyFiles {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nd-reckey-'));
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const key = parseRecordingKey(privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
  const publicKeyFile = path.join(dir, 'recording.pub.pem');
  fs.writeFileSync(publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }));
  return { key, dir, publicKeyFile };
}

/** One step of a recorded session: a stream's bytes, a resize, or a pause. */
export type Step =
  | { readonly out: string }
  | { readonly err: string }
  | { readonly in: string }
  | { readonly resize: readonly [number, number] }
  | { readonly pauseMs: number };

export interface RecordOptions {
  readonly app?: string;
  readonly user?: string;
  readonly command?: string | null;
  readonly steps: readonly Step[];
  readonly exit?: RecordedExit;
  readonly policy?: RecordingPolicy;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Records one session into a store (a directory's, or the one given) in real time (pauses are
 * real) and returns its manifest.
 */
export async function recordSession(
  where: string | RecordingStore,
  key: RecordingKey,
  options: RecordOptions,
): Promise<RecordingManifest> {
  const store = typeof where === 'string' ? new FileRecordingStore(where) : where;
  const id = randomUUID();
  const recorder = await startRecording(
    {
      info: {
        sessionId: id,
        app: options.app ?? 'demo',
        pod: 'demo-console-1',
        user: options.user ?? ALICE,
        keyId: `${options.user ?? ALICE}/req-1`,
        certSerial: '7',
        clientAddress: '127.0.0.1:40000',
        via: 'direct',
        command: options.command === undefined ? 'printf hello' : options.command,
        pty: false,
        policy: options.policy ?? 'full',
      },
      term: { cols: 80, rows: 24 },
    },
    {
      store,
      key,
      now: () => new Date(),
      config: {
        mode: 'best-effort',
        maxSessionBytes: 1 << 20,
        chunkBytes: 256,
        flushIntervalMs: 50,
        spoolBytes: 1 << 22,
      },
    },
  );
  for (const step of options.steps) {
    if ('out' in step) recorder.output(Buffer.from(step.out));
    else if ('err' in step) recorder.stderr(Buffer.from(step.err));
    else if ('in' in step) recorder.input(Buffer.from(step.in));
    else if ('resize' in step) recorder.resize(step.resize[0], step.resize[1]);
    else await sleep(step.pauseMs);
  }
  const manifest = await recorder.finish(options.exit ?? { code: 0 });
  if (!manifest) throw new Error('the recorder did not finish');
  return manifest;
}

/** Flips one byte of the last line of chunk 0 of recording `id` (an edit `verify` must catch). */
export function tamperWithChunk(dir: string, id: string): void {
  const chunk = path.join(dir, 'sessions', id, 'chunks', '00000000.chunk');
  const bytes = fs.readFileSync(chunk);
  const at = bytes.length - 3;
  bytes[at] = (bytes[at] ?? 0) ^ 0x01;
  fs.writeFileSync(chunk, bytes);
}
