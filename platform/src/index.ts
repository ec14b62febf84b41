export type * from './types.js';
export { APP_NAME_PATTERN } from './types.js';
export * from './errors.js';
export { CONFIG_VAR_LIMITS } from './config-var-rules.js';
export * from './local/index.js';
export * from './kubernetes/index.js';
export * from './from-config.js';
