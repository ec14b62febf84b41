/**
 * The exec conformance suite: the table in `cases.ts` run on every path (the CLI, stock ssh to
 * the bastion, stock ssh through ProxyJump) and on OpenSSH's sshd as the reference, plus the
 * scenarios that need a cut connection or many runs at once. Heavy sizes and repetitions live
 * in `bench/exec-conformance.ts`.
 */
import assert from 'node:assert/strict';
import { execCases, SCENARIOS } from './cases.js';
import { runPath, startConformanceEnv } from './harness.js';
import type { ConformanceEnv, ExecPath, RunOutcome } from './harness.js';
import type { PathName } from './cases.js';

const cases = execCases({ binaryBytes: 8 * 1024 * 1024, lineCount: 300_000 });

describe('exec conformance: every path behaves as OpenSSH sshd does', function () {
  this.timeout(120_000);
  let env: ConformanceEnv;

  before(async function () {
    env = await startConformanceEnv();
  });

  after(async function () {
    await env?.dispose();
  });

  for (const c of cases) {
    it(c.name, async function () {
      const inv = { argv: c.argv, pty: c.pty };
      const options = { stdin: c.stdin, readDelayMs: c.readDelayMs };
      const runs: Array<Promise<[PathName, RunOutcome]>> = env.paths.map(
        async (p): Promise<[PathName, RunOutcome]> => [
          p.name,
          await (p.inProcess ? p.inProcess(inv, options) : runPath(p, inv, options)),
        ],
      );
      const cli = env.paths.find((p) => p.name === 'cli');
      if (c.binary && cli)
        runs.push(
          runPath(cli, inv, options).then((o): [PathName, RunOutcome] => ['cli-binary', o]),
        );
      // Every path runs to its end before any check, so one failure cannot leave runs behind.
      for (const [name, o] of await Promise.all(runs)) {
        try {
          c.check(o, name);
        } catch (err) {
          (err as Error).message = `[${name}] ${(err as Error).message}`;
          throw err;
        }
      }
    });
  }

  it(SCENARIOS.dropped, async function () {
    // One path at a time: the bastion's paths share the relay that cuts the connections. The
    // CLI runs as its binary here: a lost connection must end the process with 255.
    for (const p of env.paths) await droppedMidCommand(p);
  });

  it(`${SCENARIOS.concurrent}: 50 at once through the CLI (in one process), stock ssh direct and through ProxyJump`, async function () {
    this.timeout(300_000);
    const codes = Array.from({ length: 50 }, (_, i) => (i * 37) % 256);
    const cli = await Promise.all(codes.map((n) => env.execInProcess([`echo s; exit ${n}`])));
    assert.deepEqual(
      cli.map((r) => r.code),
      codes,
      cli.map((r) => r.err).join(''),
    );
    // One path at a time: 50 ssh processes (100 through the jump) already fill the machine.
    // Not sshd: its sessions start root's login shell, whose startup files on these machines
    // run `pyenv rehash` under one lock file, so 50 at once wait on each other for minutes.
    for (const name of ['ssh-direct', 'ssh-jump'] as const) {
      const ssh = env.paths.find((p) => p.name === name);
      assert.ok(ssh);
      const runs = await Promise.all(
        codes.map((n) => runPath(ssh, { argv: [`echo s; exit ${n}`] }, { timeoutMs: 90_000 })),
      );
      assert.deepEqual(
        runs.map((r) => r.code),
        codes,
        `[${name}] ${runs.map((r) => r.stderr.toString()).join('')}`,
      );
      assert.ok(
        runs.every((r) => r.stdout.toString() === 's\n'),
        name,
      );
    }
  });
});

/**
 * Starts a long command that reports its process id, cuts the connection, and checks the
 * client's exit (255) and, on the bastion's paths, that the console is gone within seconds.
 */
async function droppedMidCommand(p: ExecPath): Promise<void> {
  let dropped = false;
  const run = runPath(
    p,
    { argv: ['echo "pid $$"; exec sleep 60'] },
    {
      onStdout: (all) => {
        if (!dropped && /pid \d+\n/.test(all.toString())) {
          dropped = true;
          p.drop();
        }
      },
    },
  );
  const o = await run;
  assert.ok(dropped, `[${p.name}] never started: ${o.stderr.toString()}`);
  assert.equal(o.code, 255, `[${p.name}] ${o.stderr.toString()}`);
  assert.ok(o.ms < 30_000, `[${p.name}] took ${o.ms} ms`);
  if (p.name === 'cli') assert.match(o.stderr.toString(), /^neetodeploy: .*lost.*\n$/);
  const pid = Number(/pid (\d+)/.exec(o.stdout.toString())?.[1]);
  if (p.name === 'sshd') {
    // sshd sends no signal to a pipe-only command (see SCENARIO_DIFFERENCES): end it ourselves.
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    return;
  }
  const deadline = Date.now() + 10_000;
  while (alive(pid)) {
    assert.ok(Date.now() < deadline, `[${p.name}] console ${pid} still runs 10 s after the drop`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
