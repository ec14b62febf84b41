/**
 * Where session recordings live: the bastion writes there, the keys-service reads there, so both
 * parse the same `store` block with the same defaults (`@neetodeploy/recording` opens it).
 */
import * as z from 'zod';

export const recordingStoreConfigSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('file'),
    /** Recordings as files below this folder (the all-in-one: `<data dir>/recordings`). */
    dir: z.string().min(1),
  }),
  z.strictObject({
    kind: z.literal('s3'),
    /** An S3-compatible endpoint (`https://minio.example:9000`); omit for AWS S3. */
    endpoint: z.url().optional(),
    region: z.string().min(1).default('us-east-1'),
    bucket: z.string().min(1),
    /** Prepended to every object key. */
    prefix: z.string().default('recordings/'),
    /** Omit to use the SDK's default chain (env, web identity, instance role). */
    credentials: z
      .strictObject({ accessKeyId: z.string().min(1), secretAccessKey: z.string().min(1) })
      .optional(),
    /** S3-compatible servers (MinIO) need path-style URLs. */
    forcePathStyle: z.boolean().default(true),
    requestTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
  }),
]);

export type RecordingStoreConfig = z.output<typeof recordingStoreConfigSchema>;
