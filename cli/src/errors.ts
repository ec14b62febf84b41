/**
 * Errors of the CLI. Each says what to do next; `main.ts` alone turns the kind into an exit
 * code (0 ok, 1 error, 2 usage or cancelled, 4 not logged in or token expired, 255 the SSH
 * connection to the bastion failed or was lost, as with `ssh`).
 */
export type CliErrorKind = 'error' | 'usage' | 'cancelled' | 'auth' | 'ssh-connection';

/** The class names of an error, most derived first, under a key every copy of this module shares. */
const CLASSES = Symbol.for('@neetodeploy/cli:error-classes');

export class CliError extends Error {
  readonly kind: CliErrorKind;
  private readonly [CLASSES]: readonly string[];
  constructor(message: string, options?: { kind?: CliErrorKind; cause?: unknown }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = new.target.name;
    this.kind = options?.kind ?? 'error';
    const names: string[] = [];
    for (let c: unknown = new.target; typeof c === 'function' && c !== Error;) {
      names.push((c as { name: string }).name);
      c = Object.getPrototypeOf(c);
    }
    this[CLASSES] = names;
  }

  /**
   * `instanceof` also matches errors made by another copy of this module: commands are imported
   * lazily (cli.ts), and a host that loaded the CLI's modules twice (CommonJS and ESM, as the
   * tests' loader does) must still tell a UsageError from the rest.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (typeof value !== 'object' || value === null) return false;
    if (Function.prototype[Symbol.hasInstance].call(this, value)) return true;
    const names = (value as { [CLASSES]?: unknown })[CLASSES];
    return Array.isArray(names) && names.includes(this.name);
  }
}

/** Bad flags or arguments. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, { kind: 'usage' });
  }
}

/** The user stopped an interactive flow (Ctrl-C during login). */
export class CancelledError extends CliError {
  constructor(message = 'cancelled') {
    super(message, { kind: 'cancelled' });
  }
}

/** No credentials, or the server refused the token. */
export class NotLoggedInError extends CliError {
  constructor(message = 'not logged in: run `neetodeploy login`') {
    super(message, { kind: 'auth' });
  }
}

/** The API answered with an error body `{ error: { code, message } }`. */
export class ApiError extends CliError {
  readonly status: number;
  readonly code: string;
  readonly serverMessage: string;
  /** Seconds to wait before polling again (a `slow_down` answer). */
  readonly interval?: number;
  constructor(
    status: number,
    code: string,
    serverMessage: string,
    options: { message?: string; interval?: number } = {},
  ) {
    super(options.message ?? serverMessage, { kind: status === 401 ? 'auth' : 'error' });
    this.status = status;
    this.code = code;
    this.serverMessage = serverMessage;
    if (options.interval !== undefined) this.interval = options.interval;
  }

  /** Same error, message replaced (adds what to do next). */
  withMessage(message: string): ApiError {
    return new ApiError(this.status, this.code, this.serverMessage, {
      message,
      ...(this.interval !== undefined ? { interval: this.interval } : {}),
    });
  }
}

/** The API could not be reached or answered something that is not our API. */
export class ConnectionError extends CliError {}

/**
 * The SSH connection to the bastion could not be made or was lost before the command ran: exits
 * 255, as `ssh` does, so a script can tell it from any status the remote command returns.
 */
export class BastionConnectionError extends CliError {
  /**
   * Why, when login itself failed: the certificate was refused, the bastion's identity did not
   * match, nothing answered at its address, or it kept dropping us (overloaded). A cached
   * certificate, bastion address or identity may be stale in the first three cases.
   */
  readonly stage?: 'refused' | 'untrusted' | 'unreachable' | 'overloaded';
  constructor(
    message: string,
    options?: { cause?: unknown; stage?: BastionConnectionError['stage'] },
  ) {
    super(message, {
      kind: 'ssh-connection',
      ...(options?.cause !== undefined ? { cause: options.cause } : {}),
    });
    if (options?.stage !== undefined) this.stage = options.stage;
  }
}
