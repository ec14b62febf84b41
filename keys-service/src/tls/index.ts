export { ensureLocalTls, loadTlsFiles, certificateFingerprint } from './local-ca.js';
export type { TlsMaterial } from './local-ca.js';
export { loadConfiguredTls } from './configured.js';
