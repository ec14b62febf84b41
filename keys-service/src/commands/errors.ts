/**
 * Outcomes of admin commands that are not plain success. `main.ts` maps them to exit codes:
 * UsageError → 2, CheckFailed and AdminError → 1.
 */

/** Wrong or missing arguments: the user must change the command line. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** The command could not do its job (file exists, unreadable key, ...). */
export class AdminError extends Error {
  override readonly name = 'AdminError';
}

/**
 * A check answered "no" (verify refused the certificate, krl check found it revoked). The
 * answer was already printed, so nothing more is said.
 */
export class CheckFailed extends Error {
  override readonly name = 'CheckFailed';
}
