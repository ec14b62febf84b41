/**
 * Which running pod a {@link ConsoleTarget} names: a process type (its first running pod by
 * name) or one pod, by pod name or instance name. Consoles exec into it.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { NotFound } from '../errors.js';
import type { ConsoleTarget } from '../types.js';
import { appPods, instanceName, podState } from './processes.js';
import type { KubernetesPlatformState } from './types.js';

export interface RunningTarget {
  readonly pod: V1Pod;
  readonly podName: string;
  /** The pod's first container: the app's. */
  readonly container: string;
  /** Instance name, e.g. `web.x7k2p`. */
  readonly instance: string;
}

/** Throws NotFound (`process_not_found`) when nothing of the target runs. */
export async function resolveTarget(
  state: KubernetesPlatformState,
  app: string,
  target: ConsoleTarget,
): Promise<RunningTarget> {
  const what = target.pod ?? target.process ?? '';
  let pods = await appPods(state, app, target.process);
  if (target.pod !== undefined) {
    pods = pods.filter(
      (p) => p.metadata?.name === target.pod || instanceName(state, p) === target.pod,
    );
  }
  const running = pods
    .filter((p) => podState(p) === 'running')
    .sort((a, b) => (a.metadata?.name ?? '').localeCompare(b.metadata?.name ?? ''));
  const pod = running[0];
  const container = pod?.spec?.containers[0]?.name;
  if (!pod?.metadata?.name || !container) {
    throw new NotFound(`no running process ${what} in app ${app}`, { code: 'process_not_found' });
  }
  return { pod, podName: pod.metadata.name, container, instance: instanceName(state, pod) };
}
