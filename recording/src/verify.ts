/**
 * Verification: the manifest's signature against the recording key, then the chunks against
 * the manifest and the chain. Each kind of tampering has its own reason (see
 * `VerifyFailureReason`).
 */
import type { KeyObject } from 'node:crypto';
import { ZERO_HASH, decodeChunk, sha256Hex } from './chain.js';
import { framesComplete } from './frames.js';
import { recordingKeyId, toPublicKey } from './keys.js';
import { isRecordingId } from './layout.js';
import { signatureValid } from './manifest.js';
import { RecordingError } from './types.js';
import type {
  RecordingManifest,
  RecordingStore,
  VerifyFailureReason,
  VerifyResult,
} from './types.js';

type Failure = Extract<VerifyResult, { ok: false }>;

function fail(
  reason: VerifyFailureReason,
  message: string,
  extra: { chunk?: number; manifest?: RecordingManifest } = {},
): Failure {
  return { ok: false, reason, message, ...extra };
}

async function readManifest(
  store: RecordingStore,
  id: string,
): Promise<RecordingManifest | Failure> {
  let manifest: RecordingManifest | undefined;
  try {
    manifest = await store.getManifest(id);
  } catch (err) {
    if (err instanceof RecordingError && err.code === 'manifest-malformed') {
      return fail('manifest-malformed', err.message);
    }
    throw err;
  }
  if (manifest) {
    if (manifest.id !== id) {
      return fail('manifest-malformed', `the manifest names recording ${manifest.id}, not ${id}`);
    }
    return manifest;
  }
  const chunks = await store.listChunks(id);
  if (chunks.length === 0) return fail('not-found', `there is no recording ${id}`);
  return fail(
    'manifest-missing',
    `recording ${id} has ${chunks.length} chunk(s) but no manifest: the session is still running, its bastion stopped before it ended, or the manifest was removed`,
  );
}

/** Which chunks should be there and are not, or are there and should not be. */
function checkPresence(seqs: number[], m: RecordingManifest): Failure | undefined {
  const present = new Set(seqs);
  const extra = seqs.find((s) => s >= m.chunkCount);
  if (extra !== undefined) {
    return fail(
      'chunk-extra',
      `chunk ${extra} is not counted by the manifest (${m.chunkCount} chunks)`,
      {
        chunk: extra,
        manifest: m,
      },
    );
  }
  let firstMissing: number | undefined;
  for (let s = 0; s < m.chunkCount; s++) {
    if (!present.has(s)) {
      firstMissing = s;
      break;
    }
  }
  if (firstMissing === undefined) return undefined;
  const laterPresent = seqs.some((s) => s > firstMissing);
  if (laterPresent) {
    return fail('chunk-missing', `chunk ${firstMissing} of ${m.chunkCount} is missing`, {
      chunk: firstMissing,
      manifest: m,
    });
  }
  return fail(
    'truncated',
    `the recording is truncated: ${firstMissing} of ${m.chunkCount} chunks are present`,
    { chunk: firstMissing, manifest: m },
  );
}

/** Whether a chunk's body ends on an event boundary (a chunk cut short does not). */
function isWhole(data: Buffer, body: Buffer, format: 'frames' | undefined): boolean {
  if (format === 'frames') return framesComplete(body);
  return data.length === 0 || data[data.length - 1] === 0x0a;
}

/** Bytes of all the chunks the manifest counts, as stored now. */
async function storedTotal(
  store: RecordingStore,
  id: string,
  m: RecordingManifest,
): Promise<number> {
  let total = 0;
  for (let seq = 0; seq < m.chunkCount; seq++)
    total += (await store.getChunk(id, seq))?.length ?? 0;
  return total;
}

/**
 * Chunk `chunk` no longer hashes to what the chain says. It was cut short when its last event is
 * incomplete and the chunks now hold fewer bytes than the manifest counts; otherwise it was
 * altered (an edited length can also leave an event incomplete, but not fewer bytes).
 */
async function mismatch(
  store: RecordingStore,
  id: string,
  m: RecordingManifest,
  chunk: number,
  whole: boolean,
): Promise<Failure> {
  if (!whole && (await storedTotal(store, id, m)) < m.storedBytes) {
    return fail('truncated', `chunk ${chunk} is cut short (its last event is incomplete)`, {
      chunk,
      manifest: m,
    });
  }
  return fail('chunk-altered', `chunk ${chunk} was altered: its hash no longer matches the chain`, {
    chunk,
    manifest: m,
  });
}

/** Walks the chain; undefined when every chunk is where and what the chain says. */
async function checkChain(
  store: RecordingStore,
  id: string,
  m: RecordingManifest,
): Promise<Failure | undefined> {
  let prev = ZERO_HASH;
  let prevWhole = true;
  let stored = 0;
  for (let seq = 0; seq < m.chunkCount; seq++) {
    const data = await store.getChunk(id, seq);
    if (!data)
      return fail('chunk-missing', `chunk ${seq} vanished while verifying`, {
        chunk: seq,
        manifest: m,
      });
    stored += data.length;
    const decoded = decodeChunk(data);
    if (!decoded || decoded.meta.recording !== id) {
      return fail(
        'chunk-malformed',
        `chunk ${seq} does not start with this recording's chunk header`,
        { chunk: seq, manifest: m },
      );
    }
    if (decoded.meta.seq !== seq) {
      return fail(
        'chunk-out-of-order',
        `chunk ${seq} holds the chunk written as number ${decoded.meta.seq}: chunks were reordered`,
        { chunk: seq, manifest: m },
      );
    }
    if (decoded.meta.prev !== prev) {
      if (seq === 0) {
        return fail('chunk-altered', 'chunk 0 was altered: it does not start the chain', {
          chunk: 0,
          manifest: m,
        });
      }
      return mismatch(store, id, m, seq - 1, prevWhole);
    }
    prev = sha256Hex(data);
    prevWhole = isWhole(data, decoded.body, decoded.meta.format);
  }
  if (prev !== m.finalHash) return mismatch(store, id, m, m.chunkCount - 1, prevWhole);
  if (stored !== m.storedBytes) {
    return fail(
      'chunk-altered',
      `chunks hold ${stored} bytes, the manifest says ${m.storedBytes}`,
      {
        manifest: m,
      },
    );
  }
  return undefined;
}

async function verifyUnsafe(
  store: RecordingStore,
  id: string,
  publicKey: KeyObject,
): Promise<VerifyResult> {
  const manifest = await readManifest(store, id);
  if ('ok' in manifest) return manifest;
  const expected = recordingKeyId(publicKey);
  if (manifest.keyId !== expected) {
    return fail(
      'wrong-key',
      `the manifest was signed by key ${manifest.keyId}, not by the recording key ${expected}`,
      { manifest },
    );
  }
  if (!signatureValid(manifest, publicKey)) {
    return fail(
      'signature-invalid',
      'the manifest signature does not match its contents: it was edited',
      {
        manifest,
      },
    );
  }
  const seqs = await store.listChunks(id);
  return (
    checkPresence(seqs, manifest) ??
    (await checkChain(store, id, manifest)) ?? { ok: true, manifest }
  );
}

/**
 * Checks recording `id` with the recording key's public half (a KeyObject, or PEM of an SPKI
 * public key or of the private key). Never throws.
 */
export async function verifyRecording(
  store: RecordingStore,
  id: string,
  publicKey: KeyObject | string,
): Promise<VerifyResult> {
  if (!isRecordingId(id))
    return fail('bad-id', `not a recording id: ${JSON.stringify(id.slice(0, 80))}`);
  let key: KeyObject;
  try {
    key = toPublicKey(publicKey);
  } catch (err) {
    return fail('wrong-key', `the key given is not a usable public key: ${(err as Error).message}`);
  }
  try {
    return await verifyUnsafe(store, id, key);
  } catch (err) {
    return fail('store', `the recording store could not be read: ${(err as Error).message}`);
  }
}
