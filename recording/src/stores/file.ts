/**
 * Recordings as files under a directory (the all-in-one's data dir). Writes go to a temporary
 * name then rename, so a reader never sees half a chunk or half a manifest.
 */
import { mkdir, readFile, readdir, rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
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
import type { ManifestQuery, RecordingManifest, RecordingStore } from '../types.js';
import { readIndexedManifests, sinceKeyTime } from './query.js';

function storeError(op: string, err: unknown): RecordingError {
  return new RecordingError(
    'store',
    `recording store (files): ${op}: ${(err as Error).message}`,
    'the session recording could not be written: tell your administrator (the recordings directory is not writable)',
    { cause: err },
  );
}

const isMissing = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'ENOENT';

export class FileRecordingStore implements RecordingStore {
  /** Folders made already: one mkdir per recording, not one per chunk. */
  private readonly made = new Set<string>();

  constructor(readonly dir: string) {}

  private path(key: string): string {
    return join(this.dir, ...key.split('/'));
  }

  private async write(key: string, data: Buffer | string): Promise<void> {
    const file = this.path(key);
    try {
      await this.writeIn(dirname(file), file, data);
    } catch (err) {
      throw storeError(`write ${key}`, err);
    }
  }

  /**
   * Writes `file` by way of a temporary name. A folder made earlier may have been removed since
   * (an operator pruning old recordings): then it is made again, once, instead of failing every
   * later write into it.
   */
  private async writeIn(folder: string, file: string, data: Buffer | string): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (!this.made.has(folder)) {
        await mkdir(folder, { recursive: true, mode: 0o700 });
        if (this.made.size > 10_000) this.made.clear();
        this.made.add(folder);
      }
      const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      try {
        await writeFile(tmp, data, { mode: 0o600 });
        await rename(tmp, file);
        return;
      } catch (err) {
        if (!isMissing(err) || attempt > 0) throw err;
        this.made.delete(folder);
      }
    }
  }

  private async read(key: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.path(key));
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw storeError(`read ${key}`, err);
    }
  }

  private async names(prefix: string): Promise<string[]> {
    try {
      return await readdir(this.path(prefix.replace(/\/$/, '')));
    } catch (err) {
      if (isMissing(err)) return [];
      throw storeError(`list ${prefix}`, err);
    }
  }

  async putChunk(id: string, seq: number, data: Buffer): Promise<void> {
    assertRecordingId(id);
    await this.write(chunkKey(id, seq), data);
  }

  async putManifest(manifest: RecordingManifest): Promise<void> {
    assertRecordingId(manifest.id);
    const text = `${JSON.stringify(manifest)}\n`;
    await this.write(manifestKey(manifest.id), text);
    await this.write(indexKey(manifest.session.app, manifest.startedAt, manifest.id), text);
  }

  async getManifest(id: string): Promise<RecordingManifest | undefined> {
    assertRecordingId(id);
    const data = await this.read(manifestKey(id));
    return data && parseManifest(data.toString('utf8'), id);
  }

  async listManifests(query: ManifestQuery): Promise<RecordingManifest[]> {
    const apps = query.app !== undefined ? [query.app] : await this.names(indexPrefix());
    const since = sinceKeyTime(query.since);
    const keys: Array<{ key: string; time: string }> = [];
    for (const app of apps) {
      if (app.includes('/') || app.startsWith('.')) continue;
      for (const name of await this.names(indexPrefix(app))) {
        const time = indexTimeOf(name);
        if (time === undefined || (since !== undefined && time < since)) continue;
        keys.push({ key: `${indexPrefix(app)}${name}`, time });
      }
    }
    return readIndexedManifests(keys, query, (key) => this.read(key));
  }

  async listChunks(id: string): Promise<number[]> {
    assertRecordingId(id);
    const seqs = (await this.names(chunksPrefix(id)))
      .map(chunkSeqOf)
      .filter((s): s is number => s !== undefined);
    return seqs.sort((a, b) => a - b);
  }

  async getChunk(id: string, seq: number): Promise<Buffer | undefined> {
    assertRecordingId(id);
    return this.read(chunkKey(id, seq));
  }

  async close(): Promise<void> {}
}
