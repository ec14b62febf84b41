/** Listing filters shared by the stores. */
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
