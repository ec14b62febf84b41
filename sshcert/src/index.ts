/**
 * Public surface of @neetodeploy/sshcert. The contract lives in ./types.ts; each module below
 * has one job: errors, public keys (wire, text, fingerprints), private keys (openssh-key-v1 and
 * PEM), SSH signatures, certificates (PROTOCOL.certkeys), pure verification, source-address
 * lists, KRLs (PROTOCOL.krl), and pooled CSPRNG bytes for nonces and serials. The wire reader every parser uses is in ./wire.ts.
 */
export type * from './types.js';
export { SshCertError, type SshCertErrorCode } from './errors.js';
export {
  parsePublicKey,
  parsePublicKeyText,
  encodePublicKeyText,
  fingerprint,
  publicKeyFromKeyObject,
} from './public-key.js';
export {
  generatePrivateKey,
  parsePrivateKey,
  encodePrivateKey,
  type GenerateOptions,
} from './private-key.js';
export {
  signData,
  verifySignature,
  parseSignature,
  type ParsedSignature,
  type VerifySignatureOptions,
} from './signature.js';
export {
  signCertificate,
  parseCertificate,
  parseCertificateText,
  encodeCertificateText,
  isCertificateAlgorithm,
} from './certificate.js';
export { checkPublicKeyStrength, isSmallOrderEd25519 } from './key-strength.js';
export { verifyCertificate, verifyUserCertificate } from './verify.js';
export { matchSourceAddress } from './source-address.js';
export { parseKrl, createKrl } from './krl.js';
export { secureRandomBytes } from './random.js';
export { ed25519PublicBytes, ed25519Seed } from './ed25519-raw.js';
