export type * from './types.js';
export { createLocalAuthenticator } from './local.js';
export { hashPassword, verifyPassword } from './passwords.js';
