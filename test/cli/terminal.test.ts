/**
 * Issue 15: progress and colour as a user sees them, through the real binary in a real terminal
 * (tmux) and through pipes. A wait longer than half a second shows a spinner on a terminal,
 * whose line is gone once the wait ends; a pipe never gets a spinner frame or an escape code;
 * colour follows NO_COLOR and FORCE_COLOR.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { approveLoginSession } from '@neetodeploy/keys-service';
import { ALICE, runBin, selfCommandForTests, startCliEnv } from './harness.js';
import type { CliEnv } from './harness.js';

const SPINNER_FRAME = /[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]/;
const ESC = '\x1b';
const RED_PREFIX = `${ESC}[31mneetodeploy:${ESC}[39m`;

function tmux(socket: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('tmux', ['-L', socket, '-f', '/dev/null', ...args], (err, stdout) =>
      err ? reject(new Error(`tmux ${args.join(' ')}: ${err.message}`)) : resolve(stdout),
    );
  });
}

/** A shell command line in a private tmux server; the screen read with its escape codes. */
class Pane {
  private readonly socket = `nd-cli-term-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

  async start(command: string): Promise<void> {
    await tmux(this.socket, ['new-session', '-d', '-s', 's', '-x', '120', '-y', '30', command]);
    await tmux(this.socket, ['set-option', '-g', 'remain-on-exit', 'on']);
  }

  /** The screen; with `escapes`, colour and attributes as SGR sequences (capture-pane -e). */
  screen(escapes = false): Promise<string> {
    return tmux(this.socket, ['capture-pane', '-p', ...(escapes ? ['-e'] : []), '-t', 's']);
  }

  async waitFor(pattern: RegExp, timeoutMs = 15_000, escapes = false): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      last = await this.screen(escapes);
      if (pattern.test(last)) return last;
      await new Promise((r) => setTimeout(r, 40));
    }
    throw new Error(`timed out waiting for ${pattern} on screen:\n${last}`);
  }

  async kill(): Promise<void> {
    await tmux(this.socket, ['kill-server']).catch(() => undefined);
  }
}

/** `env K='v' ... node ... main.ts ARGS; echo "[exit=$?]"` for a tmux pane. */
function binCommand(args: readonly string[], vars: Record<string, string>): string {
  const q = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
  const assignments = Object.entries({ PATH: process.env.PATH ?? '/usr/bin:/bin', ...vars })
    .map(([k, v]) => `${k}=${q(v)}`)
    .join(' ');
  const argv = [...selfCommandForTests(), ...args].map(q).join(' ');
  return `env -i ${assignments} ${argv}; echo "[exit=$?]"; sleep 30`;
}

describe('cli: spinner and colour (issue 15), through the binary', function () {
  let env: CliEnv;

  before(async function () {
    env = await startCliEnv();
  });

  after(async function () {
    await env?.dispose();
  });

  function approveWhenShown(text: string, state: { approved: boolean }): void {
    const code = /code ([B-Z]{4}-[B-Z]{4})/.exec(text)?.[1];
    if (!code || state.approved) return;
    state.approved = true;
    void approveLoginSession(env.ks.service.context, {
      userCode: code,
      email: ALICE,
      decision: 'approve',
    });
  }

  it('a wait for the browser shows a spinner on a terminal, erased when it ends', async function () {
    this.timeout(40_000);
    const config = env.config('tty-login');
    const pane = new Pane();
    const vars = {
      HOME: config.home,
      NEETODEPLOY_CONFIG_DIR: config.dir,
      TERM: 'xterm-256color',
    };
    await pane.start(
      binCommand(['login', '--no-browser', '--api', env.apiUrl, '--ca-file', env.caFile], vars),
    );
    try {
      const waiting = await pane.waitFor(/[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] waiting for approval\.\.\./);
      assert.doesNotMatch(waiting, /Logged in/);
      // The first poll is a second away: the spinner is what moves meanwhile.
      approveWhenShown(waiting, { approved: false });
      const done = await pane.waitFor(/\[exit=\d+\]/);
      assert.match(done, /Logged in as alice@example\.com/);
      assert.match(done, /^\[exit=0\]$/m);
      assert.doesNotMatch(done, /waiting for approval/, 'the spinner line is erased');
      assert.doesNotMatch(done, SPINNER_FRAME);
    } finally {
      await pane.kill();
    }
  });

  it('the same wait into a pipe prints no spinner and no escape code', async function () {
    const config = env.config('pipe-login');
    const state = { approved: false };
    const res = await runBin(
      ['login', '--no-browser', '--api', env.apiUrl, '--ca-file', env.caFile],
      { HOME: config.home, NEETODEPLOY_CONFIG_DIR: config.dir, TERM: 'xterm-256color' },
      { onStderr: (text) => approveWhenShown(text, state) },
    );
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stderr, /Logged in as alice@example\.com/);
    assert.doesNotMatch(res.stderr, SPINNER_FRAME);
    assert.doesNotMatch(res.stderr, /waiting for approval|\r/);
    assert.ok(!res.stderr.includes(ESC), res.stderr);
  });

  it('errors are red on a terminal, plain with NO_COLOR, and FORCE_COLOR colours a pipe', async function () {
    this.timeout(40_000);
    const home = path.join(env.root, 'colour-home');
    const colored = new Pane();
    const plain = new Pane();
    try {
      await colored.start(binCommand(['apps'], { HOME: home, TERM: 'xterm-256color' }));
      await plain.start(
        binCommand(['apps'], { HOME: home, TERM: 'xterm-256color', NO_COLOR: '1' }),
      );
      const red = await colored.waitFor(/\[exit=/, 15_000, true);
      assert.ok(red.includes(`${RED_PREFIX} not logged in`), red);
      const none = await plain.waitFor(/\[exit=/, 15_000, true);
      assert.match(none, /neetodeploy: not logged in: run `neetodeploy login`/);
      assert.ok(!(none.split('[exit=')[0] ?? '').includes(ESC), none);
    } finally {
      await colored.kill();
      await plain.kill();
    }
    const forced = await runBin(['apps'], { HOME: home, FORCE_COLOR: '1' });
    assert.equal(forced.code, 4);
    assert.ok(forced.stderr.startsWith(`${RED_PREFIX} not logged in`), forced.stderr);
    const both = await runBin(['apps'], { HOME: home, FORCE_COLOR: '1', NO_COLOR: '1' });
    assert.equal(both.stderr, 'neetodeploy: not logged in: run `neetodeploy login`\n');
  });
});
