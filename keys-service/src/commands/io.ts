import type { Readable } from 'node:stream';
import type { Io } from './deps.js';

/** Terminal I/O of the commands, injectable for tests. */
export type CommandIo = Io;

interface MaybeTty {
  isTTY?: boolean;
  setRawMode?: (raw: boolean) => unknown;
}

export function isTty(stdin: Readable): boolean {
  return (stdin as Readable & MaybeTty).isTTY === true;
}

/** Reads stdin to its end and returns the first line (a password piped in). */
export async function readFirstLine(stdin: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stdin as AsyncIterable<Buffer | string>) {
    chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
    if (Buffer.concat(chunks).includes(0x0a)) break;
  }
  return (Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '').trimEnd();
}

/** Prompts without echo on a TTY. */
export async function promptHidden(io: CommandIo, question: string): Promise<string> {
  const stdin = io.stdin as Readable & MaybeTty;
  io.stderr.write(question);
  stdin.setRawMode?.(true);
  stdin.resume();
  return new Promise<string>((resolve, reject) => {
    let value = '';
    const done = (err?: Error): void => {
      stdin.setRawMode?.(false);
      stdin.pause();
      stdin.off('data', onData);
      io.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (data: Buffer | string): void => {
      for (const ch of data.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new Error('cancelled'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}
