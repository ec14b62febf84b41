/**
 * Issue 13's protocol fuzzer, bounded for CI: a few seconds of mutated input at every stage
 * (version exchange, transport bytes, key exchange, userauth, channels after a valid login)
 * against a real bastion in its own process, with a fixed seed. The long run is
 * `bench/fuzz-bastion.ts` (docs/security.md, "Fuzzing").
 */
import assert from 'node:assert/strict';
import { STAGES, runBastionFuzz } from '../support/fuzz/bastion-run.js';

const SECONDS = Number(process.env.BASTION_FUZZ_SECONDS ?? 5);

describe('bastion: protocol fuzzing (issue 13)', function () {
  this.timeout(90_000);

  it(`${SECONDS} s of mutated packets at every stage: no crash, no grant beyond the credentials, no connection or heap left behind`, async () => {
    const s = await runBastionFuzz({ seconds: SECONDS, seed: 0x13, concurrency: 4 });
    assert.deepEqual(s.problems, []);
    assert.equal(s.crash, undefined);
    // Every stage ran, and the mutations got past the bastion's first check somewhere.
    for (const stage of STAGES) {
      const st = s.stages[stage.name]!;
      assert.ok(st.cases >= 2, `${stage.name}: ${st.cases} cases`);
      assert.deepEqual(st.fuzzerErrors, [], `${stage.name}: the fuzzer's own code failed`);
    }
    const outcomes = (name: string): string => Object.keys(s.stages[name]!.outcomes).join(' ');
    assert.match(outcomes('channel'), /ready/, 'no channel case logged in: post-auth not reached');
    assert.match(outcomes('userauth'), /refused/, 'no userauth case reached authentication');
  });
});
