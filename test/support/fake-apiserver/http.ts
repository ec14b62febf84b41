import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { decodeProtobuf, isProtobuf } from './protobuf.js';
import { badRequest, StatusError } from './status.js';
import type { KubeStatus } from './types.js';

const MAX_BODY = 3 * 1024 * 1024;

export function sendJson(
  res: ServerResponse,
  code: number,
  body: unknown,
  contentType = 'application/json',
): void {
  const text = JSON.stringify(body);
  res.writeHead(code, {
    'Content-Type': contentType,
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-cache, private',
  });
  res.end(text);
}

export function sendStatus(res: ServerResponse, err: StatusError | KubeStatus): void {
  const status = err instanceof StatusError ? err.status : err;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status.code, status);
}

export async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > MAX_BODY) {
      throw new StatusError({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'the server has received a request that is too large',
        reason: 'RequestEntityTooLarge',
        code: 413,
      });
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/** Decodes a request body sent as JSON, YAML or (for a few kinds) protobuf. */
export function decodeBody(body: Buffer, contentType: string | undefined): unknown {
  if (isProtobuf(contentType)) return decodeProtobuf(body);
  const text = body.toString('utf8');
  if (text.trim() === '') throw badRequest('the request body is empty');
  const ct = (contentType ?? '').toLowerCase();
  try {
    if (ct.includes('yaml')) return parseYaml(text) as unknown;
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw badRequest(
      `error decoding request body: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}
