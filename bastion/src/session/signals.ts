/**
 * The signal names RFC 4254 section 6.10 defines: the only ones a client may send (`signal`)
 * and the only ones ssh2 will put in an `exit-signal` (OpenSSH's sshd accepts the same).
 */
export const SSH_SIGNALS: ReadonlySet<string> = new Set([
  'ABRT',
  'ALRM',
  'FPE',
  'HUP',
  'ILL',
  'INT',
  'KILL',
  'PIPE',
  'QUIT',
  'SEGV',
  'TERM',
  'USR1',
  'USR2',
]);
