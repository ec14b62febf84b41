/**
 * Recommended ssh2 `algorithms` for the bastion (Server) and the CLI (Client), as proposed for
 * issue 20: `ssh-audit` reports no [fail] and no [warn] except for names it does not know (and
 * its stale "experimental" label on sntrup761x25519-sha512@openssh.com, see
 * docs/post-quantum.md), while OpenSSH clients from 7.4 on still connect. Host key algorithms are
 * not listed: they stay as the bastion configures them.
 */
import type ssh2 from 'ssh2';

/** Key exchanges: post-quantum hybrids first, then X25519; no NIST curves, no SHA-1, no DH < 4096. */
export const KEX = [
  'sntrup761x25519-sha512',
  // The name OpenSSH 8.5-9.8 and PuTTY 0.78+ know; the same exchange.
  'sntrup761x25519-sha512@openssh.com',
  'curve25519-sha256',
  'curve25519-sha256@libssh.org',
  // For clients without X25519 (FIPS-mode builds); OpenSSH has them since 7.3.
  'diffie-hellman-group16-sha512',
  'diffie-hellman-group18-sha512',
] as const;

/** Add to KEX (first) only when mlkem768x25519-sha256 is switched on. */
export const MLKEM_KEX = 'mlkem768x25519-sha256';

export const CIPHERS = [
  'chacha20-poly1305@openssh.com',
  'aes256-gcm@openssh.com',
  'aes128-gcm@openssh.com',
  'aes256-ctr',
  'aes192-ctr',
  'aes128-ctr',
] as const;

/** Encrypt-then-MAC with SHA-2 only (used with the -ctr ciphers; AEAD ciphers ignore it). */
export const MACS = ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com'] as const;

/** Never plain `zlib`: it starts before authentication. */
export const COMPRESSION = ['none', 'zlib@openssh.com'] as const;

export function recommendedAlgorithms(options: { mlkem?: boolean } = {}): ssh2.Algorithms {
  return {
    kex: [...(options.mlkem === true ? [MLKEM_KEX] : []), ...KEX] as ssh2.KexAlgorithm[],
    cipher: [...CIPHERS] as ssh2.CipherAlgorithm[],
    hmac: [...MACS] as ssh2.MacAlgorithm[],
    compress: [...COMPRESSION] as ssh2.CompressionAlgorithm[],
  };
}
