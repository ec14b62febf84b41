export { createBastion, type Bastion, type BastionAddresses } from './app.js';
export { tuneV8ForBulkTransfer } from './server/v8-tuning.js';
export {
  bastionConfigSchema,
  parseBastionConfig,
  loadConfigFile,
  ConfigError,
  type BastionConfig,
  type BastionConfigInput,
} from './config.js';
export type {
  AuthenticatedConnection,
  PendingConnection,
  VerifiedIdentity,
  SessionTarget,
  BastionDeps,
} from './types.js';
export {
  parseUsername,
  targetForVirtualHost,
  virtualHostApp,
  refusalMessage,
  checkPublicKey,
} from './auth/index.js';
export { createConnectionGate } from './limits/index.js';
