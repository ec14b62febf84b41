/** What the routes share to read a request: body validation, the bearer token, the client IP. */
import type { Request } from 'express';
import type { z } from 'zod';
import { BadRequest } from '@neetodeploy/platform';
import { authenticateToken } from '../domain/index.js';
import type { Caller, DomainContext } from '../domain/index.js';

/** Parses the body with a strict zod schema; BadRequest names the offending fields. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const result = schema.safeParse(body ?? {});
  if (!result.success) {
    const detail = result.error.issues
      .map((i) => {
        const where = i.path.length > 0 ? i.path.map(String).join('.') : 'body';
        return i.code === 'unrecognized_keys'
          ? `unknown field(s): ${i.keys.join(', ')}`
          : `${where}: ${i.message}`;
      })
      .join('; ');
    throw new BadRequest(`invalid request: ${detail}`, { code: 'invalid_request' });
  }
  return result.data;
}

const BEARER = /^Bearer\s+(\S+)$/i;

/** The token of an `Authorization: Bearer` header, if that is what the header holds. */
export function bearerToken(header: string | undefined): string | undefined {
  return header ? BEARER.exec(header)?.[1] : undefined;
}

/** The caller named by the request's bearer token (one store read); Unauthenticated otherwise. */
export async function bearerCaller(ctx: DomainContext, req: Request): Promise<Caller> {
  return authenticateToken(ctx, bearerToken(req.get('authorization')));
}

/** The client's address by express's `trust proxy` rule (config `trustProxyHops`). */
export function clientIp(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}
