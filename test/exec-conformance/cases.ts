/**
 * The exec conformance table: what running a command must do, on every path a developer uses
 * (the CLI, stock ssh to the bastion, stock ssh through ProxyJump) and on OpenSSH's own sshd,
 * the reference. A case's `argv` is what follows `neetodeploy exec -a demo --`; stock ssh gets
 * the same words quoted for the remote shell (what `ssh host CMD` users write), so one argument
 * is a shell command line everywhere. Where a path differs from sshd on purpose, `differs` says
 * why. Sizes here keep `npm test` short; `bench/exec-conformance.ts` runs the heavy variants.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';

export type PathName =
  'cli' | 'cli-binary' | 'ssh-direct' | 'ssh-jump' | 'sshd' | 'k8s-cli' | 'k8s-ssh-jump';

export interface Outcome {
  readonly code: number | null;
  readonly stdout: Buffer;
  readonly stderr: Buffer;
}

export interface ExecCase {
  readonly name: string;
  readonly argv: readonly string[];
  readonly stdin?: Buffer | string;
  /** Ask for a pty (`neetodeploy exec -t`, `ssh -tt`). */
  readonly pty?: boolean;
  /** The reader sleeps this long before it reads anything. */
  readonly readDelayMs?: number;
  /**
   * Also spawn the real `neetodeploy` binary (the CLI otherwise runs in-process in `npm test`):
   * for what only a process shows, such as output flushed before it exits.
   */
  readonly binary?: boolean;
  /** Throws (an assertion) when `o` is wrong for `path`. */
  readonly check: (o: Outcome, path: PathName) => void;
  /** Paths that deliberately behave differently from sshd, and why. */
  readonly differs?: Partial<Record<PathName, string>>;
}

const sha256 = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');
const lines = (b: Buffer): number => b.toString('latin1').split('\n').length - 1;

/**
 * A command killed by signal N: `neetodeploy` exits 128+N like a local shell reports it; stock
 * `ssh` (any server) exits 255, since OpenSSH's client keeps no status for an exit-signal.
 */
function signalled(n: number): (o: Outcome, p: PathName) => void {
  return (o, p) =>
    assert.equal(
      o.code,
      p === 'cli' || p === 'cli-binary' || p === 'k8s-cli' ? 128 + n : 255,
      o.stderr.toString(),
    );
}

const UNNAMED_SIGNAL_DIFF =
  'a signal SSH has no name for ends with exit status 128+N (what a shell reports), where sshd sends exit-signal SIG@openssh.com, losing the number, and ssh exits 255';

const SIGNAL_DIFF =
  'exits 128+N for a remote death by signal N (the issue asks for it; scripts can tell the signal), where ssh exits 255';

function exits(code: number): (o: Outcome) => void {
  return (o) => {
    assert.equal(o.code, code, o.stderr.toString());
    assert.equal(o.stdout.toString(), '');
  };
}

/** Built lazily: the binary case holds megabytes. */
export function execCases(options: { binaryBytes: number; lineCount: number }): ExecCase[] {
  const binary = randomBytes(options.binaryBytes);
  const n = options.lineCount;
  return [
    { name: 'exit 0', argv: ['exit 0'], check: exits(0) },
    { name: 'exit 1', argv: ['exit 1'], check: exits(1) },
    { name: 'exit 7 (argv: sh -c "exit 7")', argv: ['sh', '-c', 'exit 7'], check: exits(7) },
    { name: 'exit 255', argv: ['exit 255'], check: exits(255) },
    {
      name: 'death by SIGKILL',
      argv: ['kill -KILL $$'],
      check: signalled(9),
      differs: { cli: SIGNAL_DIFF, 'k8s-cli': SIGNAL_DIFF },
    },
    {
      name: 'death by SIGTERM',
      argv: ['kill -TERM $$'],
      binary: true,
      check: signalled(15),
      differs: {
        cli: SIGNAL_DIFF,
        'cli-binary': SIGNAL_DIFF,
        'k8s-cli': SIGNAL_DIFF,
      },
    },
    {
      name: 'death by SIGUSR1 (a signal RFC 4254 names)',
      argv: ['kill -USR1 $$'],
      check: signalled(10),
      differs: { cli: SIGNAL_DIFF, 'k8s-cli': SIGNAL_DIFF },
    },
    {
      name: 'death by SIGSYS, a signal RFC 4254 has no name for',
      argv: ['kill -SYS $$'],
      // Every bastion path: 128+31, as a shell reports it. sshd sends `SIG@openssh.com`, which
      // keeps no number, and ssh exits 255 for it.
      check: (o, p) => assert.equal(o.code, p === 'sshd' ? 255 : 128 + 31, o.stderr.toString()),
      differs: {
        cli: UNNAMED_SIGNAL_DIFF,
        'cli-binary': UNNAMED_SIGNAL_DIFF,
        'ssh-direct': UNNAMED_SIGNAL_DIFF,
        'ssh-jump': UNNAMED_SIGNAL_DIFF,
        'k8s-cli': UNNAMED_SIGNAL_DIFF,
        'k8s-ssh-jump': UNNAMED_SIGNAL_DIFF,
      },
    },
    {
      name: 'stdin to EOF, then the command goes on',
      argv: ['cat; echo done'],
      stdin: 'hello\n',
      check: (o) => {
        assert.equal(o.code, 0);
        assert.equal(o.stdout.toString(), 'hello\ndone\n');
      },
    },
    {
      name: 'empty stdin is EOF at once',
      argv: ['wc', '-c'],
      check: (o) =>
        assert.equal(o.stdout.toString().trim(), '0', `exit ${o.code}: ${o.stderr.toString()}`),
    },
    {
      name: `${options.binaryBytes} bytes of binary both ways, sha256 intact`,
      argv: ['cat'],
      stdin: binary,
      check: (o) => {
        assert.equal(o.code, 0);
        assert.equal(o.stdout.length, binary.length);
        assert.equal(sha256(o.stdout), sha256(binary));
      },
    },
    {
      name: `${n} lines on stdout to a reader that sleeps first`,
      argv: [`seq 1 ${n}; exit 5`],
      readDelayMs: 2000,
      check: (o) => {
        assert.equal(o.code, 5);
        assert.equal(lines(o.stdout), n);
      },
    },
    {
      name: `${n} lines on stderr to a reader that sleeps first`,
      argv: [`seq 1 ${n} >&2; exit 6`],
      readDelayMs: 2000,
      binary: true,
      check: (o) => {
        assert.equal(o.code, 6);
        assert.equal(lines(o.stderr), n);
        assert.equal(o.stdout.length, 0);
      },
    },
    {
      name: 'stdout and stderr kept apart',
      argv: ['echo out; echo err >&2; echo out2'],
      check: (o) => {
        assert.equal(o.stdout.toString(), 'out\nout2\n');
        assert.equal(o.stderr.toString(), 'err\n');
      },
    },
    {
      name: 'argv with spaces, quotes, ;, $HOME, globs and empty strings arrives unchanged',
      argv: ['printf', '<%s>\\n', 'a b', "c'd", 'e"f', 'x;id', '$HOME', '*', '', 'g\\h'],
      check: (o) => {
        assert.equal(o.code, 0, o.stderr.toString());
        assert.equal(
          o.stdout.toString(),
          '<a b>\n<c\'d>\n<e"f>\n<x;id>\n<$HOME>\n<*>\n<>\n<g\\h>\n',
        );
      },
    },
    {
      name: 'one argument is a shell command line',
      argv: ['echo "$((6 * 7))"; exit 3'],
      check: (o) => {
        assert.equal(o.code, 3);
        assert.equal(o.stdout.toString(), '42\n');
      },
    },
    {
      name: 'no pty unless asked',
      argv: ['test -t 0 || echo no-tty-in; test -t 1 || echo no-tty-out'],
      check: (o) => assert.equal(o.stdout.toString(), 'no-tty-in\nno-tty-out\n'),
    },
    {
      name: 'a pty when asked (-t / ssh -tt)',
      argv: ['test -t 0 && test -t 1 && echo on-a-tty; exit 4'],
      pty: true,
      check: (o) => {
        assert.equal(o.code, 4);
        assert.match(o.stdout.toString(), /^on-a-tty\r\n/);
      },
    },
  ];
}

/** Cases run by the test file itself (they need more than one process or a cut connection). */
export const SCENARIOS = {
  dropped:
    'connection dropped mid-command: the client exits 255 within seconds, and the console process is gone within seconds',
  concurrent: 'concurrent runs each get their own exit code',
} as const;

/**
 * Where the bastion's paths differ from sshd in the scenarios, and why.
 */
export const SCENARIO_DIFFERENCES = {
  dropped:
    'sshd leaves a pipe-only command running after the connection drops, until it writes to ' +
    'the closed pipe (it sends no signal); the bastion ends the console process group (TERM, ' +
    'then KILL), because an orphaned console costs a pod and outlives its audit event',
} as const;
