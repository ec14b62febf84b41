/** Reading a recording back as asciicast v3 text, rendered from its frames. */
import { decodeChunk } from './chain.js';
import { assertRecordingId } from './layout.js';
import { AsciicastRenderer } from './render.js';
import { RecordingError } from './types.js';
import type { ReadOptions, RecordingStore } from './types.js';

/** Rewrites `e` event lines as `o` in chunks written as text (see {@link ReadOptions.mergeStderr}). */
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
  const merge = options.mergeStderr === true;
  const renderer = new AsciicastRenderer(merge);
  for (const seq of seqs) {
    const data = await store.getChunk(id, seq);
    if (!data) continue;
    const decoded = decodeChunk(data);
    if (!decoded) continue;
    if (decoded.meta.format === 'frames') {
      yield renderer.chunk(decoded.body);
      continue;
    }
    const text = decoded.body.toString('utf8');
    yield merge ? mergeStderrLines(text) : text;
  }
  const rest = renderer.end();
  if (rest.length > 0) yield rest;
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
