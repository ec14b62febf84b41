/** `bodyLines`: the line reader under pod logs and watches (both platforms' Kubernetes paths). */
import assert from 'node:assert/strict';
import { OverlongLineError, bodyLines } from '@neetodeploy/platform';
import type { BodyLinesOptions } from '@neetodeploy/platform';

async function collect(
  chunks: Array<string | Buffer>,
  options: BodyLinesOptions,
): Promise<string[]> {
  const body = chunks.map((c) => (Buffer.isBuffer(c) ? c : Buffer.from(c, 'utf8')));
  const out: string[] = [];
  for await (const line of bodyLines(body, options)) out.push(line);
  return out;
}

const WIDE: BodyLinesOptions = { maxLineChars: 1000, overlong: 'fail' };

describe('platform: bodyLines (lines of a streamed API response)', function () {
  it('joins lines split across reads, keeps empty lines, and yields a last line without a newline', async function () {
    assert.deepEqual(await collect(['a', 'b\n\nc', 'd\ne'], WIDE), ['ab', '', 'cd', 'e']);
    assert.deepEqual(await collect(['x\n'], WIDE), ['x']);
    assert.deepEqual(await collect([], WIDE), []);
  });

  it('keeps a UTF-8 character whole when a read ends inside it', async function () {
    const text = Buffer.from('héllo 🚀 wörld\n', 'utf8');
    // Every split point, including inside the 2-byte é and the 4-byte emoji.
    for (let cut = 1; cut < text.length; cut++) {
      const lines = await collect([text.subarray(0, cut), text.subarray(cut)], WIDE);
      assert.deepEqual(lines, ['héllo 🚀 wörld'], `split at byte ${cut}`);
    }
  });

  it("cuts an overlong line and drops the rest of it, up to that line's end", async function () {
    const options: BodyLinesOptions = { maxLineChars: 4, overlong: 'cut' };
    assert.deepEqual(await collect(['abcdefgh', 'ijk', 'lmnopq\nok\n'], options), ['abcd', 'ok']);
    assert.deepEqual(await collect(['abcdefgh'], options), ['abcd']);
    assert.deepEqual(await collect(['abcd\n'], options), ['abcd']);
  });

  it('fails on an overlong line when asked to (a watch event cut in half is no event)', async function () {
    await assert.rejects(
      collect(['{"type":"ADDED",', '"object":{}}'], { maxLineChars: 20, overlong: 'fail' }),
      OverlongLineError,
    );
  });
});
