/**
 * A bounded JSON body reader for the routes served without express, with the same answers as
 * `express.json({ strict: true, type: '*' + '/*' })`: an empty body is `{}`, only objects and
 * arrays are JSON bodies, more than the limit is 413 (refused from `Content-Length` before
 * reading when the client announces it), charsets other than UTF-8 and compressed bodies are
 * refused.
 */
import type { IncomingMessage } from 'node:http';
import { AppError, BadRequest, PayloadTooLarge } from '@neetodeploy/platform';

/** The client went away before its body arrived; there is nobody to answer. */
export class BodyAborted extends AppError {
  constructor() {
    super('body_aborted', 'the request body was cut short');
  }
}

const CHARSET = /;\s*charset\s*=\s*"?([^";\s]+)/i;

function encodingProblem(req: IncomingMessage): BadRequest | undefined {
  const encoding = req.headers['content-encoding'];
  const charset = CHARSET.exec(req.headers['content-type'] ?? '')?.[1]?.toLowerCase();
  if (
    (encoding !== undefined && encoding.toLowerCase() !== 'identity') ||
    (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8')
  ) {
    return new BadRequest('unsupported body encoding', { code: 'unsupported_encoding' });
  }
  return undefined;
}

function sizeProblem(req: IncomingMessage, limitBytes: number): PayloadTooLarge | undefined {
  const announced = req.headers['content-length'];
  return announced !== undefined && Number(announced) > limitBytes
    ? tooLarge(limitBytes)
    : undefined;
}

function tooLarge(limitBytes: number): PayloadTooLarge {
  return new PayloadTooLarge(`request body too large (at most ${limitBytes} bytes)`);
}

const NOT_JSON = Symbol('not JSON');

function parse(text: string): unknown {
  const first = /\S/.exec(text)?.[0];
  if (first === undefined) return {};
  if (first !== '{' && first !== '[') return NOT_JSON;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return NOT_JSON;
  }
}

/** Reads and parses the body; rejects with a typed error. */
export function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  const refused = encodingProblem(req) ?? sizeProblem(req, limitBytes);
  if (refused) return Promise.reject(refused);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAbort);
      req.off('close', onAbort);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limitBytes) {
        cleanup();
        // Stop buffering; the caller answers 413 and closes the connection.
        req.pause();
        reject(tooLarge(limitBytes));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      const text =
        chunks.length === 1
          ? chunks[0]!.toString('utf8')
          : Buffer.concat(chunks, size).toString('utf8');
      const parsed = parse(text);
      if (parsed === NOT_JSON) {
        reject(new BadRequest('request body is not valid JSON', { code: 'malformed_json' }));
      } else resolve(parsed);
    };
    const onAbort = (): void => {
      cleanup();
      reject(new BodyAborted());
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAbort);
    // 'close' before 'end' means the connection went away mid-body.
    req.on('close', onAbort);
  });
}
