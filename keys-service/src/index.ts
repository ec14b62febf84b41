/** Public surface of @neetodeploy/keys-service. */
export { createKeysService } from './app.js';
export type { KeysService, KeysServiceDeps, KeysServiceAddress } from './app.js';
export type { ServedRoute } from './http/routes.js';
export { UNMATCHED_ROUTE } from './http/metrics.js';
export { PayloadTooLarge, RateLimited } from './http/errors.js';
export { EVENTS } from './events.js';
export {
  keysServiceConfigSchema,
  parseKeysServiceConfig,
  loadKeysServiceConfigFile,
  databasePath,
  ConfigError,
} from './config.js';
export type { KeysServiceConfig, KeysServiceConfigInput } from './config.js';
export * from './storage/index.js';
export { Policy, PolicyError, PERMISSIONS, createPolicySource } from './policy/index.js';
export type {
  Permission,
  PolicySource,
  PolicyReloadResult,
  Subject,
  AppGrant,
} from './policy/index.js';
export type { Authenticator, PasswordAuthenticator, AuthenticatedUser } from './auth/index.js';
export { createLocalAuthenticator, hashPassword, verifyPassword } from './auth/index.js';
export type { CertificateAuthorities } from './ca/index.js';
export { loadCertificateAuthorities } from './ca/index.js';
export type { CaBundle, IssuedCertificate, Caller } from './domain/index.js';
export { ensureLocalTls, loadConfiguredTls } from './tls/index.js';
export type { TlsMaterial } from './tls/index.js';
export {
  addUser,
  mintToken,
  revokeUser,
  revokeCertificateSerial,
  approveLoginSession,
  createLoginSession,
  pollLoginSession,
  issueCertificate,
} from './domain/index.js';
export type { DomainContext, StoreContext, MintedToken } from './domain/index.js';
export { registerKeysServiceCommands } from './commands/index.js';
