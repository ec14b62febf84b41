/** Single-pod REST calls that console pods and the reaper share. */
import { isApiError } from './client.js';
import { EVENTS } from './events.js';
import type { KubernetesPlatformState } from './types.js';

export function podPath(ns: string, name: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(name)}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Deletes a pod; a pod already gone is fine, and a failure is only logged. */
export async function deletePod(
  { client, logger }: KubernetesPlatformState,
  ns: string,
  name: string,
  graceSeconds?: number,
): Promise<void> {
  try {
    await client.request('DELETE', podPath(ns, name), {
      ...(graceSeconds !== undefined ? { query: { gracePeriodSeconds: graceSeconds } } : {}),
    });
    logger.info({ namespace: ns, pod: name }, EVENTS.consolePodDeleted);
  } catch (err) {
    if (isApiError(err, 404)) return;
    logger.warn({ err, namespace: ns, pod: name }, EVENTS.consolePodDeleteFailed);
  }
}

/** Resolves once the pod is gone (or after `ms`). */
export async function waitGone(
  { client }: KubernetesPlatformState,
  ns: string,
  name: string,
  ms: number,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      await client.request('GET', podPath(ns, name));
    } catch (err) {
      if (isApiError(err, 404)) return;
    }
    await sleep(100);
  }
}
