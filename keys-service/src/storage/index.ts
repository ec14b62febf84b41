export type * from './types.js';
export {
  openDatabase,
  openSqliteStore,
  createUserRepository,
  createTokenRepository,
  createLoginSessionRepository,
  createRevocationRepository,
  createAuditRepository,
} from './sqlite.js';
