export { attachAuthenticator, createAuthenticationStep, type AuthDeps } from './authenticator.js';
export {
  checkPublicKey,
  signatureAlgorithmFor,
  type CheckResult,
  type RefusalReason,
} from './verify.js';
export { refusalMessage } from './messages.js';
export { parseUsername, targetForVirtualHost, virtualHostApp } from './username.js';
export { lostTrust, recheckConnections, type LostTrust } from './recheck.js';
