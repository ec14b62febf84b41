import type { Certificate } from '@neetodeploy/sshcert';
import type { RefusalReason } from './verify.js';

function ago(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 90) return `${s} second${s === 1 ? '' : 's'}`;
  const m = Math.round(s / 60);
  if (m < 90) return `${m} minute${m === 1 ? '' : 's'}`;
  const h = Math.round(m / 60);
  if (h < 48) return `${h} hours`;
  return `${Math.round(h / 24)} days`;
}

/**
 * What the person at the terminal reads when authentication is refused: why, and what to run.
 * Contains nothing secret (no key material), only facts about their own certificate.
 */
export function refusalMessage(
  reason: RefusalReason,
  context: { now: Date; app?: string; ip: string; certificate?: Certificate; detail?: string },
): string {
  const cert = context.certificate;
  const nowS = context.now.getTime() / 1000;
  const app = context.app ?? 'APP';
  switch (reason) {
    case 'not-a-certificate':
      return `neetodeploy: plain SSH keys are not accepted, only short-lived neetodeploy certificates: run \`neetodeploy ssh-config --install\` and connect with \`ssh ${app}.neetodeploy\`, or use \`neetodeploy exec -a ${app}\``;
    case 'no-certificate':
      return `neetodeploy: no certificate was offered: run \`neetodeploy ssh-config --install\` and connect with \`ssh ${app}.neetodeploy\`, or use \`neetodeploy exec -a ${app}\``;
    case 'expired': {
      const when = cert ? ` ${ago(nowS - Number(cert.validBefore))} ago` : '';
      return `neetodeploy: certificate expired${when}: run \`neetodeploy login\`, then connect again`;
    }
    case 'not-yet-valid': {
      const when = cert ? ` for another ${ago(Number(cert.validAfter) - nowS)}` : '';
      return `neetodeploy: certificate is not valid yet${when}: check this computer's clock, then connect again`;
    }
    case 'untrusted-ca':
      return "neetodeploy: certificate is not signed by a CA this bastion trusts: run `neetodeploy login` against this bastion's keys-service";
    case 'principal-not-listed': {
      const granted =
        cert && cert.principals.length > 0 ? ` (it grants: ${cert.principals.join(', ')})` : '';
      return `neetodeploy: certificate does not grant access to app \`${app}\`${granted}: run \`neetodeploy apps\` to see the apps you can use`;
    }
    case 'revoked':
      return 'neetodeploy: certificate has been revoked: run `neetodeploy login` to get a new one';
    case 'unknown-critical-option':
      return `neetodeploy: certificate carries a restriction this bastion does not support${context.detail ? ` (${context.detail})` : ''}: ask your administrator`;
    case 'source-address-not-allowed':
      return `neetodeploy: certificate may not be used from ${context.ip}: connect from the network it was issued for, or run \`neetodeploy login\` again from here`;
    case 'wrong-type':
      return 'neetodeploy: a host certificate cannot be used to log in: run `neetodeploy login`';
    case 'no-trust':
      return 'neetodeploy: the bastion cannot verify certificates right now: try again in a minute';
    case 'weak-key':
      return 'neetodeploy: the certified key is degenerate and is not accepted: run `neetodeploy login`, then connect again';
    case 'malformed':
    case 'unsupported-key':
    case 'bad-signature':
    case 'bad-userauth-signature':
    case 'signature-algorithm-mismatch':
      return `neetodeploy: certificate is invalid (${reason}): run \`neetodeploy login\`, then connect again`;
  }
}
