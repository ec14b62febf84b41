/**
 * `neetodeploy ssh-cert HOST`: run by ssh_config's `Match exec` before each `ssh APP.neetodeploy`.
 * Renews the app's certificate when needed. Always exits 0 so the Match block applies; problems
 * go to stderr in one line, and ssh then fails with the bastion's explanation.
 */
import { ensureAppCertificate } from '../app-certificates.js';
import type { Deps, CommandResult } from '../deps.js';
import { write } from '../io.js';
import { bastionMovedWarning, loadSshConfigRecord } from '../ssh-config-record.js';
import { withSpinner } from '../terminal.js';

export interface SshCertOptions {
  readonly host: string;
  readonly force?: boolean;
}

export async function runSshCert(options: SshCertOptions, deps: Deps): CommandResult {
  try {
    const session = await deps.api.session();
    const { issued } = await withSpinner(
      deps.io,
      `renewing the certificate for ${options.host}...`,
      () =>
        ensureAppCertificate(session.client, deps.config, options.host, {
          now: new Date(),
          ...(options.force ? { force: true } : {}),
        }),
    );
    // Only a new certificate tells where the bastion is now; a cached one was checked then.
    const moved = issued
      ? bastionMovedWarning(await loadSshConfigRecord(deps.config), issued.bastion)
      : undefined;
    if (moved !== undefined) await write(deps.io.stderr, `neetodeploy: ${moved}\n`);
  } catch (err) {
    await write(
      deps.io.stderr,
      `neetodeploy: no certificate for ${options.host}: ${(err as Error).message}\n`,
    );
  }
  return 0;
}
