export { createKubernetesPlatform } from './platform.js';
export type { KubernetesPlatform, KubernetesPlatformDeps } from './types.js';
export {
  kubernetesPlatformConfigSchema,
  resolveKubernetesPaths,
  type KubernetesPlatformConfig,
  type KubernetesPlatformConfigInput,
} from './config.js';
export { createKubeClient, loadKubeConfig, type KubeClient } from './client.js';
export { bodyLines, OverlongLineError, type BodyLinesOptions } from './body-lines.js';
export { buildConsolePod, ANNOTATIONS as CONSOLE_POD_ANNOTATIONS } from './console-pod-spec.js';
export { exitStatusOf } from './exit-status.js';
export { NamespaceFileError } from './namespace-list.js';
export { EVENTS as KUBERNETES_PLATFORM_EVENTS } from './events.js';
