/** An app's logs: its log files (see log-store.ts), once the app is known to exist. */
import type { LogLine, LogOptions } from '../types.js';
import { requireApp } from './apps.js';
import { readLogs } from './log-store.js';
import type { LocalPlatformState } from './types.js';

/**
 * Checks the app at the first `next()` (so a bad name or unknown app rejects there), then
 * streams until the caller's abort or `close()`.
 */
export function streamAppLogs(
  state: LocalPlatformState,
  app: string,
  options: LogOptions,
): AsyncIterable<LogLine> {
  const { closing, config } = state;
  const logStore = {
    maxLogFileBytes: config.limits.maxLogFileBytes,
    pollMs: config.limits.logPollMs,
  };
  // Not an async generator: its return() would wait for a follower's pending next().
  return {
    [Symbol.asyncIterator](): AsyncIterator<LogLine> {
      let inner: AsyncIterator<LogLine> | undefined;
      let ended = false;
      // Ends on the caller's abort or on close(); listeners are removed at the end (no
      // AbortSignal.any: it leaks on Node 20 with a long-lived signal).
      const stop = new AbortController();
      const onAbort = () => stop.abort();
      const release = () => {
        ended = true;
        options.signal?.removeEventListener('abort', onAbort);
        closing.signal.removeEventListener('abort', onAbort);
      };
      return {
        async next() {
          if (ended) return { value: undefined, done: true };
          if (!inner) {
            try {
              await requireApp(state, app);
            } catch (err) {
              release();
              throw err;
            }
            if (options.signal?.aborted || closing.signal.aborted) stop.abort();
            options.signal?.addEventListener('abort', onAbort, { once: true });
            closing.signal.addEventListener('abort', onAbort, { once: true });
            inner = readLogs(
              state.paths.appLogDir(app),
              app,
              { ...options, signal: stop.signal },
              logStore,
              state.bus,
            )[Symbol.asyncIterator]();
          }
          const result = await inner.next();
          if (result.done) release();
          return result;
        },
        async return() {
          release();
          await inner?.return?.();
          return { value: undefined, done: true };
        },
      };
    },
  };
}
