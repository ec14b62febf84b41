/** SSH helpers of the CLI: authenticating ssh2 clients with OpenSSH user certificates. */
export { certificateKey, type CertificateInput, type PrivateKeyInput } from './certificate-key.js';
export { encodeOpenSshPrivateKey } from './openssh-private-key.js';
export { SshKeyError, type SshKeyErrorCode } from './errors.js';
export { connectToBastion, type BastionTarget } from './connect.js';
