/**
 * Issuing user certificates: the token's user, the policy's `exec` grant on the app, a sound
 * public key; then a short-lived certificate for that app only, recorded as an audit event.
 */
import { ContractError, encodeKeyId } from '@neetodeploy/contract';
import type { IssuedCertificate } from '@neetodeploy/contract';
import { AccessDenied, BadRequest, NotFound } from '@neetodeploy/platform';
import { RECORDING_EXTENSION } from '@neetodeploy/recording';
import {
  SshCertError,
  checkPublicKeyStrength,
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
import { requireAppName, requireProcessType } from './names.js';

export interface IssueCertificateInput {
  readonly app: string;
  /** OpenSSH public key line (`ssh-ed25519 AAAA... comment`). */
  readonly publicKey: string;
  /** Process type the session will exec into; checked against the platform when there is one. */
  readonly process?: string;
  readonly clientIp: string;
}

/** Why a key is refused, in words for the user; the library's reason says exactly what. */
function weakKeyMessage(reason: string): string {
  return `the public key is too weak: ${reason} (use ed25519, ECDSA, or RSA >= 2048 bits with e = 65537)`;
}

function parseClientKey(text: string): PublicKey {
  let key: PublicKey;
  try {
    key = parsePublicKeyText(text);
  } catch (err) {
    if (err instanceof SshCertError) {
      const why =
        err.code === 'weak-key'
          ? weakKeyMessage(err.message)
          : err.code === 'unsupported-key'
            ? 'this public key type is not supported: use ed25519, ECDSA or RSA >= 2048 bits'
            : 'the public key is malformed';
      throw new BadRequest(why, { code: 'invalid_public_key', cause: err });
    }
    throw err;
  }
  // Checked here too, not only inside the parser: a degenerate key (small-order ed25519 point,
  // RSA e = 1 or 3) makes its certificate a bearer credential, so this use-case must not
  // depend on a parser detail to refuse it.
  const weak = checkPublicKeyStrength(key);
  if (weak) throw new BadRequest(weakKeyMessage(weak), { code: 'invalid_public_key' });
  return key;
}

/**
 * The key id the bastion decodes. A user the contract cannot name (a control character, or an
 * absurdly long email from an identity provider) is refused rather than written ambiguously.
 */
function keyIdFor(email: string, requestId: string): string {
  try {
    return encodeKeyId({ user: email, requestId });
  } catch (err) {
    if (err instanceof ContractError) {
      throw new BadRequest('your account name cannot be written into a certificate', {
        code: err.code,
        cause: err,
      });
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
  requireAppName(input.app);
  requireProcessType(input.process);
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
  const keyId = keyIdFor(caller.email, requestId);
  const extensions: Record<string, string> = { 'permit-pty': '' };
  if (grant.permissions.has('port-forward')) extensions['permit-port-forwarding'] = '';
  // Absent means `full` to the bastion, so only a weaker policy needs saying.
  if (grant.recording !== 'full') extensions[RECORDING_EXTENSION] = grant.recording;
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
    key_id: keyId,
    request_id: requestId,
    principals: [...cert.principals],
    valid_after: validAfter.toISOString(),
    valid_before: validBefore.toISOString(),
    bastion: {
      host: ctx.config.bastion.host,
      port: ctx.config.bastion.port,
      known_hosts: knownHostsLine(ctx),
    },
  };
}
