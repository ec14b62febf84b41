/**
 * The errors every server part shares. `message` is for operators and logs; only `userMessage`
 * crosses HTTP or SSH to a user. `code` is stable (metrics, JSON error bodies). Which HTTP
 * status or SSH answer an error becomes is decided by the server that catches it, not here.
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

/**
 * A stored thing would outgrow a limit the backend keeps (e.g. too many config vars on one
 * app). The default code predates the name and is kept: clients and dashboards key on it.
 */
export class LimitExceeded extends AppError {
  constructor(userMessage: string, options?: { cause?: unknown; message?: string; code?: string }) {
    super(options?.code ?? 'payload_too_large', userMessage, options);
  }
}

export class Unavailable extends AppError {
  constructor(userMessage: string, options?: { cause?: unknown; message?: string; code?: string }) {
    super(options?.code ?? 'unavailable', userMessage, options);
  }
}

/**
 * A port forward reached its target, but nothing there accepts connections on the port (the
 * userMessage names both, e.g. "connection refused by web.1:8080: nothing listens on that
 * port"). The bastion answers it with the SSH open failure `connect failed`.
 */
export class PortForwardRefused extends AppError {
  constructor(userMessage: string, options?: { cause?: unknown; message?: string; code?: string }) {
    super(options?.code ?? 'port_forward_refused', userMessage, options);
  }
}
