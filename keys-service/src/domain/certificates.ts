/**
 * Issuing user certificates: the token's user, the policy's `exec` grant on the app, a sound
 * public key; then a short-lived certificate for that app only, recorded as an audit event.
 */
import { APP_NAME_PATTERN, AccessDenied, BadRequest, NotFound } from '@neetodeploy/platform';
import {
  SshCertError,
  encodeCertificateText,
  fingerprint,
  parsePublicKeyText,
  secureRandomBytes,
  signCertificate,
} from '@neetodeploy/sshcert';
import type { PublicKey } from '@neetodeploy/sshcert';
import { EVENTS } from '../events.js';
import type { Caller, DomainContext } from './context.js';
import { recordAudit, unixSeconds } from './context.js';

export const PROCESS_NAME_PATTERN = /^[a-z0-9][-a-z0-9_]{0,62}$/;

export interface IssueCertificateInput {
  readonly app: string;
  /** OpenSSH public key line (`ssh-ed25519 AAAA... comment`). */
  readonly publicKey: string;
  /** Process type the session will exec into; checked against the platform when there is one. */
  readonly process?: string;
  readonly clientIp: string;
}

export interface IssuedCertificate {
  /** `ssh-ed25519-cert-v01@openssh.com AAAA...` */
  readonly certificate: string;
  readonly serial: string;
  readonly keyId: string;
  readonly requestId: string;
  readonly principals: readonly string[];
  readonly validAfter: Date;
  readonly validBefore: Date;
  readonly bastion: { readonly host: string; readonly port: number; readonly knownHosts: string };
}

function parseClientKey(text: string): PublicKey {
  try {
    return parsePublicKeyText(text);
  } catch (err) {
    if (err instanceof SshCertError) {
      const why =
        err.code === 'weak-key'
          ? 'the public key is too weak (RSA keys need at least 2048 bits)'
          : err.code === 'unsupported-key'
            ? 'this public key type is not supported: use ed25519, ECDSA or RSA >= 2048 bits'
            : 'the public key is malformed';
      throw new BadRequest(why, { code: 'invalid_public_key', cause: err });
    }
    throw err;
  }
}

/**
 * The known_hosts text a client uses to trust the bastion: always the `@cert-authority` line
 * for the host CA (stock ssh verifies the bastion's host certificate with it), and, when
 * `bastion.pinnedHostKey` is set, a second line pinning that key for `[host]:port`, because
 * ssh2's client (the CLI's `exec`) cannot verify host certificates and checks the plain key.
 * Lines are separated by `\n`; clients keep every line they understand.
 */
export function knownHostsLine(ctx: Pick<DomainContext, 'config' | 'authorities'>): string {
  const { bastion } = ctx.config;
  const patterns = bastion.hostPatterns ?? `${bastion.host},*.neetodeploy`;
  const caLine = `@cert-authority ${patterns} ${ctx.authorities.hostCaKeyLine}`;
  if (!bastion.pinnedHostKey) return caLine;
  const hostPart = bastion.port === 22 ? bastion.host : `[${bastion.host}]:${bastion.port}`;
  return `${caLine}\n${hostPart} ${bastion.pinnedHostKey.trim()}`;
}

export async function issueCertificate(
  ctx: DomainContext,
  caller: Caller,
  input: IssueCertificateInput,
): Promise<IssuedCertificate> {
  if (!APP_NAME_PATTERN.test(input.app)) {
    throw new BadRequest('app names are DNS labels: lower-case letters, digits and dashes', {
      code: 'invalid_app_name',
    });
  }
  if (input.process !== undefined && !PROCESS_NAME_PATTERN.test(input.process)) {
    throw new BadRequest('invalid process type name', { code: 'invalid_process' });
  }
  const grant = ctx.policy.current().grantFor(caller, input.app);
  if (!grant.permissions.has('exec')) {
    // Same answer whether the app exists or not: no probing of app names.
    throw new AccessDenied(`you may not open consoles on ${input.app}`, { code: 'access_denied' });
  }
  if (ctx.platform) {
    const app = await ctx.platform.getApp(input.app);
    if (input.process !== undefined && !app.processTypes.includes(input.process)) {
      throw new NotFound(`${input.app} has no process type ${input.process}`, {
        code: 'unknown_process',
      });
    }
  }
  const publicKey = parseClientKey(input.publicKey);

  // Backdate for clock skew, but never before the user's "not before" (revocation).
  const now = ctx.clock();
  const nowSeconds = unixSeconds(now);
  // Read with the token, in the same request (one store read for both).
  const notBefore = caller.notBefore;
  let backdateSeconds = ctx.config.certificates.backdateSeconds;
  let issueAt = now;
  if (notBefore !== undefined) {
    if (notBefore > nowSeconds) {
      backdateSeconds = 0;
      issueAt = new Date(notBefore * 1000);
    } else {
      backdateSeconds = Math.min(backdateSeconds, nowSeconds - notBefore);
    }
  }

  const requestId = secureRandomBytes(12).toString('base64url');
  const keyId = `${caller.email}:${requestId}`;
  const extensions: Record<string, string> = { 'permit-pty': '' };
  if (grant.permissions.has('port-forward')) extensions['permit-port-forwarding'] = '';
  const criticalOptions: Record<string, string> = {};
  if (grant.sourceAddress) criticalOptions['source-address'] = grant.sourceAddress;

  const cert = signCertificate(
    {
      publicKey,
      certType: 'user',
      keyId,
      principals: [input.app],
      ttlSeconds: ctx.config.certificates.ttlSeconds,
      now: issueAt,
      backdateSeconds,
      criticalOptions,
      extensions,
    },
    ctx.authorities.userSigningKey,
  );
  const validAfter = new Date(Number(cert.validAfter) * 1000);
  const validBefore = new Date(Number(cert.validBefore) * 1000);
  const serial = cert.serial.toString();

  await recordAudit(ctx, {
    type: EVENTS.certificateIssued,
    at: now,
    actor: caller.email,
    app: input.app,
    clientIp: input.clientIp,
    details: {
      serial,
      requestId,
      keyId,
      keyFingerprint: fingerprint(publicKey),
      validAfter: validAfter.toISOString(),
      validBefore: validBefore.toISOString(),
      process: input.process ?? null,
      portForwarding: grant.permissions.has('port-forward'),
    },
  });
  ctx.metrics.certificatesIssued.inc();

  return {
    certificate: encodeCertificateText(cert),
    serial,
    keyId,
    requestId,
    principals: cert.principals,
    validAfter,
    validBefore,
    bastion: {
      host: ctx.config.bastion.host,
      port: ctx.config.bastion.port,
      knownHosts: knownHostsLine(ctx),
    },
  };
}
