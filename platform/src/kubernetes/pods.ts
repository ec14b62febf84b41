/** Single-pod REST calls that console pods and the reaper share. */
import { KubeApiError, isApiError } from './client.js';
import { EVENTS } from './events.js';
import type { KubernetesPlatformState } from './types.js';

export function podPath(ns: string, name: string): string {
  return `/api/v1/namespaces/${encodeURIComponent(ns)}/pods/${encodeURIComponent(name)}`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Deletes a pod. Resolves true when it is deleted or already gone; false when the API server
 * refused or failed (logged as a failure with its reason, e.g. 403 for a component without
 * the right), so a caller never reports a deletion that did not happen.
 */
export async function deletePod(
  { client, logger }: KubernetesPlatformState,
  ns: string,
  name: string,
  graceSeconds?: number,
): Promise<boolean> {
  try {
    await client.request('DELETE', podPath(ns, name), {
      ...(graceSeconds !== undefined ? { query: { gracePeriodSeconds: graceSeconds } } : {}),
    });
    logger.info({ namespace: ns, pod: name }, EVENTS.consolePodDeleted);
    return true;
  } catch (err) {
    if (isApiError(err, 404)) return true;
    const reason =
      err instanceof KubeApiError
        ? `${err.code} ${err.status?.reason ?? ''}: ${err.status?.message ?? err.message}`
        : err instanceof Error
          ? err.message
          : String(err);
    logger.warn({ err, namespace: ns, pod: name, reason }, EVENTS.consolePodDeleteFailed);
    return false;
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
