/** Listing filters shared by the stores. */
import { parseManifest } from '../manifest.js';
import { compactTime } from '../layout.js';
import type { ManifestQuery, RecordingManifest } from '../types.js';

/** `since` in the index keys' time format, for comparing before reading an entry. */
export function sinceKeyTime(since: Date | undefined): string | undefined {
  return since && compactTime(since.toISOString());
}

export function matchesQuery(m: RecordingManifest, q: ManifestQuery): boolean {
  if (q.app !== undefined && m.session.app !== q.app) return false;
  if (q.user !== undefined && m.session.user !== q.user) return false;
  if (q.since !== undefined && Date.parse(m.startedAt) < q.since.getTime()) return false;
  return true;
}

/**
 * The manifests of index entries, newest first, up to the query's limit: what every store's
 * `listManifests` does once it has its index keys. A damaged entry hides one session only.
 */
export async function readIndexedManifests(
  entries: readonly { readonly key: string; readonly time: string }[],
  query: ManifestQuery,
  read: (key: string) => Promise<Buffer | undefined>,
): Promise<RecordingManifest[]> {
  const newestFirst = [...entries].sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
  const limit = query.limit ?? 100;
  const out: RecordingManifest[] = [];
  for (const { key } of newestFirst) {
    if (out.length >= limit) break;
    const data = await read(key);
    if (!data) continue;
    try {
      const m = parseManifest(data.toString('utf8'), key);
      if (matchesQuery(m, query)) out.push(m);
    } catch {
      // A damaged index entry hides one session from the list, not all of them.
    }
  }
  return out;
}
