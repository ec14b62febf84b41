export { createLocalPlatform } from './platform.js';
export type { LocalPlatform, LocalPlatformDeps } from './types.js';
export {
  localPlatformConfigSchema,
  type LocalPlatformConfig,
  type LocalPlatformConfigInput,
} from './config.js';
export { DEMO_APP } from './demo-app.js';
export { EVENTS as LOCAL_PLATFORM_EVENTS } from './events.js';
