/**
 * CLI start-up, as ratios measured in one run against yardsticks timed in the same run, pair by
 * pair (A B A B ...), so that a machine whose speed drifts (other work, CPU frequency) moves
 * both sides of each ratio alike. Each figure is the median of the per-pair ratios of wall time.
 *
 * 1. `neetodeploy --version` vs `node -e 0`;
 * 2. `neetodeploy ssh-cert demo.neetodeploy` with a valid cached certificate vs `node -e 0`;
 * 3. `neetodeploy exec -a demo -- true` vs `node -e 0` (a real keys-service, bastion and local
 *    platform in this process; the certificate `ssh-config` cached for demo.neetodeploy is used,
 *    as on every run after the first, and a console process is started each run);
 *    `exec-cold`: the same without a cached certificate (a first run, or the first after a login:
 *    the keys-service issues one), for the record;
 * 4. stock `ssh demo.neetodeploy true` with the ssh_config of `neetodeploy ssh-config` (its
 *    `Match exec` runs ssh-cert) vs `ssh -J` through OpenSSH's sshd to sshd (needs root).
 *
 * Run after `npm run build` (the binary runs cli/dist; `npx tsc -b contract cli` is enough after
 * a change to those two):
 *   node --conditions=neetodeploy-source --import tsx bench/cli-startup.ts [--runs N] [--quick]
 * (`--bin FILE` times another build of the binary; `--compare-bin FILE` also times that build's
 * `exec` in each pair of the exec row, so a change is measured before and after in one run.
 * `--cpu` also reports user+sys CPU time per run, through GNU time (`/usr/bin/time`): less noisy
 * than wall time on a shared machine. `--only version|ssh-cert|exec|exec-cold|ssh` runs one row.)
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCli } from '../cli/src/cli.js';
import { makeCliConfig } from '../cli/src/config.js';
import { createApiProvider } from '../cli/src/session.js';
import { ALICE, fakeIo, startCliEnv } from '../test/cli/harness.js';
import { startSshd, type SshdHandle } from '../test/support/openssh.js';
import { ROOT } from '../test/support/paths.js';
import { makeKey, signCert } from '../test/support/ssh-client.js';

const args = process.argv.slice(2);
const QUICK = args.includes('--quick');
const runsArg = args.indexOf('--runs');
const RUNS = runsArg !== -1 ? Number(args[runsArg + 1]) : QUICK ? 5 : 21;
const binArg = args.indexOf('--bin');
const BIN =
  binArg !== -1
    ? path.resolve(args[binArg + 1] ?? '')
    : path.join(ROOT, 'cli', 'bin', 'neetodeploy.js');
const compareArg = args.indexOf('--compare-bin');
const COMPARE_BIN = compareArg !== -1 ? path.resolve(args[compareArg + 1] ?? '') : undefined;
const CPU = args.includes('--cpu');
const onlyArg = args.indexOf('--only');
const ONLY = onlyArg !== -1 ? args[onlyArg + 1] : undefined;
const ROWS = ['version', 'ssh-cert', 'exec', 'exec-cold', 'ssh'];
if (ONLY !== undefined && !ROWS.includes(ONLY)) {
  throw new Error(`--only takes one of ${ROWS.join(', ')}`);
}
const runs = (row: string): boolean => ONLY === undefined || ONLY === row;

interface Command {
  readonly argv: readonly string[];
  readonly env?: Record<string, string>;
  /** Run before each timed run, outside the time (the cold `exec` row drops the cache). */
  readonly before?: () => void;
}

interface Timing {
  readonly wall: number;
  /** User + system CPU milliseconds (`--cpu` only). */
  readonly cpu?: number;
}

const cpuDir = CPU ? fs.mkdtempSync(path.join(os.tmpdir(), 'nd-bench-cpu-')) : undefined;
if (cpuDir !== undefined)
  process.on('exit', () => fs.rmSync(cpuDir, { recursive: true, force: true }));
const cpuFile = path.join(cpuDir ?? '', 'time');

/** One run (spawned asynchronously: this process serves the API). */
function timeOnce(cmd: Command): Promise<Timing> {
  cmd.before?.();
  const argv = CPU ? ['/usr/bin/time', '-f', '%U %S', '-o', cpuFile, ...cmd.argv] : cmd.argv;
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint();
    const child = spawn(argv[0] ?? '', argv.slice(1), {
      env: { ...process.env, ...cmd.env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const wall = Number(process.hrtime.bigint() - start) / 1e6;
      if (code !== 0) {
        reject(new Error(`${cmd.argv.join(' ')} exited ${code}: ${stderr}`));
        return;
      }
      if (!CPU) {
        resolve({ wall });
        return;
      }
      const [user = NaN, sys = NaN] = fs
        .readFileSync(cpuFile, 'utf8')
        .trim()
        .split(/\s+/)
        .map(Number);
      resolve({ wall, cpu: (user + sys) * 1000 });
    });
  });
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};

/**
 * A and B in turn, one warm-up each; the median of A/B per pair, and each side's median. With
 * `c`, C runs in each pair too (A B C A B C ...) and its ratio to the same B runs is printed.
 * With `--cpu`, the same for CPU time.
 */
async function paired(
  name: string,
  a: Command,
  b: Command,
  target: string,
  c?: { readonly name: string; readonly command: Command },
): Promise<void> {
  await timeOnce(a);
  await timeOnce(b);
  if (c) await timeOnce(c.command);
  const as: Timing[] = [];
  const bs: Timing[] = [];
  const cs: Timing[] = [];
  for (let i = 0; i < RUNS; i++) {
    as.push(await timeOnce(a));
    bs.push(await timeOnce(b));
    if (c) cs.push(await timeOnce(c.command));
  }
  const line = (label: string, xs: Timing[], metric: 'wall' | 'cpu', extra: string): void => {
    const rs = xs.map((x, i) => (x[metric] ?? NaN) / (bs[i]?.[metric] ?? NaN));
    const sorted = [...rs].sort((x, y) => x - y);
    const what = metric === 'wall' ? 'ratio' : 'CPU ratio';
    const against = metric === 'wall' ? `target ${target}; ` : '';
    console.log(
      `${label}: ${what} ${median(rs).toFixed(2)}x (${against}pairs ${RUNS}, ratio min ${sorted[0]?.toFixed(2)} max ${sorted.at(-1)?.toFixed(2)})${extra}`,
    );
  };
  const medianOf = (xs: Timing[], metric: 'wall' | 'cpu'): string =>
    median(xs.map((x) => x[metric] ?? NaN)).toFixed(0);
  for (const metric of CPU ? (['wall', 'cpu'] as const) : (['wall'] as const)) {
    const unit = metric === 'wall' ? 'wall' : 'CPU (user+sys)';
    line(
      name,
      as,
      metric,
      `; median ${unit} A ${medianOf(as, metric)} ms, B ${medianOf(bs, metric)} ms`,
    );
    if (c) {
      line(
        `${name} [${c.name}]`,
        cs,
        metric,
        `; median ${unit} ${medianOf(cs, metric)} ms (same B runs)`,
      );
    }
  }
}

async function main(): Promise<void> {
  if (!fs.existsSync(path.join(ROOT, 'cli', 'dist', 'main.js'))) {
    throw new Error('cli/dist is missing: run `npm run build` first');
  }
  const node: Command = { argv: [process.execPath, '-e', '0'] };
  if (runs('version')) {
    await paired(
      'neetodeploy --version vs node -e 0',
      { argv: [process.execPath, BIN, '--version'] },
      node,
      '<= 1.5x',
    );
  }
  if (ONLY === 'version') return;

  const env = await startCliEnv({ bastion: 'pinned' });
  let sshd: SshdHandle | undefined;
  try {
    const home = path.join(env.root, 'bench', 'home');
    fs.mkdirSync(home, { recursive: true });
    const config = makeCliConfig({
      version: '0.1.0',
      dir: path.join(home, '.config', 'neetodeploy'),
      home,
      overrides: {},
      selfCommand: [process.execPath, BIN],
    });
    await env.loginAs(config, ALICE);
    const deps = { io: fakeIo(), api: createApiProvider(config), config };
    if ((await runCli(['ssh-config'], deps)) !== 0) throw new Error('ssh-config failed');
    const sshConfig = path.join(env.root, 'bench', 'ssh_config');
    fs.writeFileSync(sshConfig, deps.io.out(), { mode: 0o600 });
    const cliEnv = { NEETODEPLOY_CONFIG_DIR: config.dir, HOME: home };

    if (runs('ssh-cert')) {
      await paired(
        'neetodeploy ssh-cert (valid cached certificate) vs node -e 0',
        { argv: [process.execPath, BIN, 'ssh-cert', 'demo.neetodeploy'], env: cliEnv },
        node,
        '<= 1.5x',
      );
    }
    const execArgs = ['exec', '-a', 'demo', '--', 'true'];
    if (runs('exec')) {
      await paired(
        'neetodeploy exec -a demo -- true vs node -e 0',
        { argv: [process.execPath, BIN, ...execArgs], env: cliEnv },
        node,
        '<= 3x',
        COMPARE_BIN !== undefined
          ? {
              name: `build ${COMPARE_BIN}`,
              command: { argv: [process.execPath, COMPARE_BIN, ...execArgs], env: cliEnv },
            }
          : undefined,
      );
    }

    if (runs('exec-cold')) {
      const certFile = path.join(config.keysDir, 'demo.neetodeploy-cert.pub');
      await paired(
        'neetodeploy exec -a demo -- true, no cached certificate, vs node -e 0',
        {
          argv: [process.execPath, BIN, ...execArgs],
          env: cliEnv,
          before: () => fs.rmSync(certFile, { force: true }),
        },
        node,
        'none: for the record',
      );
    }

    if (!runs('ssh')) return;
    if (process.getuid?.() !== 0) {
      console.log('stock ssh vs ssh -J through sshd: skipped (sshd needs root)');
      return;
    }
    const dir = path.join(env.root, 'bench', 'sshd');
    fs.mkdirSync(dir, { recursive: true });
    const ca = await makeKey(dir, 'ca');
    const user = await makeKey(dir, 'user');
    const cert = await signCert(ca, user, {
      keyId: 'bench',
      principals: ['root'],
      validity: '-1m:+1h',
      options: ['clear', 'permit-pty', 'permit-port-forwarding'],
    });
    sshd = await startSshd({
      trustedUserCAKeys: [ca.publicKey],
      extraConfig: ['AllowTcpForwarding yes'],
    });
    const known = path.join(dir, 'known_hosts');
    fs.writeFileSync(known, `[127.0.0.1]:${sshd.port} ${sshd.hostKeyLine}\n`);
    const sshdConfig = path.join(dir, 'ssh_config');
    const common = [
      `  IdentityFile ${user.file}`,
      `  CertificateFile ${cert}`,
      '  IdentitiesOnly yes',
      '  IdentityAgent none',
      `  UserKnownHostsFile ${known}`,
      '  GlobalKnownHostsFile /dev/null',
      '  StrictHostKeyChecking yes',
      '  User root',
    ];
    fs.writeFileSync(
      sshdConfig,
      [
        'Host sshd-jump',
        '  HostName 127.0.0.1',
        `  Port ${sshd.port}`,
        ...common,
        'Host sshd-target',
        '  HostName 127.0.0.1',
        `  Port ${sshd.port}`,
        '  ProxyJump sshd-jump',
        ...common,
        '',
      ].join('\n'),
    );
    const batch = ['-o', 'BatchMode=yes'];
    await paired(
      'ssh demo.neetodeploy true vs ssh -J through sshd to sshd',
      { argv: ['ssh', '-F', sshConfig, ...batch, 'demo.neetodeploy', 'true'], env: cliEnv },
      { argv: ['ssh', '-F', sshdConfig, ...batch, 'sshd-target', 'true'] },
      '<= 0.7x',
    );
  } finally {
    await sshd?.stop();
    await env.dispose();
  }
}

await main();
