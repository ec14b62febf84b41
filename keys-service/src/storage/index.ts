export type * from './types.js';
export type { SqliteStoreOptions, SqliteSynchronous } from './sqlite.js';
export {
  openDatabase,
  openSqliteStore,
  createUserRepository,
  createTokenRepository,
  createLoginSessionRepository,
  createRevocationRepository,
  createAuditRepository,
} from './sqlite.js';
export { openKubernetesStore } from './kubernetes/index.js';
export { openConfiguredStore, verifyStore } from './open.js';
export type { OpenStoreOptions } from './open.js';
export type { KubernetesKeysStore, KubernetesStoreOptions } from './kubernetes/index.js';
