export type * from './types.js';
export { createLocalAuthenticator } from './local.js';
export { hashPassword, verifyPassword } from './passwords.js';
// The OIDC authenticator (openid-client) is imported from './oidc.js' by who serves it, so the
// admin commands that load this barrel do not load openid-client.
export type { OidcAuthenticatorDeps, SignInFailure } from './oidc.js';
export { oidcConfigSchema } from './oidc-config.js';
export type { OidcConfig, OidcConfigInput } from './oidc-config.js';
