import { waitUntil } from '../wait.js';
import type { FakeApiServer } from './types.js';

/** Tests start a pod and must not touch it before the fake kubelet reports it running. */
export async function waitForPodRunning(
  fake: Pick<FakeApiServer, 'get'>,
  namespace: string,
  name: string,
  timeoutMs = 10_000,
): Promise<void> {
  await waitUntil(
    `pod ${namespace}/${name} running`,
    () =>
      (fake.get('pods', namespace, name)?.status as { phase?: string } | undefined)?.phase ===
      'Running',
    timeoutMs,
    20,
  );
}
