import { fingerprint, verifyCertificate, type Certificate } from '@neetodeploy/sshcert';
import type { AdminDeps } from './deps.js';
import { CheckFailed } from './errors.js';
import { readCertificateFile, readPublicKeysFile, resolvePath } from './parse.js';
import { isoOf } from './sign.js';

export interface VerifyOptions {
  readonly caPub: string;
  readonly cert: string;
  readonly principal?: string;
  readonly host?: boolean;
  readonly sourceAddress?: string;
  readonly json?: boolean;
}

function describe(cert: Certificate): string {
  const opts = (o: Readonly<Record<string, string>>): string =>
    Object.entries(o)
      .map(([k, v]) => (v === '' ? k : `${k}=${v}`))
      .join(' ') || '(none)';
  return [
    `type: ${cert.certType} certificate (${cert.type})`,
    `key id: ${cert.keyId}`,
    `serial: ${cert.serial}`,
    `principals: ${cert.principals.join(',')}`,
    `valid: ${isoOf(cert.validAfter)} to ${isoOf(cert.validBefore)}`,
    `critical options: ${opts(cert.criticalOptions)}`,
    `extensions: ${opts(cert.extensions)}`,
    `key: ${fingerprint(cert.publicKey)}`,
    `signed by: ${fingerprint(cert.signatureKey)}`,
  ].join('\n');
}

function toJson(cert: Certificate): Record<string, unknown> {
  return {
    certType: cert.certType,
    type: cert.type,
    keyId: cert.keyId,
    serial: cert.serial.toString(),
    principals: cert.principals,
    validAfter: cert.validAfter.toString(),
    validBefore: cert.validBefore.toString(),
    criticalOptions: { ...cert.criticalOptions },
    extensions: { ...cert.extensions },
    fingerprint: fingerprint(cert.publicKey),
    caFingerprint: fingerprint(cert.signatureKey),
  };
}

/** Verifies a certificate file against CA public key(s) now; prints the identity or the reason. */
export function runVerify(options: VerifyOptions, deps: AdminDeps): void {
  const trustedCAs = readPublicKeysFile(resolvePath(deps.cwd, options.caPub), 'CA public key');
  const cert = readCertificateFile(resolvePath(deps.cwd, options.cert));
  const result = verifyCertificate(cert, {
    trustedCAs,
    now: deps.now(),
    certType: options.host ? 'host' : 'user',
    ...(options.principal === undefined ? {} : { principal: options.principal }),
    ...(options.sourceAddress === undefined ? {} : { sourceAddress: options.sourceAddress }),
  });
  if (result.ok) {
    deps.io.stdout.write(
      options.json
        ? `${JSON.stringify({ ok: true, certificate: toJson(cert) })}\n`
        : `ok\n${describe(cert)}\n`,
    );
    return;
  }
  deps.io.stdout.write(
    options.json
      ? `${JSON.stringify({ ok: false, reason: result.reason, message: result.message })}\n`
      : `refused: ${result.reason}: ${result.message}\n`,
  );
  throw new CheckFailed(result.reason);
}
