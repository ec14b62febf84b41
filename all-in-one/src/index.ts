/** Public surface of @neetodeploy/all-in-one (the embedded default behind `npm start`). */
export { createAllInOne } from './app.js';
export type { AllInOne, AllInOneAddress, AllInOneDeps } from './app.js';
export {
  allInOneConfigSchema,
  parseAllInOneConfig,
  AllInOneConfigError,
  type AllInOneConfig,
  type AllInOneConfigInput,
} from './config.js';
export { renderBanner, nextCommands, displayPath } from './banner.js';
export { layoutOf, type Layout } from './layout.js';
export { HOST_PRINCIPALS } from './host-identity.js';
