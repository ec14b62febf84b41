/**
 * Keys that parse but must never be certified or accepted, because they make a signature
 * meaningless rather than hard to forge:
 * - ed25519 points of small order (the 8 points of the cofactor subgroup, in every encoding,
 *   canonical or not). With the identity point as public key, the verification equation
 *   `[S]B = R + [k]A` drops the key term, so one fixed `(R, S)` "verifies" every message: a
 *   certificate for such a key is a bearer credential that needs no private key.
 * - RSA public exponents other than odd values >= 65537 (e = 1 makes every signature trivial;
 *   e = 3 invites Bleichenbacher-style forgeries against lax verifiers). OpenSSH and every key
 *   generator use 65537.
 * Pure functions over the wire blob; callers decide how to refuse.
 */
import type { PublicKey } from './types.js';
import { WireReader } from './wire.js';

/** The ed25519 field prime 2^255 - 19. */
const P = (1n << 255n) - 19n;
/**
 * The y-coordinate of a point decides whether it has small order: the 8 points of order dividing
 * 8 have y in {1 (identity), -1 (order 2), 0 (order 4), ±Y8 (order 8)}; negation only flips x.
 * Reducing y mod p first also catches the non-canonical encodings (y + p < 2^255), and the sign
 * bit (x's parity) is ignored, so the "negative zero" encodings are caught too. The order-8 value
 * is checked by scalar multiplication in test/sshcert/key-strength.test.ts.
 */
const Y8 = 0x05fc536d880238b13933c6d305acdfd5f098eff289f4c345b027b2c28f95e826n;
const SMALL_ORDER_Y: ReadonlySet<bigint> = new Set([0n, 1n, P - 1n, Y8, P - Y8]);

/** Smallest RSA public exponent accepted (F4, what every generator uses). */
export const MIN_RSA_EXPONENT = 65537n;

/** Whether a 32-byte ed25519 public key encodes a point of small order (any encoding). */
export function isSmallOrderEd25519(pk: Buffer): boolean {
  if (pk.length !== 32) return false;
  const le = Buffer.from(pk);
  le[31] = le[31]! & 0x7f; // drop the sign of x
  const y = BigInt(`0x${le.reverse().toString('hex')}`) % P;
  return SMALL_ORDER_Y.has(y);
}

/**
 * Why `key` is degenerate, or undefined when it is acceptable. Called on every key the library
 * parses and on the key inside every certificate it verifies or signs. Throws `SshCertError`
 * (`malformed`) only for a blob that is not a key of its type, which a parsed key never is.
 */
export function checkPublicKeyStrength(key: Pick<PublicKey, 'type' | 'blob'>): string | undefined {
  if (key.type === 'ssh-ed25519') {
    const r = new WireReader(key.blob);
    r.bytes('key type');
    const pk = r.bytes('ed25519 public key');
    return isSmallOrderEd25519(pk) ? 'ed25519 public key is a point of small order' : undefined;
  }
  if (key.type === 'ssh-rsa') {
    const r = new WireReader(key.blob);
    r.bytes('key type');
    const e = r.bytes('rsa exponent');
    const value = e.length === 0 ? 0n : BigInt(`0x${e.toString('hex')}`);
    if (value < MIN_RSA_EXPONENT || value % 2n === 0n) {
      return `RSA public exponent ${value} refused: it must be odd and at least ${MIN_RSA_EXPONENT}`;
    }
  }
  return undefined;
}
