export { createLocalPlatform } from './platform.js';
export type { LocalPlatform, LocalPlatformDeps } from './platform.js';
export {
  localPlatformConfigSchema,
  CONFIG_VAR_LIMITS,
  type LocalPlatformConfig,
  type LocalPlatformConfigInput,
} from './config.js';
export { DEMO_APP } from './demo-app.js';
export { EVENTS as LOCAL_PLATFORM_EVENTS } from './events.js';
