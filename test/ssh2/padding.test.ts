/**
 * patches/ssh2 (lib/protocol/crypto.js): every packet's random padding is copied from a pool
 * refilled from the CSPRNG 4 KiB at a time, instead of one `randomFillSync` per packet (about
 * 4 µs each, more than encrypting a small data packet). Each pooled byte is used once.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface PacketCipher {
  allocPacket(payloadLen: number): Buffer;
}
const sshCrypto = require('ssh2/lib/protocol/crypto.js') as {
  randomPadding(packet: Buffer, offset: number, len: number): void;
  NullCipher: new (seqno: number, onWrite: (b: Buffer) => void) => PacketCipher;
};

describe('ssh2 patch: pooled random padding', () => {
  it('fills exactly the padding bytes and nothing around them', () => {
    const packet = Buffer.alloc(64, 0xaa);
    sshCrypto.randomPadding(packet, 20, 12);
    assert.ok(packet.subarray(0, 20).every((b) => b === 0xaa));
    assert.ok(packet.subarray(32).every((b) => b === 0xaa));
    assert.notDeepEqual(packet.subarray(20, 32), Buffer.alloc(12, 0xaa));
  });

  it('never hands out the same bytes twice, across many refills of the pool', () => {
    const seen = new Set<string>();
    let bytes = 0;
    for (let i = 0; i < 20_000; i++) {
      const len = 4 + (i % 16);
      const pad = Buffer.alloc(len);
      sshCrypto.randomPadding(pad, 0, len);
      bytes += len;
      seen.add(pad.toString('hex'));
    }
    assert.ok(bytes > 40 * 4096, `${bytes} bytes: the pool must have been refilled many times`);
    assert.equal(seen.size, 20_000, 'every padding differs from every other');
  });

  it('pads real packets: the padding differs from packet to packet', () => {
    const cipher = new sshCrypto.NullCipher(0, () => undefined);
    const pads = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const packet = cipher.allocPacket(100);
      const padLen = packet[4]!;
      assert.ok(padLen >= 4 && packet.length % 8 === 0, `padding ${padLen}`);
      pads.add(packet.subarray(5 + 100).toString('hex'));
    }
    assert.equal(pads.size, 1000);
  });
});
