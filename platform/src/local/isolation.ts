/**
 * What keeps one app's processes and consoles away from the rest of the host: the data dir (CA
 * keys, policy, other apps' config vars), other apps' folders and other processes. Decided once
 * per platform from what the host offers:
 * - the server runs as root (and has `setpriv`): every app runs as a uid of its own (`user`);
 * - else bubblewrap works here (Debian's `bubblewrap` package): each process in a sandbox;
 * - else nothing, with a warning at start: consoles can do what the server's user can.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from 'pino';
import { Unavailable } from '../errors.js';
import type { LocalPlatformConfig } from './config.js';
import { EVENTS } from './events.js';
import type { LocalPaths } from './paths.js';
import {
  appUid,
  sandboxArgv,
  userArgv,
  userFstab,
  type Argv,
  type SandboxTools,
  type UserLayout,
  type UserTools,
} from './sandbox.js';

export type IsolationMode = 'user' | 'sandbox' | 'none';

/** How the platform isolates an app's processes; made once by {@link createIsolation}. */
export interface Isolation {
  readonly mode: IsolationMode;
  /** Makes the app's folder ready for its processes (called before each spawn; cheap when so). */
  prepare(app: string): Promise<void>;
  /** The argv that runs `argv` (cwd: the app's folder) isolated as `app`. */
  argv(app: string, argv: readonly [string, ...string[]]): Argv;
  /** The uid that must own a console's terminal so the app can reopen it (/dev/tty). */
  terminalOwner(app: string): number | undefined;
}

const TOOL_DIRS = ['/usr/bin', '/bin', '/usr/sbin', '/sbin', '/usr/local/bin'];

function findTool(name: string): string | undefined {
  for (const dir of TOOL_DIRS) {
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // Not in this dir.
    }
  }
  return undefined;
}

function runs(argv: readonly string[]): boolean {
  const [file, ...args] = argv;
  if (file === undefined) return false;
  const result = spawnSync(file, args, { stdio: 'ignore', timeout: 5000 });
  return result.status === 0;
}

/** bwrap and a GNU env, when both exist and a sandbox actually starts here (userns allowed). */
function sandboxTools(): SandboxTools | undefined {
  const bwrap = findTool('bwrap');
  const env = findTool('env');
  if (!bwrap || !env) return undefined;
  const tools = { bwrap, env };
  const probe = sandboxArgv(tools, { scratch: [], hidden: [], readOnly: [], appDir: os.tmpdir() }, [
    'true',
  ]);
  return runs(probe) ? tools : undefined;
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Resolves the configured mode to one this host can do; throws when a forced one cannot. */
function userTools(): UserTools | undefined {
  if (!isRoot() || !findTool('mount')) return undefined;
  const unshare = findTool('unshare');
  const setpriv = findTool('setpriv');
  return unshare && setpriv ? { unshare, setpriv } : undefined;
}

function chooseMode(config: LocalPlatformConfig): {
  mode: IsolationMode;
  user?: UserTools;
  tools?: SandboxTools;
} {
  const wanted = config.isolation;
  if (wanted === 'none') return { mode: 'none' };
  const user = wanted === 'sandbox' ? undefined : userTools();
  if (user) return { mode: 'user', user };
  if (wanted === 'user') {
    throw new Unavailable(
      'isolation "user" needs the server to run as root with unshare, mount and setpriv ' +
        '(util-linux) installed; use isolation "auto" instead',
    );
  }
  const tools = sandboxTools();
  if (tools) return { mode: 'sandbox', tools };
  if (wanted === 'sandbox') {
    throw new Unavailable(
      'isolation "sandbox" needs bubblewrap (`apt-get install bubblewrap`) and unprivileged ' +
        'user namespaces; use isolation "auto" instead',
    );
  }
  return { mode: 'none' };
}

/**
 * What to cover so that an app user reaches its folder by path but nothing else: the topmost
 * folder above the app's that "others" may not search (a 0700 data dir, /root, a private temp
 * dir), else the data dir itself.
 */
function hiddenRoot(paths: LocalPaths): string {
  const chain: string[] = [];
  for (let d = paths.appsDir; d !== path.dirname(d); d = path.dirname(d)) chain.unshift(d);
  const closed = chain.find((d) => {
    try {
      return (fs.statSync(d).mode & 0o001) === 0;
    } catch {
      return false;
    }
  });
  return closed !== undefined && isAtOrAbove(closed, paths.dataDir) ? closed : paths.dataDir;
}

function isAtOrAbove(dir: string, child: string): boolean {
  const rel = path.relative(dir, child);
  return !rel.startsWith('..') && !path.isAbsolute(rel);
}

/** chown -R without following symlinks. */
async function chownTree(dir: string, uid: number): Promise<void> {
  await fsp.lchown(dir, uid, uid);
  for (const entry of await fsp.readdir(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) await chownTree(file, uid);
    else await fsp.lchown(file, uid, uid);
  }
}

/**
 * A file in the run dir's accounts folder, named after its content and never replaced once made
 * (link, not rename): a process that opened it to bind it (or mount read it) must not find it
 * unlinked by another spawn or another platform instance on the same data dir, which made the
 * bind fail (ENOENT).
 */
async function writeOnce(paths: LocalPaths, stem: string, content: string): Promise<string> {
  const dir = path.join(paths.runDir, 'accounts');
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const tag = createHash('sha256').update(content).digest('hex').slice(0, 16);
  const file = path.join(dir, `${stem}.${tag}`);
  if (fs.existsSync(file)) return file;
  const temporary = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  await fsp.writeFile(temporary, content, { mode: 0o644 });
  try {
    await fsp.link(temporary, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await fsp.unlink(temporary).catch(() => undefined);
  }
  return file;
}

/** The host's /etc/passwd plus the app's user, bound over /etc/passwd. */
async function writePasswd(paths: LocalPaths, app: string, uid: number): Promise<string> {
  const host = await fsp.readFile('/etc/passwd', 'utf8').catch(() => '');
  const line = `nd-${app}:x:${uid}:${uid}:neetodeploy app ${app}:${paths.appDir(app)}:/bin/sh`;
  const separator = host === '' || host.endsWith('\n') ? '' : '\n';
  return writeOnce(paths, `${app}.passwd`, `${host}${separator}${line}\n`);
}

/** What the app's isolated processes see: its passwd and the fstab that mounts their view. */
async function writeLayout(
  paths: LocalPaths,
  app: string,
  base: Pick<UserLayout, 'hide' | 'readOnly'>,
): Promise<UserLayout> {
  const passwd = await writePasswd(paths, app, appUid(app));
  const layout = { ...base, appDir: paths.appDir(app), passwd };
  const fstab = await writeOnce(paths, `${app}.fstab`, userFstab(layout));
  return { ...layout, fstab };
}

function userIsolation(tools: UserTools, paths: LocalPaths, nodePath: string): Isolation {
  const base = { hide: hiddenRoot(paths), readOnly: [path.dirname(path.dirname(nodePath))] };
  // One write per app and instance, shared by spawns that start together.
  const pending = new Map<string, Promise<UserLayout>>();
  const written = new Map<string, UserLayout>();
  return {
    mode: 'user',
    async prepare(app) {
      const dir = paths.appDir(app);
      const uid = appUid(app);
      const stat = await fsp.stat(dir);
      if (stat.uid !== uid) await chownTree(dir, uid);
      if ((stat.mode & 0o777) !== 0o700) await fsp.chmod(dir, 0o700);
      let layout = pending.get(app);
      if (!layout) {
        layout = writeLayout(paths, app, base);
        pending.set(app, layout);
        layout.catch(() => pending.delete(app));
      }
      written.set(app, await layout);
    },
    argv(app, argv) {
      const layout = written.get(app);
      if (!layout) throw new Unavailable('the app was not prepared for its process');
      return userArgv(tools, layout, appUid(app), argv);
    },
    terminalOwner: (app) => appUid(app),
  };
}

function sandboxIsolation(tools: SandboxTools, paths: LocalPaths, nodePath: string): Isolation {
  const existing = (dirs: string[]) => dirs.filter((dir) => fs.existsSync(dir));
  const scratch = existing(['/tmp', '/var/tmp']);
  const hidden = existing([paths.dataDir, os.homedir(), '/home', '/root', '/run/user']);
  // The demo app's Procfile runs the server's node, which may live in a home (nvm).
  const readOnly = [path.dirname(path.dirname(nodePath))];
  return {
    mode: 'sandbox',
    prepare: () => Promise.resolve(),
    argv: (app, argv) =>
      sandboxArgv(tools, { scratch, hidden, readOnly, appDir: paths.appDir(app) }, argv),
    terminalOwner: () => undefined,
  };
}

const NONE: Isolation = {
  mode: 'none',
  prepare: () => Promise.resolve(),
  argv: (_app, argv) => [...argv],
  terminalOwner: () => undefined,
};

/** Decides the mode (a pino warning when none is possible) and locks the data dir for it. */
export function createIsolation(
  config: LocalPlatformConfig,
  paths: LocalPaths,
  logger: Logger,
  nodePath: string,
): Isolation {
  const chosen = chooseMode(config);
  if (chosen.mode === 'none' && config.isolation === 'auto') {
    logger.warn(
      {
        hint:
          "consoles and app processes run as this server's user and can read its data dir " +
          '(CA keys, policy, config vars); run the server as root, or install bubblewrap ' +
          '(apt-get install bubblewrap)',
      },
      EVENTS.isolationUnavailable,
    );
  }
  if (chosen.user) return userIsolation(chosen.user, paths, nodePath);
  if (chosen.tools) return sandboxIsolation(chosen.tools, paths, nodePath);
  return NONE;
}
