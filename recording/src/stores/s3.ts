/**
 * Recordings in S3-compatible object storage (AWS S3, MinIO, s3rver, ...), through
 * `@aws-sdk/client-s3` with path-style URLs by default. Object keys follow the layout in
 * `types.ts`, below the configured prefix.
 */
import {
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { ListObjectsV2CommandOutput } from '@aws-sdk/client-s3';
import {
  assertRecordingId,
  chunkKey,
  chunkSeqOf,
  chunksPrefix,
  indexKey,
  indexPrefix,
  indexTimeOf,
  manifestKey,
} from '../layout.js';
import { parseManifest } from '../manifest.js';
import { RecordingError } from '../types.js';
import type { ManifestQuery, RecordingManifest, RecordingStore, StoreConfig } from '../types.js';
import { readIndexedManifests, sinceKeyTime } from './query.js';

type S3Config = Extract<StoreConfig, { kind: 's3' }>;

function storeError(op: string, err: unknown): RecordingError {
  return new RecordingError(
    'store',
    `recording store (s3): ${op}: ${(err as Error).name}: ${(err as Error).message}`,
    'the session recording could not be written: tell your administrator (the recording store is unavailable)',
    { cause: err },
  );
}

const isMissing = (err: unknown): boolean => {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
};

export class S3RecordingStore implements RecordingStore {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;

  constructor(config: S3Config) {
    this.bucket = config.bucket;
    this.prefix = config.prefix;
    this.client = new S3Client({
      region: config.region,
      endpoint: config.endpoint,
      forcePathStyle: config.forcePathStyle ?? true,
      // Copied: the SDK writes into the object it is given.
      credentials: config.credentials && { ...config.credentials },
      maxAttempts: 2,
      // Without throwOnRequestTimeout the SDK only logs a timed-out request and waits on.
      requestHandler: {
        requestTimeout: config.requestTimeoutMs ?? 10_000,
        throwOnRequestTimeout: true,
      },
    });
  }

  private async put(key: string, body: Buffer | string, contentType: string): Promise<void> {
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: this.prefix + key,
          Body: body,
          ContentType: contentType,
        }),
      );
    } catch (err) {
      throw storeError(`put ${key}`, err);
    }
  }

  private async get(key: string): Promise<Buffer | undefined> {
    try {
      const out = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }),
      );
      if (!out.Body) return Buffer.alloc(0);
      return Buffer.from(await out.Body.transformToByteArray());
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw storeError(`get ${key}`, err);
    }
  }

  /** Every key below `prefix` (after `startAfter`), relative to the store's prefix. */
  private async keys(prefix: string, startAfter?: string): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.prefix + prefix,
            StartAfter: startAfter === undefined ? undefined : this.prefix + startAfter,
            ContinuationToken: token,
          }),
        );
      } catch (err) {
        throw storeError(`list ${prefix}`, err);
      }
      for (const o of page.Contents ?? []) {
        if (o.Key !== undefined) out.push(o.Key.slice(this.prefix.length));
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return out;
  }

  async putChunk(id: string, seq: number, data: Buffer): Promise<void> {
    assertRecordingId(id);
    await this.put(chunkKey(id, seq), data, 'application/octet-stream');
  }

  async putManifest(manifest: RecordingManifest): Promise<void> {
    assertRecordingId(manifest.id);
    const text = `${JSON.stringify(manifest)}\n`;
    await this.put(manifestKey(manifest.id), text, 'application/json');
    const index = indexKey(manifest.session.app, manifest.startedAt, manifest.id);
    await this.put(index, text, 'application/json');
  }

  async getManifest(id: string): Promise<RecordingManifest | undefined> {
    assertRecordingId(id);
    const data = await this.get(manifestKey(id));
    return data && parseManifest(data.toString('utf8'), id);
  }

  async listManifests(query: ManifestQuery): Promise<RecordingManifest[]> {
    const since = sinceKeyTime(query.since);
    const prefix = indexPrefix(query.app);
    const startAfter = query.app !== undefined && since !== undefined ? prefix + since : undefined;
    const entries = (await this.keys(prefix, startAfter))
      .map((key) => ({ key, time: indexTimeOf(key) }))
      .filter((e): e is { key: string; time: string } => e.time !== undefined)
      .filter((e) => since === undefined || e.time >= since);
    return readIndexedManifests(entries, query, (key) => this.get(key));
  }

  async listChunks(id: string): Promise<number[]> {
    assertRecordingId(id);
    return (await this.keys(chunksPrefix(id)))
      .map(chunkSeqOf)
      .filter((s): s is number => s !== undefined)
      .sort((a, b) => a - b);
  }

  async getChunk(id: string, seq: number): Promise<Buffer | undefined> {
    assertRecordingId(id);
    return this.get(chunkKey(id, seq));
  }

  close(): Promise<void> {
    this.client.destroy();
    return Promise.resolve();
  }
}
