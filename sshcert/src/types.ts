/**
 * The contract of `@neetodeploy/sshcert`: OpenSSH public keys, private keys, certificates
 * (PROTOCOL.certkeys) and key revocation lists (PROTOCOL.krl) on `node:crypto`.
 *
 * Everything that parses untrusted bytes throws only {@link SshCertError}; verification never
 * throws for a bad certificate, it returns a {@link VerifyFailure} with a typed reason.
 */
import type { KeyObject } from 'node:crypto';

/** Plain public key algorithms we accept. DSA and RSA under 2048 bits are refused. */
export type KeyType =
  'ssh-ed25519' | 'ecdsa-sha2-nistp256' | 'ecdsa-sha2-nistp384' | 'ecdsa-sha2-nistp521' | 'ssh-rsa';

/** `<KeyType>-cert-v01@openssh.com` (for ssh-rsa: `ssh-rsa-cert-v01@openssh.com`). */
export type CertKeyType =
  | 'ssh-ed25519-cert-v01@openssh.com'
  | 'ecdsa-sha2-nistp256-cert-v01@openssh.com'
  | 'ecdsa-sha2-nistp384-cert-v01@openssh.com'
  | 'ecdsa-sha2-nistp521-cert-v01@openssh.com'
  | 'ssh-rsa-cert-v01@openssh.com';

/** Signature algorithms as named inside an SSH signature blob. */
export type SignatureAlgorithm =
  | 'ssh-ed25519'
  | 'ecdsa-sha2-nistp256'
  | 'ecdsa-sha2-nistp384'
  | 'ecdsa-sha2-nistp521'
  | 'rsa-sha2-256'
  | 'rsa-sha2-512'
  | 'ssh-rsa';

export type CertType = 'user' | 'host';

/** A parsed, validated public key. `blob` is the exact SSH wire encoding. */
export interface PublicKey {
  readonly type: KeyType;
  readonly blob: Buffer;
  /**
   * For verification with node:crypto. Built once, on first use (importing a key costs more
   * than signing a certificate with it, and a key sent to be certified never needs one).
   * parsePublicKey(Text) has already validated the key (weak RSA, ed25519 length, ECDSA point);
   * for the keys inside a parsed certificate, an invalid key throws SshCertError here.
   */
  readonly keyObject: KeyObject;
  /** RSA modulus size or the curve size in bits (256 for ed25519). */
  readonly bits: number;
  /** Comment from the text form, if any. */
  readonly comment?: string;
}

/** A private key with its public half. Never logged, never serialised except by encodePrivateKey. */
export interface PrivateKey {
  readonly type: KeyType;
  readonly publicKey: PublicKey;
  readonly keyObject: KeyObject;
  readonly comment?: string;
}

/**
 * What a certificate says about its holder: the fields covered by `encode`/`decode` round trips.
 * Validity is in seconds since the epoch as OpenSSH stores it (uint64); `validBefore` of
 * 0xffffffffffffffff means "forever".
 */
export interface CertificateIdentity {
  readonly certType: CertType;
  readonly serial: bigint;
  readonly keyId: string;
  readonly principals: readonly string[];
  readonly validAfter: bigint;
  readonly validBefore: bigint;
  /** Critical options by name (`force-command`, `source-address`, ...). Values are plain strings. */
  readonly criticalOptions: Readonly<Record<string, string>>;
  /** Extensions by name; flag extensions such as `permit-pty` have the value ''. */
  readonly extensions: Readonly<Record<string, string>>;
}

/** A parsed certificate: identity plus everything needed to re-verify or re-encode it. */
export interface Certificate extends CertificateIdentity {
  readonly type: CertKeyType;
  readonly nonce: Buffer;
  /** The certified (subject) key. */
  readonly publicKey: PublicKey;
  /** The CA key that signed it. */
  readonly signatureKey: PublicKey;
  /** The CA's SSH signature blob (string algorithm, string signature). */
  readonly signature: Buffer;
  /** The bytes the CA signed: the blob up to and including the signature key. */
  readonly signedData: Buffer;
  /** The whole certificate blob as sent on the wire. */
  readonly blob: Buffer;
  readonly comment?: string;
}

/**
 * Input to {@link signCertificate}. Callers never set the validity window directly: it comes
 * from `ttlSeconds` and `now`, with `validAfter` backdated by `backdateSeconds` for clock skew.
 */
export interface CertificateRequest {
  readonly publicKey: PublicKey;
  readonly certType: CertType;
  /** Must be non-empty. */
  readonly keyId: string;
  /** Must be non-empty (an empty list would mean "any principal" to OpenSSH). */
  readonly principals: readonly string[];
  readonly ttlSeconds: number;
  /** Default: a random 63-bit serial. */
  readonly serial?: bigint;
  /** Default: `new Date()`. */
  readonly now?: Date;
  /** Default: 60. */
  readonly backdateSeconds?: number;
  readonly criticalOptions?: Readonly<Record<string, string>>;
  readonly extensions?: Readonly<Record<string, string>>;
}

/** Why a certificate was refused. Stable codes, used in logs, metrics and user messages. */
export type VerifyFailureReason =
  | 'malformed'
  | 'unsupported-key'
  /** The certified key is degenerate (small-order ed25519, RSA e < 65537 or even). */
  | 'weak-key'
  | 'wrong-type'
  | 'untrusted-ca'
  | 'bad-signature'
  | 'not-yet-valid'
  | 'expired'
  | 'principal-not-listed'
  | 'unknown-critical-option'
  | 'source-address-not-allowed'
  | 'revoked';

export interface VerifySuccess {
  readonly ok: true;
  readonly certificate: Certificate;
}

export interface VerifyFailure {
  readonly ok: false;
  readonly reason: VerifyFailureReason;
  /** Operator-facing detail, e.g. "expired 180s ago". Contains no secrets. */
  readonly message: string;
  /** Present when the blob parsed, so callers can log key id and serial of refused certs. */
  readonly certificate?: Certificate;
}

export type VerifyResult = VerifySuccess | VerifyFailure;

/** Anything that can say whether a certificate is revoked: a KRL, a per-user "not before", ... */
export interface RevocationChecker {
  isRevoked(cert: Certificate): boolean;
}

export interface VerifyOptions {
  /** CA public keys trusted to sign (several during rotation). */
  readonly trustedCAs: readonly PublicKey[];
  /** The clock, injected. */
  readonly now: Date;
  /** Default 'user'. */
  readonly certType?: CertType;
  /** When set, the certificate must list it among its principals. */
  readonly principal?: string;
  /** The client's address; enforced against a `source-address` critical option. */
  readonly sourceAddress?: string;
  readonly revoked?: RevocationChecker;
  /** Critical options the caller understands. Default: `force-command`, `source-address`. */
  readonly knownCriticalOptions?: readonly string[];
}

/** A key revocation list, parsed (PROTOCOL.krl). */
export interface Krl extends RevocationChecker {
  readonly version: bigint;
  readonly generatedDate: bigint;
  readonly comment: string;
  readonly sections: readonly KrlCertSection[];
  /** Explicitly revoked plain keys (wire blobs). */
  readonly revokedKeys: readonly Buffer[];
  /** SHA-1 hashes of revoked keys (parsed, rarely used). */
  readonly revokedSha1: readonly Buffer[];
  /** SHA-256 hashes of revoked key blobs. */
  readonly revokedSha256: readonly Buffer[];
  /** Whether a plain public key is revoked (by blob or hash). */
  isKeyRevoked(key: PublicKey): boolean;
}

export interface KrlCertSection {
  /** CA this section applies to; undefined means any CA. */
  readonly caKey?: PublicKey;
  /** Inclusive ranges; a single serial is [n, n]. */
  readonly serialRanges: readonly (readonly [bigint, bigint])[];
  readonly keyIds: readonly string[];
}

/** Input to {@link createKrl}. */
export interface KrlSpec {
  readonly version?: bigint;
  readonly comment?: string;
  readonly now?: Date;
  readonly certSections?: readonly KrlCertSection[];
  readonly revokedKeys?: readonly PublicKey[];
  readonly revokedSha256?: readonly PublicKey[];
}
