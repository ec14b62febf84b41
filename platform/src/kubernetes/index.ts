export { createKubernetesPlatform } from './platform.js';
export type { KubernetesPlatform, KubernetesPlatformDeps } from './platform.js';
export {
  kubernetesPlatformConfigSchema,
  type KubernetesPlatformConfig,
  type KubernetesPlatformConfigInput,
} from './config.js';
export { createKubeClient, loadKubeConfig, type KubeClient } from './client.js';
export { buildConsolePod, ANNOTATIONS as CONSOLE_POD_ANNOTATIONS } from './console-pod.js';
export { exitStatusOf } from './exec.js';
export { EVENTS as KUBERNETES_PLATFORM_EVENTS } from './events.js';
