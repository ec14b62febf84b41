/**
 * An app's config vars: its config Secret (see config-secret.ts), and a rolling restart after a
 * change so that the processes see it, as `heroku config:set` does.
 */
import type { ConfigChange, ConfigUpdateOptions, ConfigVars } from '../types.js';
import { requireApp } from './apps.js';
import { getConfigVars, updateConfigVars, type ConfigSecretRef } from './config-secret.js';
import { EVENTS } from './events.js';
import { namespaceOf } from './namespaces.js';
import { rollingRestart } from './rollout.js';
import type { KubernetesPlatformState } from './types.js';

/** The name of an app's config Secret, which its Deployments and console pods read. */
export function configSecretName({ config }: KubernetesPlatformState, app: string): string {
  return config.configSecretName.replaceAll('{app}', app);
}

function secretRef(state: KubernetesPlatformState, app: string): ConfigSecretRef {
  return {
    namespace: namespaceOf(state, app),
    name: configSecretName(state, app),
    app,
    appLabel: state.labels.app,
  };
}

export async function getAppConfigVars(
  state: KubernetesPlatformState,
  app: string,
): Promise<ConfigVars> {
  await requireApp(state, app);
  return getConfigVars(state.client, secretRef(state, app));
}

export async function updateAppConfigVars(
  state: KubernetesPlatformState,
  app: string,
  change: ConfigChange,
  options?: ConfigUpdateOptions,
): Promise<ConfigVars> {
  const { deployments } = await requireApp(state, app);
  const restart = options?.restart ?? true;
  const result = await updateConfigVars(state.client, secretRef(state, app), change, {
    ifMatch: options?.ifMatch,
    maxRetries: state.config.maxConflictRetries,
    logger: state.logger,
  });
  const { setKeys, unsetKeys } = result;
  if (setKeys.length > 0 || unsetKeys.length > 0) {
    // Names only: values are secrets.
    state.logger.info({ app, set: setKeys, unset: unsetKeys, restart }, EVENTS.configVarsChanged);
    if (restart) await rollingRestart(state, app, deployments);
  }
  return { vars: result.vars, version: result.version };
}
