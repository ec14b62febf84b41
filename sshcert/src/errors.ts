/**
 * Stable error codes of the library. Parsers of untrusted bytes throw only {@link SshCertError}.
 * - `malformed`: the bytes or text are not a valid encoding.
 * - `unsupported-key`: a key or signature algorithm this library refuses (DSA, unknown names).
 * - `weak-key`: a key that is valid but too weak (RSA under 2048 bits or with e < 65537 or even,
 *   ed25519 points of small order).
 * - `encrypted-key`: a passphrase-protected private key (not supported, by design).
 * - `invalid-request`: a caller's input to a builder (signCertificate, createKrl) is invalid.
 */
export type SshCertErrorCode =
  'malformed' | 'unsupported-key' | 'weak-key' | 'encrypted-key' | 'invalid-request';

export class SshCertError extends Error {
  override readonly name = 'SshCertError';
  readonly code: SshCertErrorCode;

  constructor(code: SshCertErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Shorthand for the most common failure while parsing. */
export function malformed(message: string): SshCertError {
  return new SshCertError('malformed', message);
}
