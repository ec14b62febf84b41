/**
 * Issue 13's protocol fuzzer: a real bastion (own process, fuzz platform that runs nothing)
 * attacked with mutated input at every stage, before and after authentication, for a bounded
 * time. Exits 1 on a crash, a grant a case's credentials do not allow, a connection left open,
 * or heap growth beyond the bound.
 *
 *   node --conditions=neetodeploy-source --import tsx bench/fuzz-bastion.ts [--seconds N]
 *     [--seed S] [--concurrency C] [--stage NAME]... [--case I] [--json]
 *
 * Stages: version, transport-bytes, kex, userauth, channel (test/support/fuzz/).
 */
import { parseSeed } from '../test/support/fuzz/prng.js';
import { STAGES, runBastionFuzz, type FuzzSummary } from '../test/support/fuzz/bastion-run.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function all(name: string): string[] {
  return process.argv.flatMap((a, i) => (a === name ? [process.argv[i + 1]!] : []));
}

const MiB = 1024 * 1024;

function printTable(s: FuzzSummary): void {
  const rows = Object.entries(s.stages).map(([name, st]) => {
    const top = Object.entries(st.outcomes)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 4)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    const avg = st.cases ? Math.round(st.ms / st.cases) : 0;
    return [name, String(st.cases), String(avg), String(st.failures.length), top];
  });
  const header = ['stage', 'cases', 'ms/case', 'failures', 'most frequent outcomes'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((c, i) => (i === 4 ? c : c.padEnd(widths[i]!))).join(' | ')} |`;
  console.log(line(header));
  console.log(line(widths.map((w, i) => '-'.repeat(i === 4 ? 3 : w))));
  for (const r of rows) console.log(line(r));
  const total = Object.values(s.stages).reduce((n, st) => n + st.cases, 0);
  const { before, after } = s.memory;
  console.log(
    `\nseed ${s.seed}, ${s.seconds} s, ${total} cases; bastion crashed: ${s.crash ? 'YES' : 'no'}`,
  );
  console.log(
    `bastion memory after GC: heap ${(before.heapUsed / MiB).toFixed(1)} -> ${(after.heapUsed / MiB).toFixed(1)} MiB, ` +
      `rss ${(before.rss / MiB).toFixed(1)} -> ${(after.rss / MiB).toFixed(1)} MiB; ` +
      `left open: ${after.unauthenticated} unauthenticated, ${after.sessions} sessions`,
  );
  console.log(`bastion log lines at error level: ${s.errorLogs.count}`);
  for (const l of s.errorLogs.samples.slice(0, 5)) console.log(`  ${l.slice(0, 300)}`);
  for (const [name, st] of Object.entries(s.stages)) {
    for (const e of st.fuzzerErrors) console.log(`fuzzer error in ${name}: ${e}`);
  }
  console.log(s.problems.length ? `\nFAIL:\n  ${s.problems.join('\n  ')}` : '\nPASS');
}

const stages = all('--stage');
for (const s of stages) {
  if (!STAGES.some((x) => x.name === s)) throw new Error(`unknown stage ${s}`);
}
const onlyCase = arg('--case');
const summary = await runBastionFuzz({
  seconds: Number(arg('--seconds') ?? 60),
  seed: parseSeed(arg('--seed'), 0x13),
  concurrency: Number(arg('--concurrency') ?? 6),
  ...(stages.length ? { stages } : {}),
  ...(onlyCase === undefined ? {} : { onlyCase: Number(onlyCase) }),
  progress: (l) => console.error(l),
});
if (process.argv.includes('--json')) console.log(JSON.stringify(summary, null, 2));
else printTable(summary);
process.exit(summary.problems.length ? 1 : 0);
