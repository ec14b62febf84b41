/** Why a key or certificate cannot be used for SSH authentication. */
export type SshKeyErrorCode =
  | 'invalid-private-key'
  | 'unsupported-key'
  | 'invalid-certificate'
  | 'certificate-key-mismatch'
  | 'not-user-certificate';

/** Thrown by {@link certificateKey}; `message` says what to fix and contains no key material. */
export class SshKeyError extends Error {
  override readonly name = 'SshKeyError';
  readonly code: SshKeyErrorCode;

  constructor(code: SshKeyErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
