/**
 * Where the keys-service reads session recordings from: the same `store` block, with the same
 * defaults, as the bastion's `recording.store` (a directory or an S3 bucket), plus the
 * public half of the recording key to mark listed sessions as verified. Part of the
 * keys-service config as `recording`.
 */
import path from 'node:path';
import * as z from 'zod';
import { recordingStoreConfigSchema } from '@neetodeploy/contract';
import type { StoreConfig } from '@neetodeploy/recording';

export const recordingConfigSchema = z
  .object({
    /** Default: files under `<dataDir>/recordings` (the all-in-one's bastion writes there). */
    store: recordingStoreConfigSchema.optional(),
    /**
     * The recording key's public half (PEM; a private key file works too, only its public half
     * is used). Absent: sessions are listed with `verified: null`.
     */
    publicKeyFile: z.string().min(1).optional(),
  })
  .strict()
  .default({});

export type RecordingConfig = z.output<typeof recordingConfigSchema>;

/** The folder of the default file store inside the data dir. */
export const DEFAULT_RECORDINGS_DIR = 'recordings';

/** The store the config names, with relative paths resolved against `baseDir`. */
export function resolveRecordingConfig(
  config: RecordingConfig,
  abs: (p: string) => string,
): RecordingConfig {
  const store =
    config.store?.kind === 'file' ? { ...config.store, dir: abs(config.store.dir) } : config.store;
  return {
    ...(store !== undefined ? { store } : {}),
    ...(config.publicKeyFile !== undefined ? { publicKeyFile: abs(config.publicKeyFile) } : {}),
  };
}

/** The store to open: the configured one, or the data dir's. */
export function recordingStoreConfig(config: {
  readonly dataDir: string;
  readonly recording: RecordingConfig;
}): StoreConfig {
  return (
    config.recording.store ?? {
      kind: 'file',
      dir: path.join(config.dataDir, DEFAULT_RECORDINGS_DIR),
    }
  );
}
