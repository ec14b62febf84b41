/** An app's processes are its pods, named Heroku-style (`web.x7k2p`) from the process label. */
import type { V1Pod, V1PodList } from '@kubernetes/client-node';
import type { ProcessInfo } from '../types.js';
import { appSelector, processOf, requireApp } from './apps.js';
import { toAppError } from './client.js';
import { namespaceOf } from './namespaces.js';
import type { KubernetesPlatformState } from './types.js';

/** The short unique part of a pod name: `web-5d8f7-x7k2p` → `x7k2p`. */
function podSuffix(pod: string): string {
  const dash = pod.lastIndexOf('-');
  return dash >= 0 && dash < pod.length - 1 ? pod.slice(dash + 1) : pod;
}

/** The instance name of a pod, e.g. `web.x7k2p`. */
export function instanceName(state: KubernetesPlatformState, pod: V1Pod): string {
  return `${processOf(state, pod) ?? 'pod'}.${podSuffix(pod.metadata?.name ?? '')}`;
}

export function podState(pod: V1Pod): ProcessInfo['state'] {
  const phase = pod.status?.phase;
  const statuses = pod.status?.containerStatuses ?? [];
  if (phase === 'Failed') return 'crashed';
  if (phase === 'Succeeded' || pod.metadata?.deletionTimestamp) return 'stopped';
  if (statuses.some((c) => c.state?.waiting?.reason === 'CrashLoopBackOff')) return 'crashed';
  if (phase === 'Running' && statuses.every((c) => c.state?.running)) return 'running';
  return 'starting';
}

/** The pods of an app, or of one of its process types. */
export async function appPods(
  state: KubernetesPlatformState,
  app: string,
  process?: string,
): Promise<V1Pod[]> {
  try {
    const list = await state.client.request<V1PodList>(
      'GET',
      `/api/v1/namespaces/${namespaceOf(state, app)}/pods`,
      { query: { labelSelector: appSelector(state, app, process) } },
    );
    return list.items;
  } catch (err) {
    throw toAppError(err, `processes of ${app}`);
  }
}

export async function listProcesses(
  state: KubernetesPlatformState,
  app: string,
): Promise<ProcessInfo[]> {
  await requireApp(state, app);
  const pods = await appPods(state, app);
  return pods
    .map((pod): ProcessInfo => {
      const started = pod.status?.startTime;
      return {
        name: instanceName(state, pod),
        type: processOf(state, pod) ?? 'pod',
        state: podState(pod),
        pod: pod.metadata?.name ?? '',
        ...(started ? { startedAt: new Date(started) } : {}),
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}
