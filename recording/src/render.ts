/**
 * Frames (./frames.ts) to asciicast v3 lines, when a recording is read. One renderer reads one
 * recording from its first chunk on: a character split across two reads (or two chunks) is
 * decoded whole, as the terminal showed it.
 */
import { StringDecoder } from 'node:string_decoder';
import { HEADER_CODE, readFrames } from './frames.js';
import type { Frame } from './frames.js';
import { EVENT_CODES } from './types.js';

type Stream = 'i' | 'o' | 'e';
const isStream = (code: string): code is Stream => code === 'i' || code === 'o' || code === 'e';
/** Events before which partial characters are written out (a gap or the end follows). */
const FLUSH_BEFORE = new Set<string>([EVENT_CODES.marker, EVENT_CODES.dropped, EVENT_CODES.exit]);
const round = (seconds: number): number => Math.round(seconds * 1e6) / 1e6;

export class AsciicastRenderer {
  private readonly decoders: Record<Stream, StringDecoder> = {
    i: new StringDecoder('utf8'),
    o: new StringDecoder('utf8'),
    e: new StringDecoder('utf8'),
  };
  /** Time of frames that made no event (a partial character), carried to the next event. */
  private carried = 0;

  /** `mergeStderr`: write `e` events as `o` (see `ReadOptions.mergeStderr`). */
  constructor(private readonly mergeStderr = false) {}

  /** The lines of one chunk's frames, each ending in `\n`. */
  chunk(body: Buffer): string {
    let out = '';
    for (const frame of readFrames(body)) out += this.frame(frame);
    return out;
  }

  /** What partial characters are left at the end of the recording (replacement characters). */
  end(): string {
    return this.flush();
  }

  private frame({ code, interval, data }: Frame): string {
    if (code === HEADER_CODE) return `${data.toString('utf8')}\n`;
    if (isStream(code)) {
      const text = this.decoders[code].write(data);
      if (text.length === 0) {
        this.carried += interval;
        return '';
      }
      return this.line(code, interval, text);
    }
    const before = FLUSH_BEFORE.has(code) ? this.flush() : '';
    return before + this.line(code, interval, data.toString('utf8'));
  }

  private flush(): string {
    let out = '';
    for (const stream of ['i', 'o', 'e'] as const) {
      const rest = this.decoders[stream].end();
      if (rest.length > 0) out += this.line(stream, 0, rest);
    }
    return out;
  }

  private line(code: string, interval: number, text: string): string {
    const seconds = round(this.carried + interval);
    this.carried = 0;
    const shown = this.mergeStderr && code === EVENT_CODES.stderr ? EVENT_CODES.output : code;
    return `${JSON.stringify([seconds, shown, text])}\n`;
  }
}
