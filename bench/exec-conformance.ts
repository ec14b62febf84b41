/**
 * The heavy half of the exec conformance suite (test/exec-conformance): 50 MB of binary data
 * both ways on every path, and 50 concurrent CLI runs repeated 30 times (1,500 runs: a failure
 * rate of 1 in 500 shows with 95% confidence, since 0.998^1500 < 0.05).
 * Run: node --conditions=neetodeploy-source --import tsx bench/exec-conformance.ts
 */
import { execCases } from '../test/exec-conformance/cases.js';
import { runPath, startConformanceEnv } from '../test/exec-conformance/harness.js';

const ROUNDS = Number(process.env.ROUNDS ?? 30);
const env = await startConformanceEnv();
try {
  const big = execCases({ binaryBytes: 50 * 1024 * 1024, lineCount: 300_000 }).find((c) =>
    c.name.includes('binary'),
  );
  if (!big) throw new Error('no binary case in the table');
  for (const p of env.paths) {
    const o = await (p.inProcess
      ? p.inProcess({ argv: big.argv }, { stdin: big.stdin, timeoutMs: 300_000 })
      : runPath(p, { argv: big.argv }, { stdin: big.stdin, timeoutMs: 300_000 }));
    big.check(o, p.name);
    console.log(`${p.name}: 50 MB both ways, sha256 intact, ${o.ms} ms`);
  }
  let wrong = 0;
  for (let round = 0; round < ROUNDS; round++) {
    const codes = Array.from({ length: 50 }, (_, i) => (i * 37 + round) % 256);
    const runs = await Promise.all(codes.map((n) => env.execInProcess([`echo s; exit ${n}`])));
    wrong += runs.filter((r, i) => r.code !== codes[i]).length;
  }
  console.log(`cli: ${ROUNDS * 50} concurrent runs (50 at a time), ${wrong} wrong exit codes`);
  if (wrong > 0) process.exitCode = 1;
} finally {
  await env.dispose();
}
