/** Reading a recording back as asciicast v3 text. */
import { decodeChunk } from './chain.js';
import { assertRecordingId } from './layout.js';
import { RecordingError } from './types.js';
import type { ReadOptions, RecordingStore } from './types.js';

/** Rewrites `e` event lines as `o` (see {@link ReadOptions.mergeStderr}). */
function mergeStderrLines(text: string): string {
  return text.replace(/^\[([0-9.e+-]+),"e",/gm, '[$1,"o",');
}

/**
 * The asciicast v3 text of recording `id`, one piece per chunk in sequence order; the chain is
 * not checked (use `verifyRecording`). Rejects with `not-found` when there is no chunk.
 */
export async function* readRecording(
  store: RecordingStore,
  id: string,
  options: ReadOptions = {},
): AsyncIterable<string> {
  assertRecordingId(id);
  const seqs = await store.listChunks(id);
  if (seqs.length === 0) {
    throw new RecordingError(
      'not-found',
      `no recording ${id}`,
      `there is no recording of session ${id}: run \`neetodeploy sessions -a APP\` to list recorded sessions`,
    );
  }
  for (const seq of seqs) {
    const data = await store.getChunk(id, seq);
    if (!data) continue;
    const decoded = decodeChunk(data);
    if (!decoded) continue;
    const text = decoded.body.toString('utf8');
    yield options.mergeStderr === true ? mergeStderrLines(text) : text;
  }
}

/** The whole asciicast v3 text of recording `id` (see {@link readRecording}). */
export async function readRecordingText(
  store: RecordingStore,
  id: string,
  options: ReadOptions = {},
): Promise<string> {
  let text = '';
  for await (const piece of readRecording(store, id, options)) text += piece;
  return text;
}
