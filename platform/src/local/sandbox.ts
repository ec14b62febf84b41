/**
 * The command lines that run an app's process isolated: pure functions of the app, its folder
 * and the tools found on the host (see isolation.ts for which one is used when).
 *
 * - `user` (the server runs as root): `setpriv` drops to the app's own unprivileged uid and gid,
 *   with no supplementary groups and no way to regain privileges (setuid binaries, file caps).
 *   The process itself is the one node started, so signals and exit statuses are unchanged.
 * - `sandbox` (bubblewrap): a mount namespace that sees the host read-only, with the data dir,
 *   homes and temporary dirs replaced by empty ones and only the app's folder bound back
 *   (writable), and a pid namespace whose /proc shows the sandbox's processes only.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';

/** Per-app uids/gids: far above login users (1000+) and the usual subuid ranges (100000+). */
export const APP_UID_BASE = 1_000_000_000;
const APP_UID_SPAN = 1_000_000_000;

/** A stable uid (also the gid) for an app: the same on every start and on every host. */
export function appUid(app: string): number {
  const digest = createHash('sha256').update(`neetodeploy-app:${app}`).digest();
  return APP_UID_BASE + (digest.readUInt32BE(0) % APP_UID_SPAN);
}

export type Argv = [string, ...string[]];

export interface UserTools {
  readonly unshare: string;
  readonly setpriv: string;
}

export interface UserLayout {
  /** Covered by an empty tmpfs that app users may search: the data dir, or the closed folder above it. */
  readonly hide: string;
  /** Bound back under `hide`: the app's folder (writable by the app's uid). */
  readonly appDir: string;
  /** Bound back under `hide` when inside it: the node install the demo app runs. */
  readonly readOnly: readonly string[];
  /** Bound over /etc/passwd: the host's plus the app's user (sftp-server needs one). */
  readonly passwd: string;
  /** The file {@link userFstab} wrote for this layout. */
  readonly fstab: string;
}

/** Single-quoted for sh. */
function q(value: string | number): string {
  return `'${String(value).replaceAll("'", `'\\''`)}'`;
}

/** The fd that holds the `i`th of {@link userBinds}'s folders open (after stdin/out/err). */
const bindFd = (i: number): number => i + 3;

/** The folders bound back under the tmpfs, as [source, target]: fds 3, 4, ... in this order. */
function userBinds(layout: Omit<UserLayout, 'fstab'>): [string, string][] {
  return [
    [layout.appDir, layout.appDir],
    [layout.passwd, '/etc/passwd'],
    ...layout.readOnly
      .filter((dir) => isInside(dir, layout.hide))
      .map((dir): [string, string] => [dir, dir]),
  ];
}

/** fstab's escapes for the characters that would split or end a field. */
function fstabField(value: string): string {
  return value.replace(/[\\ \t\n]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
}

/**
 * The mounts of {@link userArgv} as one fstab, so that a single `mount -a` makes them all (each
 * `mount` started is a few milliseconds of every console's start): the tmpfs over `hide`, then
 * the binds from the folders held open as fds 3, 4, ... (their paths are covered by then).
 * X-mount.mkdir makes the mount points in the empty tmpfs.
 */
export function userFstab(layout: Omit<UserLayout, 'fstab'>): string {
  const lines = [`nd-isolation ${fstabField(layout.hide)} tmpfs mode=0755,size=1m 0 0`];
  userBinds(layout).forEach(([, dst], i) => {
    lines.push(`/proc/self/fd/${bindFd(i)} ${fstabField(dst)} none bind,X-mount.mkdir 0 0`);
  });
  return `${lines.join('\n')}\n`;
}

/**
 * Root only. `unshare --mount` gives the process a private mount table without a new process
 * (signals and exit statuses stay exact); as root, sh hides the data dir there and binds back
 * the app's folder at its own path (reachable even below a 0700 folder such as /root), all in
 * one `mount -a` of the layout's fstab ({@link userFstab}), then `setpriv` drops to the app's uid
 * for good. Folders are held open first (fd 3...) and bound through /proc/self/fd, since their
 * paths are covered once the tmpfs is mounted.
 */
export function userArgv(
  tools: UserTools,
  layout: UserLayout,
  uid: number,
  argv: readonly [string, ...string[]],
): Argv {
  const binds = userBinds(layout);
  const script = [
    'set -e',
    `exec ${binds.map(([src], i) => `${bindFd(i)}<${q(src)}`).join(' ')}`,
    // --no-canonicalize: /proc/self/fd/N must be resolved by mount(2), in this process.
    `mount --no-canonicalize --all --fstab ${q(layout.fstab)}`,
    `exec ${binds.map((_, i) => `${bindFd(i)}<&-`).join(' ')}`,
    `cd ${q(layout.appDir)}`,
    `exec ${q(tools.setpriv)} --reuid=${uid} --regid=${uid} --clear-groups --no-new-privs -- "$@"`,
  ].join('\n');
  return [
    tools.unshare,
    '--mount',
    '--propagation',
    'private',
    '--',
    '/bin/sh',
    '-c',
    script,
    'nd-isolation',
    ...argv,
  ];
}

export interface SandboxTools {
  readonly bwrap: string;
  /** GNU `env`, for --ignore-signal / --default-signal (coreutils 8.31+). */
  readonly env: string;
}

export interface SandboxLayout {
  /** Replaced by an empty, writable tmpfs of the sandbox's own (/tmp, /var/tmp). */
  readonly scratch: readonly string[];
  /** Replaced by an empty, read-only tmpfs (the data dir, homes). */
  readonly hidden: readonly string[];
  /** Bound back read-only inside hidden dirs (the node install the demo app runs). */
  readonly readOnly: readonly string[];
  /** The app's folder: bound back writable, the working directory. */
  readonly appDir: string;
}

function isInside(dir: string, parent: string): boolean {
  const rel = path.relative(parent, dir);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** Drops dirs inside another listed dir (the outer tmpfs already hides them) and `/`. */
export function outermost(dirs: readonly string[]): string[] {
  const unique = [...new Set(dirs.map((d) => path.resolve(d)))].filter((d) => d !== '/');
  return unique.filter((d) => !unique.some((other) => other !== d && isInside(d, other)));
}

/**
 * What a console's process group may be sent (by signal() or its terminal). Never CHLD: bwrap
 * (before 0.10) waits for its child through SIGCHLD and would hang with it ignored.
 */
const GROUP_SIGNALS =
  'HUP,INT,QUIT,ABRT,USR1,USR2,PIPE,ALRM,TERM,STKFLT,TSTP,TTIN,TTOU,URG,XCPU,XFSZ,VTALRM,PROF,' +
  'WINCH,IO,PWR,SYS,TRAP';

/**
 * bwrap's monitor process (the one node starts) would die of a signal sent to the console's
 * process group, reporting the wrong status while the app still runs: so it ignores them, and
 * `env --default-signal` restores the defaults for the app's command inside. No
 * `--new-session`: a console on a pty keeps it as controlling terminal (job control, ^C).
 */
export function sandboxArgv(
  tools: SandboxTools,
  layout: SandboxLayout,
  argv: readonly [string, ...string[]],
): Argv {
  const scratch = outermost(layout.scratch);
  const hidden = outermost(layout.hidden);
  const covered = [...scratch, ...hidden];
  const args: string[] = [
    tools.env,
    `--ignore-signal=${GROUP_SIGNALS}`,
    tools.bwrap,
    '--unshare-pid',
  ];
  args.push('--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc');
  for (const dir of scratch) args.push('--tmpfs', dir);
  for (const dir of hidden) args.push('--tmpfs', dir);
  for (const dir of layout.readOnly) {
    if (covered.some((h) => isInside(dir, h))) args.push('--ro-bind', dir, dir);
  }
  args.push('--bind', layout.appDir, layout.appDir);
  // Read-only once the app's folder is bound in: nothing can be left beside it.
  for (const dir of hidden) args.push('--remount-ro', dir);
  args.push('--chdir', layout.appDir);
  args.push('--', tools.env, '--default-signal', ...argv);
  return args as Argv;
}
