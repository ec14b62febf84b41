/** What every stage of the bastion fuzzer receives and returns. */
import type { PrivateKey } from '@neetodeploy/sshcert';
import type { ParsedKey } from 'ssh2';
import type { PacketTap } from './packet-hook.js';
import type { Rng } from './prng.js';
import { MSG } from './ssh-messages.js';

export interface StageContext {
  readonly port: number;
  /** A user key with a valid certificate for `demo` (permit-pty only). */
  readonly user: { readonly key: PrivateKey; readonly cert: Buffer; readonly ssh2Key: ParsedKey };
  /** The trusted user CA, and one the bastion does not trust. */
  readonly ca: PrivateKey;
  readonly otherCa: PrivateKey;
  /** Leave out channel opens with a maximum packet size of 0 (a known hang, see ssh-messages). */
  readonly avoidZeroPacketSize: boolean;
}

export interface CaseReport {
  /** A short label counted in the summary ("closed", "refused", "mac-failure", ...). */
  readonly outcome: string;
  /** Set when the bastion granted something it must not: an invariant violation. */
  readonly failure?: string;
}

export interface Stage {
  readonly name: string;
  readonly description: string;
  run(ctx: StageContext, rng: Rng): Promise<CaseReport>;
}

/** What the server said after key exchange that matters for "no acceptance". */
export interface ServerWatch {
  authenticated: boolean;
  /** Channel opens, global or channel requests granted before USERAUTH_SUCCESS. */
  readonly grantsBeforeAuth: string[];
}

export function watchServer(tap: PacketTap): ServerWatch {
  const watch: ServerWatch = { authenticated: false, grantsBeforeAuth: [] };
  const previous = tap.onReceive;
  tap.onReceive = (payload) => {
    previous?.(payload);
    const type = payload[0];
    if (type === MSG.USERAUTH_SUCCESS) watch.authenticated = true;
    else if (
      !watch.authenticated &&
      (type === MSG.CHANNEL_OPEN_CONFIRMATION ||
        type === MSG.REQUEST_SUCCESS ||
        type === MSG.CHANNEL_SUCCESS)
    ) {
      watch.grantsBeforeAuth.push(`message ${type}`);
    }
  };
  return watch;
}
