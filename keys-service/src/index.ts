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
export type {
  RedirectAuthenticator,
  PendingSignIn,
  OidcConfig,
  SignInFailure,
} from './auth/index.js';
export { SignInFailed, createOidcAuthenticator } from './auth/oidc.js';
export type { CertificateAuthorities } from './ca/index.js';
export { loadCertificateAuthorities } from './ca/index.js';
export type { Caller } from './domain/index.js';
/** The API's shapes are the contract's; re-exported for callers that only know this package. */
export type { CaBundle, IssuedCertificate } from '@neetodeploy/contract';
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
