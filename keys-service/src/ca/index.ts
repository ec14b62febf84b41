export { loadCertificateAuthorities } from './keys.js';
export type { CertificateAuthorities } from './keys.js';
