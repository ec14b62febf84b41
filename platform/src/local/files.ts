/** Atomic file writes and a cross-process lock file, for state shared by several processes. */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Unavailable } from '../errors.js';
import { processExists } from './signals.js';

/** temp file + fsync + rename + fsync of the folder: readers see the old or the new file. */
export async function writeFileAtomic(file: string, data: string, mode = 0o600): Promise<void> {
  const dir = path.dirname(file);
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fsp.open(tmp, 'wx', mode);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  const dirHandle = await fsp.open(dir, 'r');
  try {
    await dirHandle.sync();
  } finally {
    await dirHandle.close();
  }
}

/** Same shape, synchronous and without fsync: for ephemeral run state. */
export function writeFileAtomicSync(file: string, data: string, mode = 0o600): void {
  const dir = path.dirname(file);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  fs.writeFileSync(tmp, data, { mode, flag: 'wx' });
  try {
    fs.renameSync(tmp, file);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
}

export async function readFileIfExists(file: string): Promise<string | undefined> {
  try {
    return await fsp.readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Serializes async work per key inside this process. */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<unknown>>();

  async run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const result = previous.then(work, work);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    try {
      return await result;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

interface LockOwner {
  readonly pid: number;
  readonly host: string;
  readonly token: string;
}

function parseOwner(text: string | undefined): LockOwner | undefined {
  if (!text) return undefined;
  try {
    const value = JSON.parse(text) as Partial<LockOwner>;
    if (typeof value.pid === 'number' && typeof value.token === 'string') {
      return { pid: value.pid, host: String(value.host ?? ''), token: value.token };
    }
  } catch {
    // A lock file being written right now; treat as held.
  }
  return undefined;
}

/** A lock whose owner died on this host can be taken over; one on another host cannot. */
function isStale(owner: LockOwner | undefined, ageMs: number): boolean {
  if (!owner) return ageMs > 10_000;
  return owner.host === os.hostname() && !processExists(owner.pid);
}

async function tryCreate(file: string, content: string): Promise<boolean> {
  try {
    await fsp.writeFile(file, content, { flag: 'wx', mode: 0o600 });
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

async function lockAge(file: string): Promise<number> {
  try {
    const stat = await fsp.stat(file);
    return Date.now() - stat.mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * Removes a dead owner's lock. A second "breaker" lock makes sure two waiters that both saw the
 * same dead owner cannot remove a lock a third process has just taken.
 */
async function breakStaleLock(file: string, staleText: string): Promise<void> {
  const breaker = `${file}.break`;
  if (!(await tryCreate(breaker, String(process.pid)))) {
    if ((await lockAge(breaker)) > 10_000) await fsp.rm(breaker, { force: true });
    return;
  }
  try {
    if ((await readFileIfExists(file)) === staleText) await fsp.rm(file, { force: true });
  } finally {
    await fsp.rm(breaker, { force: true });
  }
}

/** This process as the owner of a lock or role file; the token tells its file from a successor's. */
function newOwner(): LockOwner {
  return { pid: process.pid, host: os.hostname(), token: randomBytes(12).toString('hex') };
}

/** Runs `work` while holding `file` as a lock shared with other processes on this host. */
export async function withFileLock<T>(
  file: string,
  timeoutMs: number,
  work: () => Promise<T>,
): Promise<T> {
  await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const owner = newOwner();
  const content = JSON.stringify(owner);
  const deadline = Date.now() + timeoutMs;
  let delay = 2;
  while (!(await tryCreate(file, content))) {
    const text = await readFileIfExists(file);
    if (text !== undefined && isStale(parseOwner(text), await lockAge(file))) {
      await breakStaleLock(file, text);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new Unavailable('the app is being changed by someone else; try again', {
        message: `timed out waiting for lock ${file}`,
      });
    }
    await sleep(delay);
    delay = Math.min(delay * 2, 50);
  }
  try {
    return await work();
  } finally {
    if (parseOwner(await readFileIfExists(file))?.token === owner.token) {
      await fsp.rm(file, { force: true });
    }
  }
}

/**
 * Claims a role for this process (e.g. "runs the apps of this data dir") with an owner file.
 * Throws Unavailable while a live process on this host holds it; takes over a dead owner's.
 * Resolves to the release function.
 */
export async function claimOwnership(file: string, role: string): Promise<() => void> {
  await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  const owner = newOwner();
  const content = JSON.stringify(owner);
  for (let attempt = 0; !(await tryCreate(file, content)); attempt++) {
    const text = await readFileIfExists(file);
    const current = parseOwner(text);
    if (text !== undefined && !isStale(current, await lockAge(file))) {
      throw new Unavailable(`another process (pid ${current?.pid ?? '?'}) already ${role}`);
    }
    if (text !== undefined) await breakStaleLock(file, text);
    if (attempt > 20) throw new Unavailable(`could not claim: ${role}`);
  }
  return () => {
    try {
      if (parseOwner(fs.readFileSync(file, 'utf8'))?.token === owner.token) fs.rmSync(file);
    } catch {
      // Already gone.
    }
  };
}
