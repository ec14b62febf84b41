/**
 * How the contract refuses a value: never by throwing from a parser, always with a stable
 * `code` and a message written for the person who typed the value (it may cross SSH or HTTP
 * as is). Encoders throw {@link ContractError} because an unencodable value is the caller's bug
 * or unchecked input, and encoding it anyway would produce something the other side reads back
 * differently.
 */

/** Stable codes; the keys-service already answers `invalid_app_name` and `invalid_process`. */
export type ContractErrorCode =
  | 'invalid_app_name'
  | 'invalid_process'
  | 'invalid_pod'
  | 'invalid_user_name'
  | 'invalid_virtual_host'
  | 'invalid_key_id'
  | 'invalid_key_id_user'
  | 'invalid_request_id';

/** A value that does not follow the contract; `message` is safe to show to the user. */
export class ContractError extends Error {
  readonly code: ContractErrorCode;
  constructor(code: ContractErrorCode, message: string) {
    super(message);
    this.name = 'ContractError';
    this.code = code;
  }
}

/** What every `parse*`/`decode*` returns: the value, or why not. */
export type Result<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: ContractError };

export function ok<T>(value: T): Result<T> {
  return { ok: true, value };
}

export function refuse<T>(code: ContractErrorCode, message: string): Result<T> {
  return { ok: false, error: new ContractError(code, message) };
}

/** The value of a result, or its error thrown: for callers that treat a refusal as a bug. */
export function unwrap<T>(result: Result<T>): T {
  if (!result.ok) throw result.error;
  return result.value;
}
