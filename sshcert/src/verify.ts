import { SshCertError } from './errors.js';
import { checkPublicKeyStrength } from './key-strength.js';
import { SshCertificate, parseCertificateInternal } from './certificate.js';
import { matchSourceAddress } from './source-address.js';
import {
  DEFAULT_SIGNATURE_ALGORITHMS,
  parseSignature,
  verifyParsed,
  type ParsedSignature,
} from './signature.js';
import type {
  Certificate,
  VerifyFailure,
  VerifyFailureReason,
  VerifyOptions,
  VerifyResult,
} from './types.js';

const DEFAULT_KNOWN_CRITICAL = ['force-command', 'source-address'] as const;

function fail(
  reason: VerifyFailureReason,
  message: string,
  certificate?: Certificate,
): VerifyFailure {
  return certificate ? { ok: false, reason, message, certificate } : { ok: false, reason, message };
}

/** OpenSSH host-certificate principals may be patterns (`*`, `?`). */
function matchPattern(pattern: string, name: string): boolean {
  if (!pattern.includes('*') && !pattern.includes('?')) return pattern === name;
  let re = '^';
  for (const ch of pattern) {
    re += ch === '*' ? '.*' : ch === '?' ? '.' : ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return new RegExp(re + '$', 's').test(name);
}

/**
 * Verifies a certificate (parsed or as its wire blob) against trusted CAs at the injected time.
 * Pure: no I/O, no clock. Never throws for a bad certificate; returns the first failing check in
 * this order: malformed/unsupported-key, weak-key, wrong-type, untrusted-ca, bad-signature, not-yet-valid,
 * expired, principal-not-listed, unknown-critical-option, source-address-not-allowed, revoked.
 */
export function verifyCertificate(
  certOrBlob: Certificate | Buffer,
  options: VerifyOptions,
): VerifyResult {
  let cert: Certificate;
  if (Buffer.isBuffer(certOrBlob)) {
    try {
      cert = parseCertificateInternal(certOrBlob);
    } catch (err) {
      if (err instanceof SshCertError) {
        const reason =
          err.code === 'unsupported-key' || err.code === 'weak-key'
            ? 'unsupported-key'
            : 'malformed';
        return fail(reason, err.message);
      }
      throw err;
    }
  } else {
    cert = certOrBlob;
  }

  // Before any other check: a small-order or e=1 key makes the holder's signature meaningless.
  const weak = checkPublicKeyStrength(cert.publicKey);
  if (weak) return fail('weak-key', weak, cert);

  const wantType = options.certType ?? 'user';
  if (cert.certType !== wantType) {
    return fail(
      'wrong-type',
      `a ${cert.certType} certificate was presented where a ${wantType} one is required`,
      cert,
    );
  }

  const caBlob = cert.signatureKey.blob;
  const ca = options.trustedCAs.find((k) => k.blob.equals(caBlob));
  if (!ca)
    return fail('untrusted-ca', 'the certificate is signed by a CA that is not trusted', cert);

  let sigOk = false;
  try {
    const sig: ParsedSignature =
      cert instanceof SshCertificate ? cert.parsedSignature : parseSignature(cert.signature);
    sigOk =
      DEFAULT_SIGNATURE_ALGORITHMS.includes(sig.algorithm) &&
      verifyParsed(ca.type, ca.bits, ca.keyObject, cert.signedData, sig);
  } catch (err) {
    if (!(err instanceof SshCertError)) throw err;
  }
  if (!sigOk) return fail('bad-signature', 'the CA signature does not verify', cert);

  const now = BigInt(Math.floor(options.now.getTime() / 1000));
  if (now < cert.validAfter) {
    return fail('not-yet-valid', `not valid for another ${cert.validAfter - now}s`, cert);
  }
  if (now >= cert.validBefore) {
    return fail('expired', `expired ${now - cert.validBefore}s ago`, cert);
  }

  if (options.principal !== undefined) {
    const p = options.principal;
    const listed =
      wantType === 'host'
        ? cert.principals.some((x) => matchPattern(x, p))
        : cert.principals.includes(p);
    if (!listed) {
      return fail('principal-not-listed', `${JSON.stringify(p)} is not a listed principal`, cert);
    }
  }

  const known: readonly string[] = options.knownCriticalOptions ?? DEFAULT_KNOWN_CRITICAL;
  for (const name in cert.criticalOptions) {
    if (!known.includes(name)) {
      return fail(
        'unknown-critical-option',
        `unknown critical option ${JSON.stringify(name)}`,
        cert,
      );
    }
  }

  const sourceList = Object.hasOwn(cert.criticalOptions, 'source-address')
    ? cert.criticalOptions['source-address']
    : undefined;
  if (sourceList !== undefined) {
    if (options.sourceAddress === undefined) {
      return fail(
        'source-address-not-allowed',
        'the certificate is bound to source addresses; none given',
        cert,
      );
    }
    let allowed = false;
    try {
      allowed = matchSourceAddress(sourceList, options.sourceAddress);
    } catch (err) {
      if (!(err instanceof SshCertError)) throw err;
      return fail(
        'source-address-not-allowed',
        `invalid source-address list: ${err.message}`,
        cert,
      );
    }
    if (!allowed) {
      return fail(
        'source-address-not-allowed',
        `${options.sourceAddress} is not an allowed source address`,
        cert,
      );
    }
  }

  if (options.revoked?.isRevoked(cert)) return fail('revoked', 'the certificate is revoked', cert);
  return { ok: true, certificate: cert };
}

/** {@link verifyCertificate} for user certificates (certType forced to `user`). */
export function verifyUserCertificate(
  certOrBlob: Certificate | Buffer,
  options: VerifyOptions,
): VerifyResult {
  return verifyCertificate(certOrBlob, { ...options, certType: 'user' });
}
