/**
 * Random bytes for certificate nonces, serials and request ids, drawn from node's CSPRNG a
 * block at a time. In a busy keys-service one `crypto.randomBytes` call per field cost several
 * times what it costs in a loop (docs/benchmarks.md), as node's own `randomUUID` cache found.
 * Every byte is handed out once: a used block is dropped, never refilled in place, so slices
 * already handed out never change.
 */
import { randomBytes } from 'node:crypto';

const BLOCK_BYTES = 4096;
let block = Buffer.alloc(0);
let offset = 0;

export function secureRandomBytes(length: number): Buffer {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new RangeError('length must be a non-negative integer');
  }
  if (length > BLOCK_BYTES / 4) return randomBytes(length);
  if (offset + length > block.length) {
    block = randomBytes(BLOCK_BYTES);
    offset = 0;
  }
  const out = block.subarray(offset, offset + length);
  offset += length;
  return out;
}
