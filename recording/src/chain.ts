/**
 * The hash chain: every chunk opens with a metadata line naming its recording, its position
 * and the SHA-256 of the chunk before it, so removing, reordering or editing a chunk breaks
 * the chain at a place verification can name.
 */
import { createHash } from 'node:crypto';
import type { ChunkMeta } from './types.js';

/** `prev` of chunk 0, and `finalHash` of a recording without chunks. */
export const ZERO_HASH = '0'.repeat(64);

export function sha256Hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The first line of a chunk, newline included. */
export function chunkMetaLine(meta: ChunkMeta): string {
  const { recording, seq, prev, format } = meta;
  return `${JSON.stringify(format ? { recording, seq, prev, format } : { recording, seq, prev })}\n`;
}

/** A whole chunk: its metadata line, then `body` (frames, or whole asciicast lines). */
export function encodeChunk(meta: ChunkMeta, body: string | Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(chunkMetaLine(meta), 'utf8'),
    typeof body === 'string' ? Buffer.from(body, 'utf8') : body,
  ]);
}

/** Splits a chunk into its metadata and body; undefined when the first line is not metadata. */
export function decodeChunk(data: Buffer): { meta: ChunkMeta; body: Buffer } | undefined {
  const nl = data.indexOf(0x0a);
  if (nl < 0) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(data.subarray(0, nl).toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const m = parsed as Record<string, unknown>;
  if (
    typeof m.recording !== 'string' ||
    typeof m.seq !== 'number' ||
    !Number.isSafeInteger(m.seq) ||
    m.seq < 0 ||
    typeof m.prev !== 'string' ||
    !/^[0-9a-f]{64}$/.test(m.prev) ||
    (m.format !== undefined && m.format !== 'frames')
  ) {
    return undefined;
  }
  const format = m.format === 'frames' ? { format: 'frames' as const } : {};
  return {
    meta: { recording: m.recording, seq: m.seq, prev: m.prev, ...format },
    body: data.subarray(nl + 1),
  };
}
