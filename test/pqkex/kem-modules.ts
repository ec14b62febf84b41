/** The KEM modules the ssh2 patch adds (CommonJS, inside node_modules/ssh2). */
import { createRequire } from 'node:module';
import type { RandomBytes } from './nist-drbg.js';

export interface Kem {
  readonly PUBLIC_KEY_BYTES: number;
  readonly SECRET_KEY_BYTES: number;
  readonly CIPHERTEXT_BYTES: number;
  readonly SHARED_SECRET_BYTES: number;
  keypair(rand?: RandomBytes): { publicKey: Buffer; secretKey: Buffer };
  encapsulate(publicKey: Buffer, rand?: RandomBytes): { ciphertext: Buffer; sharedSecret: Buffer };
  decapsulate(ciphertext: Buffer, secretKey: Buffer): Buffer;
}

const require = createRequire(import.meta.url);
export const sntrup761 = require('ssh2/lib/protocol/sntrup761.js') as Kem & {
  readonly _internals: {
    fqFreeze(this: void, x: number): number;
    f3Freeze(this: void, x: number): number;
    sortInt32(this: void, x: Int32Array): void;
  };
};
export const mlkem768 = require('ssh2/lib/protocol/mlkem768.js') as Kem;
