/** Rolling restarts of an app's Deployments, the only change the platform makes to them. */
import type { V1Deployment } from '@kubernetes/client-node';
import { toAppError } from './client.js';
import { EVENTS } from './events.js';
import { namespaceOf } from './namespaces.js';
import type { KubernetesPlatformState } from './types.js';

/**
 * Bumps the restart annotation of each Deployment's pod template, as `kubectl rollout restart`.
 * The patch carries that one annotation and nothing else: the chart's admission policy
 * (`<release>-deployment-restart`) refuses any other change by the keys-service, so a field
 * added here would turn every config change into a refused restart.
 */
export async function rollingRestart(
  state: KubernetesPlatformState,
  app: string,
  deployments: readonly V1Deployment[],
): Promise<void> {
  const { client, config, logger } = state;
  const stamp = state.now().toISOString();
  await Promise.all(
    deployments.map(async (d) => {
      const name = d.metadata?.name ?? '';
      try {
        await client.request(
          'PATCH',
          `/apis/apps/v1/namespaces/${namespaceOf(state, app)}/deployments/${encodeURIComponent(name)}`,
          {
            body: {
              spec: {
                template: { metadata: { annotations: { [config.restartAnnotation]: stamp } } },
              },
            },
            contentType: 'application/strategic-merge-patch+json',
          },
        );
      } catch (err) {
        throw toAppError(err, `restart of ${app}`);
      }
    }),
  );
  logger.info(
    { app, deployments: deployments.map((d) => d.metadata?.name) },
    EVENTS.rollingRestart,
  );
}
