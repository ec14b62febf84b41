export { openKubernetesStore } from './store.js';
export type { KubernetesKeysStore, KubernetesStoreOptions } from './store.js';
