/** The offline admin commands of `neetodeploy-keys`, one module per command. */
export { registerAdminCommands } from './register.js';
export type { AdminDeps, Io } from './deps.js';
export { AdminError, CheckFailed, UsageError } from './errors.js';
export { runCaInit, type CaInitOptions } from './ca-init.js';
export {
  runSign,
  certificatePathFor,
  SSH_KEYGEN_DEFAULT_EXTENSIONS,
  type SignOptions,
} from './sign.js';
export { runVerify, type VerifyOptions } from './verify.js';
export { runKrlCreate, runKrlCheck, type KrlCreateOptions, type KrlCheckOptions } from './krl.js';
export { parseDuration } from './parse.js';
