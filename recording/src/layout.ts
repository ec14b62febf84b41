/** Object keys (paths below a store's root) of the stored layout described in `types.ts`. */
import { RECORDING_ID_PATTERN, RecordingError } from './types.js';

export function isRecordingId(id: string): boolean {
  return RECORDING_ID_PATTERN.test(id);
}

/** Throws `bad-id` for anything that is not a recording id (it becomes part of a path). */
export function assertRecordingId(id: string): void {
  if (!isRecordingId(id)) {
    throw new RecordingError(
      'bad-id',
      `not a recording id: ${JSON.stringify(id.slice(0, 80))}`,
      'a recording id is the session id, a UUID such as 3f2b1c4e-8d9a-4f6b-9c1d-2e3f4a5b6c7d: run `neetodeploy sessions -a APP` to list them',
    );
  }
}

export function chunkKey(id: string, seq: number): string {
  return `sessions/${id}/chunks/${String(seq).padStart(8, '0')}.chunk`;
}

export function chunksPrefix(id: string): string {
  return `sessions/${id}/chunks/`;
}

/** The sequence number of a chunk key's last path part, or undefined for other names. */
export function chunkSeqOf(name: string): number | undefined {
  const m = /(?:^|\/)(\d{8})\.chunk$/.exec(name);
  return m ? Number(m[1]) : undefined;
}

export function manifestKey(id: string): string {
  return `sessions/${id}/manifest.json`;
}

/** `2026-12-02T04:03:28.123Z` → `20261202T040328123Z`: keys sort by time. */
export function compactTime(iso: string): string {
  return iso.replace(/[-:.]/g, '');
}

export function indexPrefix(app?: string): string {
  return app === undefined ? 'index/' : `index/${app}/`;
}

export function indexKey(app: string, startedAt: string, id: string): string {
  return `${indexPrefix(app)}${compactTime(startedAt)}_${id}.json`;
}

/** The start time encoded in an index key's file name, for filtering before reading. */
export function indexTimeOf(name: string): string | undefined {
  const m = /(?:^|\/)(\d{8}T\d{9}Z)_[^/]+\.json$/.exec(name);
  return m?.[1];
}
