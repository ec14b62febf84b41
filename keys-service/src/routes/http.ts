/** Shared HTTP plumbing: body validation, error bodies, client IPs. */
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { AppError, BadRequest, PayloadTooLarge, httpStatusFor } from '@neetodeploy/platform';
import type { KeysMetrics } from '../metrics.js';

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

export function clientIp(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
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

export function sendError(res: Response, err: unknown): void {
  const status = httpStatusFor(err);
  // userMessage is written for users; anything else may carry internals.
  const body =
    err instanceof AppError
      ? { error: { code: err.code, message: err.userMessage } }
      : { error: { code: 'internal', message: 'internal error' } };
  res.status(status).json(body);
}

/** The JSON error handler for /api: typed errors as `{ error: { code, message } }`, nothing internal on 5xx. */
export function apiErrorHandler(logger: Logger, metrics: KeysMetrics) {
  return (rawErr: unknown, req: Request, res: Response, next: NextFunction): void => {
    if (res.headersSent) {
      next(rawErr);
      return;
    }
    const err = normaliseError(rawErr);
    const status = httpStatusFor(err);
    const code = err instanceof AppError ? err.code : 'internal';
    metrics.failures.inc({ reason: code });
    if (status >= 500) {
      logger.error(
        { event: 'keys.request_failed', err: rawErr, method: req.method, path: req.path },
        'request failed',
      );
    } else {
      logger.info(
        { event: 'keys.request_refused', code, status, method: req.method, path: req.path },
        'request refused',
      );
    }
    sendError(res, err);
  };
}
