/**
 * What `exec -- ARGS...` runs, with ssh's and kubectl's meanings side by side: one argument is a
 * shell command line (as `ssh host 'cmd'`), two or more are an argument vector that must reach
 * the console unchanged (as `kubectl exec`, `docker exec`). SSH carries only a string that the
 * remote shell parses, so each word of a vector is quoted for a POSIX shell.
 */

/**
 * `it's` → `'it'\''s'`: single quotes keep every byte literal in a POSIX shell, and a single
 * quote itself is closed, escaped, and reopened. Words of only safe characters stay bare so the
 * audit log stays readable.
 */
export function shellQuote(word: string): string {
  if (word !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(word)) return word;
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

/** The command string to send; undefined for an interactive shell (no arguments). */
export function remoteCommand(args: readonly string[]): string | undefined {
  if (args.length === 0) return undefined;
  if (args.length === 1) return args[0];
  return args.map(shellQuote).join(' ');
}
