export type * from './types.js';
export type { SqliteStoreOptions } from './sqlite.js';
export {
  openDatabase,
  openSqliteStore,
  createUserRepository,
  createTokenRepository,
  createLoginSessionRepository,
  createRevocationRepository,
  createAuditRepository,
} from './sqlite.js';
