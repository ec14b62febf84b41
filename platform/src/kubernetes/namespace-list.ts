/**
 * The app namespaces of per-app mode, kept current at runtime: from the config, set by the
 * caller, or read from a file (a mounted ConfigMap) that is watched and polled. A new
 * namespace is then listed for apps and console pods without restarting the server, and so
 * without cutting its SSH sessions.
 */
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import * as z from 'zod';
import { namespaceName } from './config.js';
import type { KubernetesPlatformConfig } from './config.js';
import { EVENTS } from './events.js';

export interface NamespaceList {
  /** The app namespaces now; undefined when unknown (listing is then cluster-wide). */
  current(): readonly string[] | undefined;
  /** Replaces the list (a file, when configured, replaces it again at its next change). */
  set(namespaces: readonly string[]): void;
  /** Stops watching and polling. Idempotent. */
  close(): void;
}

/** Thrown at start for a namespaces file that cannot be read or is not a list of names. */
export class NamespaceFileError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NamespaceFileError';
  }
}

const fileSchema = z.array(namespaceName).max(10_000);
const normalize = (names: readonly string[]): string[] => [...new Set(names)].sort();
/** Changes come in bursts (the kubelet swaps a symlink and removes the old folder). */
const SETTLE_MS = 50;

function parseList(text: string, file: string): string[] {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new NamespaceFileError(`${file}: not JSON: ${(err as Error).message}`, { cause: err });
  }
  const result = fileSchema.safeParse(raw);
  if (!result.success) {
    const first = result.error.issues[0];
    throw new NamespaceFileError(
      `${file}: expected a JSON array of namespace names (${first?.path.join('.') ?? ''}: ${first?.message ?? 'invalid'})`,
    );
  }
  return normalize(result.data);
}

const same = (a: readonly string[] | undefined, b: readonly string[]): boolean =>
  a !== undefined && a.length === b.length && a.every((n, i) => n === b[i]);

/**
 * The list of `config`: fixed in shared mode, else the configured names or, with
 * `appNamespacesFile`, the file's, read once now (throws {@link NamespaceFileError} when it is
 * missing or invalid: a server must not start listing the wrong namespaces) and then followed.
 */
export function createNamespaceList(
  config: KubernetesPlatformConfig,
  logger: Logger,
): NamespaceList {
  const ns = config.namespaces;
  if (ns.mode === 'shared') {
    const fixed = [ns.namespace];
    return { current: () => fixed, set: () => undefined, close: () => undefined };
  }
  if (ns.appNamespacesFile !== undefined) {
    return followFile(ns.appNamespacesFile, ns.appNamespacesPollMs, logger);
  }
  let list = ns.appNamespaces && normalize(ns.appNamespaces);
  return {
    current: () => list,
    set: (next) => void (list = normalize(next)),
    close: () => undefined,
  };
}

function followFile(file: string, pollMs: number, logger: Logger): NamespaceList {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new NamespaceFileError(`cannot read ${file}: ${(err as Error).message}`, { cause: err });
  }
  let list: readonly string[] = parseList(text, file);
  let lastProblem: string | undefined;
  let closed = false;
  let settle: NodeJS.Timeout | undefined;

  const update = (next: readonly string[], source: 'file' | 'caller'): void => {
    if (same(list, next)) return;
    const before = new Set(list);
    const added = next.filter((n) => !before.has(n));
    const removed = list.filter((n) => !next.includes(n));
    list = next;
    logger.info({ added, removed, count: next.length, source }, EVENTS.appNamespacesChanged);
  };

  async function reload(): Promise<void> {
    try {
      const next = parseList(await readFile(file, 'utf8'), file);
      if (closed) return;
      lastProblem = undefined;
      update(next, 'file');
    } catch (err) {
      // Mid-swap reads and a bad edit alike: keep the last good list, say so once.
      const problem = (err as Error).message;
      if (closed || problem === lastProblem) return;
      lastProblem = problem;
      logger.warn({ err: problem }, EVENTS.appNamespacesFileInvalid);
    }
  }

  const schedule = (): void => {
    if (closed) return;
    clearTimeout(settle);
    settle = setTimeout(() => void reload(), SETTLE_MS);
  };
  let watcher: FSWatcher | undefined;
  try {
    // The folder, not the file: a ConfigMap volume replaces the file by swapping a symlink, and
    // a watch on the old file would never fire again.
    watcher = watch(path.dirname(file), { persistent: false }, schedule);
    watcher.on('error', () => watcher?.close());
  } catch {
    // No inotify (limits, some filesystems): the poll alone keeps it current.
  }
  const poll = setInterval(() => void reload(), pollMs);
  poll.unref();

  return {
    current: () => list,
    set: (next) => update(normalize(next), 'caller'),
    close() {
      closed = true;
      clearTimeout(settle);
      clearInterval(poll);
      watcher?.close();
    },
  };
}
