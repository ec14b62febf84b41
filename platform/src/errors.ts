/**
 * The errors every server part shares. `message` is for operators and logs; only `userMessage`
 * crosses HTTP or SSH to a user. `code` is stable (metrics, JSON error bodies).
 */
export class AppError extends Error {
  readonly code: string;
  readonly userMessage: string;

  constructor(code: string, userMessage: string, options?: { cause?: unknown; message?: string }) {
    super(options?.message ?? userMessage, options?.cause ? { cause: options.cause } : undefined);
    this.name = new.target.name;
    this.code = code;
    this.userMessage = userMessage;
  }
}

export class BadRequest extends AppError {
  constructor(userMessage: string, options?: { cause?: unknown; message?: string; code?: string }) {
    super(options?.code ?? 'bad_request', userMessage, options);
  }
}

export class Unauthenticated extends AppError {
  constructor(userMessage: string, options?: { cause?: unknown; message?: string; code?: string }) {
    super(options?.code ?? 'unauthenticated', userMessage, options);
  }
}

export class AccessDenied extends AppError {
  constructor(userMessage: string, options?: { cause?: unknown; message?: string; code?: string }) {
    super(options?.code ?? 'access_denied', userMessage, options);
  }
}

export class NotFound extends AppError {
  constructor(userMessage: string, options?: { cause?: unknown; message?: string; code?: string }) {
    super(options?.code ?? 'not_found', userMessage, options);
  }
}

export class Conflict extends AppError {
  constructor(userMessage: string, options?: { cause?: unknown; message?: string; code?: string }) {
    super(options?.code ?? 'conflict', userMessage, options);
  }
}

export class PayloadTooLarge extends AppError {
  constructor(userMessage: string, options?: { cause?: unknown; message?: string; code?: string }) {
    super(options?.code ?? 'payload_too_large', userMessage, options);
  }
}

export class RateLimited extends AppError {
  constructor(userMessage: string, options?: { cause?: unknown; message?: string; code?: string }) {
    super(options?.code ?? 'rate_limited', userMessage, options);
  }
}

export class Unavailable extends AppError {
  constructor(userMessage: string, options?: { cause?: unknown; message?: string; code?: string }) {
    super(options?.code ?? 'unavailable', userMessage, options);
  }
}

/** The one mapping from error to HTTP status. Unknown errors are 500 and say nothing inside. */
export function httpStatusFor(err: unknown): number {
  if (err instanceof BadRequest) return 400;
  if (err instanceof Unauthenticated) return 401;
  if (err instanceof AccessDenied) return 403;
  if (err instanceof NotFound) return 404;
  if (err instanceof Conflict) return 409;
  if (err instanceof PayloadTooLarge) return 413;
  if (err instanceof RateLimited) return 429;
  if (err instanceof Unavailable) return 503;
  return 500;
}
