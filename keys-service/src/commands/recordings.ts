/**
 * `neetodeploy-keys recordings verify ID`: checks a recorded session against the recording key
 * (signature, chunk count, hash chain) and prints what it found. Finds the store like the other
 * admin commands (`--config FILE` or `--data-dir DIR`); the key from `--key`, else the config's
 * `recording.publicKeyFile`, else the data dir's `ca/recording_key`.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { createRecordingStore, verifyRecording } from '@neetodeploy/recording';
import type { RecordingManifest, VerifyResult } from '@neetodeploy/recording';
import { recordingStoreConfig } from '../http/api/sessions-config.js';
import { resolveConfig } from './context.js';
import type { StoreLocation } from './context.js';
import type { CommandDeps, Io } from './deps.js';
import { AdminError, CheckFailed } from './errors.js';

/** Where the all-in-one keeps the recording key: beside the CA keys, outside `recordings/`. */
export const DEFAULT_RECORDING_KEY_FILE = path.join('ca', 'recording_key');

export interface RecordingsVerifyOptions extends StoreLocation {
  /** The recording key (PEM: its public half, or the private key). */
  readonly key?: string;
  readonly json?: boolean;
}

function summary(m: RecordingManifest): string {
  const exit = m.exitSignal !== null ? `signal ${m.exitSignal}` : `exit ${m.exitCode ?? '?'}`;
  const dropped = m.droppedBytes.i + m.droppedBytes.o + m.droppedBytes.e;
  return [
    `session: ${m.id}`,
    `user: ${m.session.user} (key id ${m.session.keyId}, serial ${m.session.certSerial})`,
    `app: ${m.session.app}${m.session.pod ? ` in ${m.session.pod}` : ''}`,
    `command: ${m.session.command ?? '(interactive shell)'}`,
    `time: ${m.startedAt} to ${m.endedAt}, ${exit}`,
    `recorded: ${m.chunkCount} chunks, ${m.storedBytes} bytes (policy ${m.session.policy}${dropped > 0 ? `, ${dropped} bytes past the limit kept as hashes` : ''})`,
    `signed by: ${m.keyId}`,
  ].join('\n');
}

function print(io: Io, id: string, result: VerifyResult, json: boolean): void {
  if (json) {
    const { manifest, ...rest } = result;
    io.stdout.write(`${JSON.stringify({ id, ...rest, ...(manifest ? { manifest } : {}) })}\n`);
  } else if (result.ok) {
    io.stdout.write(`ok\n${summary(result.manifest)}\n`);
  } else {
    io.stdout.write(`refused: ${result.reason}: ${result.message}\n`);
  }
}

export async function runRecordingsVerify(
  id: string,
  options: RecordingsVerifyOptions,
  io: Io,
): Promise<void> {
  const config = resolveConfig(options);
  const keyFile =
    options.key ??
    config.recording.publicKeyFile ??
    path.join(config.dataDir, DEFAULT_RECORDING_KEY_FILE);
  let keyPem: string;
  try {
    keyPem = fs.readFileSync(keyFile, 'utf8');
  } catch (err) {
    throw new AdminError(
      `cannot read the recording key ${keyFile} (${(err as NodeJS.ErrnoException).code ?? 'error'}): pass --key FILE, or set recording.publicKeyFile in the config`,
    );
  }
  const store = createRecordingStore(recordingStoreConfig(config));
  try {
    const result = await verifyRecording(store, id, keyPem);
    print(io, id, result, options.json === true);
    if (!result.ok) throw new CheckFailed(result.reason);
  } finally {
    await store.close();
  }
}

/** Adds `recordings verify`. */
export function registerRecordingsCommands(program: Command, deps: Pick<CommandDeps, 'io'>): void {
  const recordings =
    program.commands.find((c) => c.name() === 'recordings') ??
    program.command('recordings').description('check recorded sessions');
  recordings
    .command('verify')
    .description(
      'check a recorded session: manifest signature, every chunk present, in order and unedited (exit 1 when not)',
    )
    .argument('<id>', 'the session id (as `neetodeploy sessions` and the audit log show it)')
    .option('--config <file>', 'keys-service config file (YAML)')
    .option('--data-dir <dir>', 'data dir of the keys-service (instead of --config)')
    .option('--key <file>', 'the recording key (PEM public key, or the private key)')
    .option('--json', 'machine-readable output')
    .action(async (id: string, options: RecordingsVerifyOptions) => {
      await runRecordingsVerify(id, options, deps.io);
    });
}
