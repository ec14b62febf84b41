/**
 * Console pods outlive a process that dies without deleting them (`activeDeadlineSeconds` ends
 * them at last). Each process stamps a heartbeat on its live console pods; the reaper deletes
 * console pods that are not live here, are past the grace period and have a stale heartbeat (or
 * already ended).
 */
import type { V1Pod } from '@kubernetes/client-node';
import { isApiError } from './client.js';
import { ANNOTATIONS } from './console-pod-spec.js';
import { EVENTS } from './events.js';
import { listInAppNamespaces } from './namespaces.js';
import { deletePod, podPath } from './pods.js';
import type { KubernetesPlatformState } from './types.js';

/** Starts the periodic heartbeat and reaper (an interval of 0 turns one off); returns stop. */
export function startReaper(state: KubernetesPlatformState): () => void {
  const { config, logger } = state;
  const timers: NodeJS.Timeout[] = [];
  const every = (ms: number, fn: () => Promise<unknown>, event: string) => {
    if (ms <= 0) return;
    const timer = setInterval(() => {
      fn().catch((err: unknown) => logger.warn({ err }, event));
    }, ms);
    timer.unref();
    timers.push(timer);
  };
  every(config.reaper.heartbeatIntervalMs, () => heartbeat(state), EVENTS.heartbeatFailed);
  every(config.reaper.intervalMs, () => reapOrphans(state), EVENTS.reaperFailed);
  return () => {
    for (const timer of timers) clearInterval(timer);
  };
}

async function heartbeat({ client, livePods, logger, now }: KubernetesPlatformState) {
  const stamp = now().toISOString();
  await Promise.all(
    [...livePods].map(async (key) => {
      const [ns, name] = key.split('/') as [string, string];
      try {
        await client.request('PATCH', podPath(ns, name), {
          body: { metadata: { annotations: { [ANNOTATIONS.heartbeat]: stamp } } },
          contentType: 'application/merge-patch+json',
        });
      } catch (err) {
        if (!isApiError(err, 404))
          logger.warn({ err, namespace: ns, pod: name }, EVENTS.heartbeatFailed);
      }
    }),
  );
}

/** Console pods of every app namespace (and none of a namespace that is no app's). */
async function consolePods(state: KubernetesPlatformState): Promise<V1Pod[]> {
  const { config, labels } = state;
  const items = await listInAppNamespaces<V1Pod>(
    state,
    '/api/v1',
    'pods',
    `${labels.console}=true`,
  );
  if (config.namespaces.mode === 'shared') return items;
  const prefix = config.namespaces.prefix;
  return items.filter((p) => (p.metadata?.namespace ?? '').startsWith(prefix));
}

/**
 * One pass of the reaper; returns the `namespace/name` of the pods it deleted (those whose
 * delete failed are logged as failures and left out). Only a component that may delete pods
 * (the bastion) runs it: see `createPlatformFromConfig`'s `reaper` option.
 */
export async function reapOrphans(state: KubernetesPlatformState): Promise<string[]> {
  const { config, livePods, logger } = state;
  const reaped: string[] = [];
  const at = state.now().getTime();
  for (const pod of await consolePods(state)) {
    const ns = pod.metadata?.namespace ?? '';
    const name = pod.metadata?.name ?? '';
    if (livePods.has(`${ns}/${name}`) || pod.metadata?.deletionTimestamp) continue;
    const phase = pod.status?.phase;
    const ended = phase === 'Succeeded' || phase === 'Failed';
    const created = Date.parse(String(pod.metadata?.creationTimestamp ?? ''));
    const beat = Date.parse(pod.metadata?.annotations?.[ANNOTATIONS.heartbeat] ?? '');
    const old = !Number.isFinite(created) || at - created >= config.reaper.graceMs;
    const stale = !Number.isFinite(beat) || at - beat >= config.reaper.staleAfterMs;
    if (ended || (old && stale)) {
      // A refused delete (deletePod logs it with its reason) is not a reaped pod.
      if (!(await deletePod(state, ns, name))) continue;
      logger.info({ namespace: ns, pod: name, phase }, EVENTS.orphanReaped);
      reaped.push(`${ns}/${name}`);
    }
  }
  return reaped;
}
