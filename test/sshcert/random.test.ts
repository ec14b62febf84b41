import assert from 'node:assert/strict';
import { secureRandomBytes } from '@neetodeploy/sshcert';

describe('sshcert secureRandomBytes', function () {
  it('returns exactly the requested number of bytes', function () {
    // Around the pool's block size and its per-call cap as well as small sizes.
    for (const length of [0, 1, 8, 32, 1023, 1024, 1025, 4095, 4096, 4097, 5000]) {
      const bytes = secureRandomBytes(length);
      assert.ok(Buffer.isBuffer(bytes));
      assert.equal(bytes.length, length, `length ${length}`);
    }
  });

  it('never hands out the same bytes twice', function () {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) seen.add(secureRandomBytes(16).toString('hex'));
    assert.equal(seen.size, 1000);
  });

  it('leaves a returned slice unchanged by later draws', function () {
    for (const length of [16, 1024, 3000]) {
      const slice = secureRandomBytes(length);
      const copy = Buffer.from(slice);
      // Enough to use up several blocks of the pool, in sizes both under and over its cap.
      for (let drawn = 0; drawn < 10_000; drawn += 100) secureRandomBytes(100);
      secureRandomBytes(5000);
      assert.ok(slice.equals(copy), `a ${length}-byte slice changed`);
    }
  });

  it('hands out slices that do not overlap', function () {
    const slices = Array.from({ length: 600 }, (_, i) => secureRandomBytes(1 + (i % 40)));
    slices.forEach((s, i) => s.fill(i % 256));
    slices.forEach((s, i) => {
      assert.ok(
        s.every((b) => b === i % 256),
        `slice ${i} was overwritten through another slice`,
      );
    });
  });

  it('gives bytes that cover the whole range about evenly', function () {
    const counts = new Array<number>(256).fill(0);
    for (let i = 0; i < 256; i++) for (const b of secureRandomBytes(256)) counts[b]!++;
    // 65,536 bytes: 256 expected per value; these bounds are over 10 standard deviations out.
    assert.ok(Math.min(...counts) > 90, `min ${Math.min(...counts)}`);
    assert.ok(Math.max(...counts) < 420, `max ${Math.max(...counts)}`);
  });

  it('throws RangeError for lengths that are not non-negative safe integers', function () {
    for (const length of [-1, -0.5, 1.5, Number.NaN, Infinity, -Infinity, 2 ** 53]) {
      assert.throws(() => secureRandomBytes(length), RangeError, `length ${length}`);
    }
  });
});
