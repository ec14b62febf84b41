/**
 * What the bastion offers in key exchange: post-quantum hybrids first (OpenSSH 10.1+ warns on
 * every connection without one), no NIST curves, no SHA-1 and no encrypt-and-MAC MACs, so that
 * `ssh-audit` passes, while every OpenSSH client from 7.4 on still connects
 * (test/pqkex, test/bastion/algorithms.test.ts). Host key algorithms are not listed here: they
 * follow the host keys.
 */
import type ssh2 from 'ssh2';

/** `mlkem768x25519-sha256`: a client takes the first of *its* list that the server offers. */
export const MLKEM_KEX = 'mlkem768x25519-sha256';

const KEX = [
  'sntrup761x25519-sha512',
  // The same exchange under the name OpenSSH 8.5-9.8 and PuTTY 0.78+ know.
  'sntrup761x25519-sha512@openssh.com',
  'curve25519-sha256',
  'curve25519-sha256@libssh.org',
  // For clients without X25519 (FIPS-mode builds).
  'diffie-hellman-group16-sha512',
  'diffie-hellman-group18-sha512',
];

const NIST_KEX = ['ecdh-sha2-nistp256', 'ecdh-sha2-nistp384', 'ecdh-sha2-nistp521'];

const CIPHERS = [
  'chacha20-poly1305@openssh.com',
  'aes256-gcm@openssh.com',
  'aes128-gcm@openssh.com',
  'aes256-ctr',
  'aes192-ctr',
  'aes128-ctr',
];

/** Encrypt-then-MAC with SHA-2 only (the -ctr ciphers use it; AEAD ciphers need none). */
const MACS = ['hmac-sha2-256-etm@openssh.com', 'hmac-sha2-512-etm@openssh.com'];

/**
 * Compression as OpenSSH offers it: `zlib@openssh.com` starts only after authentication, so an
 * unauthenticated client can never make the bastion inflate anything (a 32 MiB user name
 * compresses to ~34 KB). Plain `zlib`, which starts with the first packet, is never offered.
 */
export const COMPRESSION: ssh2.CompressionAlgorithm[] = ['none', 'zlib@openssh.com'];

export interface AlgorithmOptions {
  /** Offer ML-KEM first: off until proven against an independent implementation. */
  readonly mlkem768x25519: boolean;
  /** Also offer the NIST-curve exchanges, last (for clients that have nothing else). */
  readonly nistKex: boolean;
}

/** The ssh2 `algorithms` option of the bastion's server. */
export function serverAlgorithms(options: AlgorithmOptions): ssh2.Algorithms {
  const kex = [
    ...(options.mlkem768x25519 ? [MLKEM_KEX] : []),
    ...KEX,
    ...(options.nistKex ? NIST_KEX : []),
  ];
  return {
    kex: kex as ssh2.KexAlgorithm[],
    cipher: CIPHERS as ssh2.CipherAlgorithm[],
    hmac: MACS as ssh2.MacAlgorithm[],
    compress: COMPRESSION,
  };
}
