/** An app's logs: its pods' logs (see pod-logs.ts), once the app is known to exist. */
import type { LogLine, LogOptions } from '../types.js';
import { appSelector, requireApp } from './apps.js';
import { toAppError } from './client.js';
import { namespaceOf } from './namespaces.js';
import { streamPodLogs } from './pod-logs.js';
import { instanceName } from './processes.js';
import type { KubernetesPlatformState } from './types.js';

/**
 * Checks the app at the first `next()` (so a bad name or unknown app rejects there, like every
 * later failure), then streams. Not an async generator: its return() would wait for a
 * follower's pending next().
 */
export function streamAppLogs(
  state: KubernetesPlatformState,
  app: string,
  options: LogOptions,
): AsyncIterable<LogLine> {
  return {
    [Symbol.asyncIterator](): AsyncIterator<LogLine> {
      let inner: AsyncIterator<LogLine> | undefined;
      let ended = false;
      return {
        async next() {
          if (ended) return { value: undefined, done: true };
          if (!inner) {
            try {
              await requireApp(state, app);
            } catch (err) {
              ended = true;
              throw err;
            }
            if (ended) return { value: undefined, done: true };
            inner = openPodLogs(state, app, options);
          }
          try {
            const result = await inner.next();
            if (result.done) ended = true;
            return result;
          } catch (err) {
            ended = true;
            throw toAppError(err, `logs of ${app}`);
          }
        },
        async return() {
          ended = true;
          await inner?.return?.();
          return { value: undefined, done: true };
        },
      };
    },
  };
}

function openPodLogs(
  state: KubernetesPlatformState,
  app: string,
  options: LogOptions,
): AsyncIterator<LogLine> {
  const { client, config, logger, closing } = state;
  return streamPodLogs(
    {
      client,
      namespace: namespaceOf(state, app),
      labelSelector: appSelector(state, app, options.process),
      maxStreams: config.logs.maxStreams,
      reconnectDelayMs: config.logs.reconnectDelayMs,
      logger,
      processName: (pod) => instanceName(state, pod),
      closing: closing.signal,
    },
    options,
  )[Symbol.asyncIterator]();
}
