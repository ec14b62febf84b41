import { BadRequest } from '@neetodeploy/platform';
import { revokeCertificateSerial, revokeUser } from '../domain/index.js';
import type { StoreLocation } from './context.js';
import { openStoreContext } from './context.js';
import type { CommandIo } from './io.js';

export interface RevokeOptions extends StoreLocation {
  readonly user?: string;
  readonly serial?: string;
}

/**
 * `neetodeploy-keys revoke --user EMAIL`: revokes every API token of the user and sets their
 * "not before" to now, so bastions refuse certificates issued earlier.
 * `neetodeploy-keys revoke --serial N`: puts one certificate serial (from the audit log) in the KRL.
 */
export async function runRevoke(options: RevokeOptions, io: CommandIo): Promise<void> {
  if ((options.user === undefined) === (options.serial === undefined)) {
    throw new BadRequest('give exactly one of --user EMAIL or --serial N');
  }
  let serial: bigint | undefined;
  if (options.serial !== undefined) {
    if (!/^\d{1,20}$/.test(options.serial) || BigInt(options.serial) > 0xffffffffffffffffn) {
      throw new BadRequest(`not a certificate serial (uint64): ${options.serial}`);
    }
    serial = BigInt(options.serial);
  }
  if (options.user !== undefined && !/^[^\s@:]+@[^\s@:]+$/.test(options.user.trim())) {
    throw new BadRequest(`not an email address: ${options.user}`);
  }
  const ctx = openStoreContext(options);
  try {
    if (serial !== undefined) {
      await revokeCertificateSerial(ctx, serial);
      io.stdout.write(`certificate serial ${serial} is in the KRL\n`);
      return;
    }
    const result = await revokeUser(ctx, options.user ?? '');
    io.stdout.write(
      `revoked ${result.tokensRevoked} token(s) of ${result.email}; certificates valid from before ${new Date(
        result.notBefore * 1000,
      ).toISOString()} are refused\n`,
    );
  } finally {
    await ctx.store.close();
  }
}
