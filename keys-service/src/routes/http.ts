/** Shared HTTP plumbing: body validation, bearer tokens, client IPs, error bodies. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import proxyaddr from 'proxy-addr';
import type { z } from 'zod';
import { AppError, BadRequest, PayloadTooLarge, httpStatusFor } from '@neetodeploy/platform';
import type { KeysMetrics } from '../metrics.js';
import { SECURITY_HEADER_LIST } from './security-headers.js';

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

export function clientIp(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

/**
 * The client's address for a request served outside express, by the same rule as express's
 * `trust proxy` set to a hop count: that many proxies' `X-Forwarded-For` entries are believed.
 */
export function forwardedClientIp(req: IncomingMessage, trustedHops: number): string {
  if (trustedHops === 0) return req.socket.remoteAddress ?? 'unknown';
  return proxyaddr(req, (_addr, i) => i < trustedHops);
}

/** Maps body-parser failures (which carry `type`/`status`) to our errors. */
export function normaliseError(err: unknown): unknown {
  if (err instanceof AppError) return err;
  if (err && typeof err === 'object' && 'type' in err) {
    const type = (err as { type?: unknown }).type;
    if (type === 'entity.too.large')
      return new PayloadTooLarge('request body too large', { cause: err });
    if (type === 'entity.parse.failed')
      return new BadRequest('request body is not valid JSON', {
        code: 'malformed_json',
        cause: err,
      });
    if (type === 'encoding.unsupported' || type === 'charset.unsupported') {
      return new BadRequest('unsupported body encoding', {
        code: 'unsupported_encoding',
        cause: err,
      });
    }
  }
  return err;
}

export interface ErrorAnswer {
  readonly status: number;
  readonly body: { readonly error: { readonly code: string; readonly message: string } };
}

export function errorAnswer(err: unknown): ErrorAnswer {
  // userMessage is written for users; anything else may carry internals.
  return {
    status: httpStatusFor(err),
    body:
      err instanceof AppError
        ? { error: { code: err.code, message: err.userMessage } }
        : { error: { code: 'internal', message: 'internal error' } },
  };
}

/**
 * Counts and logs a failed request, and says what to answer: typed errors as
 * `{ error: { code, message } }`, nothing internal on 5xx.
 */
export function reportFailure(
  logger: Logger,
  metrics: KeysMetrics,
  rawErr: unknown,
  request: { readonly method: string; readonly path: string },
): ErrorAnswer {
  const err = normaliseError(rawErr);
  const answer = errorAnswer(err);
  const code = answer.body.error.code;
  metrics.failures.inc({ reason: code });
  if (answer.status >= 500) {
    logger.error({ event: 'keys.request_failed', err: rawErr, ...request }, 'request failed');
  } else {
    logger.info(
      { event: 'keys.request_refused', code, status: answer.status, ...request },
      'request refused',
    );
  }
  return answer;
}

/**
 * Writes a JSON answer on a bare node:http response (the express-free routes), with the
 * security headers every response carries, in one `writeHead`.
 */
export function writeJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  extraHeaders: readonly string[] = [],
): void {
  const text = JSON.stringify(body);
  const headers = SECURITY_HEADER_LIST.concat(
    extraHeaders,
    'Content-Type',
    'application/json; charset=utf-8',
    'Content-Length',
    String(Buffer.byteLength(text)),
  );
  res.writeHead(status, headers);
  res.end(text);
}

/** The JSON error handler for /api. */
export function apiErrorHandler(logger: Logger, metrics: KeysMetrics) {
  return (rawErr: unknown, req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) {
      next(rawErr);
      return;
    }
    const { status, body } = reportFailure(logger, metrics, rawErr, {
      method: req.method,
      path: req.path,
    });
    res.status(status).json(body);
  };
}
