export type { DomainContext, StoreContext, Caller, GroupsSource } from './context.js';
export { recordAudit } from './context.js';
export {
  mintToken,
  authenticateToken,
  revokeCurrentToken,
  hashSecret,
  generateToken,
  revokeReplacedToken,
  revokeTokenById,
  tokenIdOf,
} from './tokens.js';
export type { MintedToken } from './tokens.js';
export {
  createLoginSession,
  pollLoginSession,
  approveLoginSession,
  findPendingLoginSession,
  normaliseUserCode,
  formatUserCode,
  USER_CODE_ALPHABET,
} from './login-sessions.js';
export type { PollResult } from './login-sessions.js';
export { issueCertificate, knownHostsLine } from './certificates.js';
export type { IssueCertificateInput } from './certificates.js';
export {
  revokeUser,
  createCaBundleSource,
  revokeCertificateSerial,
  MAX_CREDENTIAL_LIFETIME_SECONDS,
  MAX_SIGNED_USER_CERTIFICATE_SECONDS,
} from './revocation.js';
export type { CaBundleResponse, RevokeUserResult } from './revocation.js';
export { listAppsForCaller, listProcessesForCaller } from './apps.js';
export type { AppAccess } from './apps.js';
export { addUser, removeUser } from './users.js';
