/**
 * The pure part of authentication: a publickey attempt in, a verified identity or a typed
 * refusal out. The ssh2 handler only adapts its context to this (see ./authenticator.ts).
 */
import type { Certificate, VerifyFailureReason } from '@neetodeploy/sshcert';
import {
  isCertificateAlgorithm,
  verifySignature,
  verifyUserCertificate,
} from '@neetodeploy/sshcert';
import type { TrustSnapshot } from '../trust/index.js';
import { keyIdParts } from '../trust/index.js';
import type { VerifiedIdentity } from '../types.js';

export type RefusalReason =
  | VerifyFailureReason
  | 'not-a-certificate'
  | 'no-certificate'
  | 'no-trust'
  | 'bad-userauth-signature'
  | 'signature-algorithm-mismatch';

export interface PublicKeyAttempt {
  /** Algorithm the client named, e.g. `ssh-ed25519-cert-v01@openssh.com`. */
  readonly algo: string;
  /** The key blob (a certificate blob for certificate algorithms). */
  readonly keyData: Buffer;
  /** The whole SSH signature blob; absent in the "is this key acceptable?" round. */
  readonly signature?: Buffer;
  /** The data the client signed (session id + userauth request). */
  readonly signedData?: Buffer;
}

export interface CheckOptions {
  readonly trust: TrustSnapshot | undefined;
  readonly now: Date;
  readonly ip: string;
  /** When set, the certificate must list it (the virtual host's app). */
  readonly principal?: string;
  /**
   * A certificate this connection's carrier already parsed: a ProxyJump client offers the same
   * one again, which is then checked in full but not parsed (nor held) a second time.
   */
  readonly known?: Certificate;
}

export type CheckResult =
  | { readonly ok: true; readonly identity: VerifiedIdentity; readonly signed: boolean }
  | {
      readonly ok: false;
      readonly reason: RefusalReason;
      /** Operator-facing detail. */
      readonly message: string;
      readonly certificate?: Certificate;
    };

/** Critical options the bastion enforces; anything else in a certificate is refused. */
export const KNOWN_CRITICAL_OPTIONS: readonly string[] = ['source-address'];

/** The signature algorithm a client must use with a certificate algorithm, or undefined. */
export function signatureAlgorithmFor(certAlgo: string): string | undefined {
  switch (certAlgo) {
    case 'ssh-ed25519-cert-v01@openssh.com':
      return 'ssh-ed25519';
    case 'ecdsa-sha2-nistp256-cert-v01@openssh.com':
      return 'ecdsa-sha2-nistp256';
    case 'ecdsa-sha2-nistp384-cert-v01@openssh.com':
      return 'ecdsa-sha2-nistp384';
    case 'ecdsa-sha2-nistp521-cert-v01@openssh.com':
      return 'ecdsa-sha2-nistp521';
    case 'rsa-sha2-256-cert-v01@openssh.com':
      return 'rsa-sha2-256';
    case 'rsa-sha2-512-cert-v01@openssh.com':
      return 'rsa-sha2-512';
    default:
      // ssh-rsa-cert-v01 means SHA-1 signatures: refused, as OpenSSH >= 8.8 does by default.
      return undefined;
  }
}

/** The blob's own type name, which for RSA is `ssh-rsa-cert-v01@openssh.com` whatever the hash. */
function blobTypeFor(certAlgo: string): string {
  return certAlgo.startsWith('rsa-sha2-') ? 'ssh-rsa-cert-v01@openssh.com' : certAlgo;
}

/** Reads the algorithm name at the start of an SSH signature blob. */
export function signatureAlgorithmOf(signature: Buffer): string | undefined {
  if (signature.length < 4) return undefined;
  const len = signature.readUInt32BE(0);
  if (len > 64 || 4 + len > signature.length) return undefined;
  return signature.subarray(4, 4 + len).toString('latin1');
}

function refuse(reason: RefusalReason, message: string, certificate?: Certificate): CheckResult {
  return { ok: false, reason, message, certificate };
}

export function checkPublicKey(attempt: PublicKeyAttempt, options: CheckOptions): CheckResult {
  if (!isCertificateAlgorithm(attempt.algo)) {
    return refuse('not-a-certificate', `plain ${attempt.algo} key offered`);
  }
  if (!options.trust) return refuse('no-trust', 'no trusted CA loaded yet');
  const sigAlgo = signatureAlgorithmFor(attempt.algo);
  if (!sigAlgo)
    return refuse('unsupported-key', `certificate algorithm ${attempt.algo} not accepted`);

  const { known } = options;
  const offered = known?.blob.equals(attempt.keyData) ? known : attempt.keyData;
  const verified = verifyUserCertificate(offered, {
    trustedCAs: options.trust.userCAs,
    now: options.now,
    certType: 'user',
    principal: options.principal,
    sourceAddress: options.ip,
    revoked: options.trust.revoked,
    knownCriticalOptions: KNOWN_CRITICAL_OPTIONS,
  });
  if (!verified.ok) return refuse(verified.reason, verified.message, verified.certificate);
  const cert = verified.certificate;
  if (cert.type !== blobTypeFor(attempt.algo)) {
    return refuse(
      'malformed',
      `algorithm ${attempt.algo} does not match certificate ${cert.type}`,
      cert,
    );
  }

  let signed = false;
  if (attempt.signature) {
    const used = signatureAlgorithmOf(attempt.signature);
    if (used !== sigAlgo) {
      return refuse(
        'signature-algorithm-mismatch',
        `signature ${used ?? '?'} for ${attempt.algo}`,
        cert,
      );
    }
    if (
      !attempt.signedData ||
      !verifySignature(cert.publicKey, attempt.signedData, attempt.signature)
    ) {
      return refuse(
        'bad-userauth-signature',
        'userauth signature does not verify with the certified key',
        cert,
      );
    }
    signed = true;
  }

  const { user, requestId } = keyIdParts(cert.keyId);
  return {
    ok: true,
    signed,
    identity: {
      user,
      keyId: cert.keyId,
      requestId,
      serial: cert.serial,
      principals: cert.principals,
      extensions: cert.extensions,
      validBefore: cert.validBefore,
      certificate: cert,
    },
  };
}
