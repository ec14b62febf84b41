/**
 * Lines of a streamed API response: pod logs, and watches (one JSON event per line). Decoded
 * with a StringDecoder, so a UTF-8 character split between two reads arrives whole instead of
 * as two replacement characters. A line is bounded: a log line past the bound is cut (as the
 * kubelet itself does), a watch event past it fails the stream, since half of a JSON object is
 * of no use and the caller re-lists.
 */
import { StringDecoder } from 'node:string_decoder';

export interface BodyLinesOptions {
  /** The longest line, in characters. */
  readonly maxLineChars: number;
  /** `cut`: yield the first `maxLineChars` and drop the rest of that line; `fail`: throw. */
  readonly overlong: 'cut' | 'fail';
}

export class OverlongLineError extends Error {
  constructor(maxLineChars: number) {
    super(`a line of the API response is longer than ${maxLineChars} characters`);
    this.name = 'OverlongLineError';
  }
}

export async function* bodyLines(
  body: AsyncIterable<Buffer> | Iterable<Buffer>,
  options: BodyLinesOptions,
): AsyncGenerator<string> {
  const { maxLineChars, overlong } = options;
  const decoder = new StringDecoder('utf8');
  let partial = '';
  // True while the rest of a line that was cut is still arriving: it is skipped.
  let skipping = false;
  const take = (text: string): string[] => {
    const out: string[] = [];
    partial += text;
    let nl = partial.indexOf('\n');
    while (nl >= 0) {
      if (!skipping) out.push(partial.slice(0, nl));
      skipping = false;
      partial = partial.slice(nl + 1);
      nl = partial.indexOf('\n');
    }
    if (partial.length > maxLineChars) {
      if (overlong === 'fail') throw new OverlongLineError(maxLineChars);
      if (!skipping) out.push(partial.slice(0, maxLineChars));
      skipping = true;
      partial = '';
    }
    return out;
  };
  for await (const chunk of body) yield* take(decoder.write(chunk));
  yield* take(decoder.end());
  if (partial && !skipping) yield partial;
}
