/**
 * Keeps the current policy in memory and reloads it when its file changes (fs.watch on the
 * folder, so editors' rename-into-place and ConfigMap symlink swaps are seen, debounced). A bad
 * file keeps the last good policy and logs why.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { EVENTS } from '../events.js';
import { Policy, PolicyError } from './policy.js';

export interface PolicyReloadResult {
  readonly ok: boolean;
  /** Why the file was refused (ok false). */
  readonly error?: string;
}

export interface PolicySource {
  /** The policy in force now. */
  current(): Policy;
  /** Re-reads the file now (the watcher calls this after a change settles). */
  reload(): PolicyReloadResult;
  /** Called after every reload attempt, good or bad. Returns an unsubscribe function. */
  onReload(listener: (result: PolicyReloadResult) => void): () => void;
  close(): void;
}

export interface PolicySourceOptions {
  /** Undefined: deny everything, nothing to watch. */
  readonly file: string | undefined;
  readonly debounceMs: number;
  readonly logger: Logger;
}

/** Loads the policy once (throws PolicyError if the first load fails) and starts watching. */
export function createPolicySource(options: PolicySourceOptions): PolicySource {
  const { file, logger } = options;
  const listeners = new Set<(result: PolicyReloadResult) => void>();
  if (file === undefined) {
    logger.warn({ event: EVENTS.policyNone }, 'no policy file configured: every request is denied');
    return {
      current: () => Policy.denyAll(),
      reload: () => ({ ok: true }),
      onReload: () => () => undefined,
      close: () => undefined,
    };
  }

  const read = (): Policy => {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (err) {
      throw new PolicyError(`cannot read ${file}: ${(err as Error).message}`);
    }
    return Policy.parse(text);
  };

  let current = read();
  logger.info({ event: EVENTS.policyLoaded, file }, 'policy loaded');

  const reload = (): PolicyReloadResult => {
    let result: PolicyReloadResult;
    try {
      current = read();
      result = { ok: true };
      logger.info({ event: EVENTS.policyReloaded, file }, 'policy reloaded');
    } catch (err) {
      const reason = err instanceof PolicyError ? err.message : String(err);
      result = { ok: false, error: reason };
      logger.error(
        { event: EVENTS.policyRejected, file, reason },
        'policy file refused; keeping the last good policy',
      );
    }
    for (const l of listeners) l(result);
    return result;
  };

  let timer: NodeJS.Timeout | undefined;
  const base = path.basename(file);
  const watcher = fs.watch(path.dirname(file), { persistent: false }, (_event, name) => {
    // Some platforms omit the name; a ConfigMap swaps a `..data` symlink rather than the file.
    if (name !== null && name !== base && !name.startsWith('..')) return;
    clearTimeout(timer);
    timer = setTimeout(reload, options.debounceMs);
  });
  watcher.on('error', (err) => {
    logger.error({ event: EVENTS.policyWatchFailed, file, err }, 'policy watch failed');
  });

  return {
    current: () => current,
    reload,
    onReload(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}
