/**
 * The HTTP layer's errors and the one mapping from errors to HTTP statuses. Below this layer
 * nothing knows HTTP: the domain and the platform throw `AppError`s, and only here do they
 * become a status and a `{ error: { code, message } }` body (nothing internal on 5xx).
 */
import type { NextFunction, Request, Response } from 'express';
import type { Logger } from 'pino';
import type { ApiErrorBody } from '@neetodeploy/contract';
import {
  AccessDenied,
  AppError,
  BadRequest,
  Conflict,
  LimitExceeded,
  NotFound,
  Unauthenticated,
  Unavailable,
} from '@neetodeploy/platform';
import { EVENTS } from '../events.js';
import type { KeysMetrics } from '../metrics.js';

/** A request body over the configured limit. */
export class PayloadTooLarge extends AppError {
  constructor(userMessage: string, options?: { cause?: unknown; message?: string; code?: string }) {
    super(options?.code ?? 'payload_too_large', userMessage, options);
  }
}

/** Too many requests of one kind from one client (the sign-in limiters). */
export class RateLimited extends AppError {
  constructor(userMessage: string, options?: { cause?: unknown; message?: string; code?: string }) {
    super(options?.code ?? 'rate_limited', userMessage, options);
  }
}

/** The one mapping from error to HTTP status. Unknown errors are 500. */
export function httpStatusFor(err: unknown): number {
  if (err instanceof BadRequest) return 400;
  if (err instanceof Unauthenticated) return 401;
  if (err instanceof AccessDenied) return 403;
  if (err instanceof NotFound) return 404;
  if (err instanceof Conflict) return 409;
  if (err instanceof PayloadTooLarge || err instanceof LimitExceeded) return 413;
  if (err instanceof RateLimited) return 429;
  if (err instanceof Unavailable) return 503;
  return 500;
}

/** Maps body-parser failures (which carry `type`) to our errors. */
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
  /** The contract's error shape (`apiErrorSchema`). */
  readonly body: ApiErrorBody;
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

/** Counts and logs a failed request, and says what to answer. */
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
    logger.error({ event: EVENTS.requestFailed, err: rawErr, ...request }, 'request failed');
  } else {
    logger.info(
      { event: EVENTS.requestRefused, code, status: answer.status, ...request },
      'request refused',
    );
  }
  return answer;
}

/** The JSON error handler of the API (and of every path no route serves). */
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
