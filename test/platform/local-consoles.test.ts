/**
 * Local consoles as processes: login shells on pipes and ptys, backpressure both ways, KILL after
 * the grace, and aborted requests.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LocalPlatform } from '@neetodeploy/platform';
import { waitForOutput, within } from '../support/platform-conformance.js';
import { open, tempDataDir, useLocalPlatforms, writeApp } from './local-harness.js';

describe('local platform', function () {
  this.timeout(20_000);
  const { make, dispose } = useLocalPlatforms();

  describe('consoles', () => {
    const dataDir = tempDataDir();
    let platform: LocalPlatform;
    after(async () => {
      await platform?.close();
      await dispose(dataDir);
    });
    before(async () => {
      writeApp(dataDir, 'box', 'web: exec sleep 1000\n');
      platform = await make(dataDir, { runProcesses: false });
    });

    it('runs a login shell that reads commands from stdin on pipes', async () => {
      const console = await open(platform, 'box');
      const out = waitForOutput(console.stdout, /hi from the shell/);
      console.stderr.resume();
      console.stdin.end('echo "hi from the shell"; exit 7\n');
      assert.match(await out, /hi from the shell/);
      assert.deepEqual(await within(5000, console.done, 'shell end'), { code: 7 });
    });

    it('runs an interactive shell on a pty', async () => {
      const console = await open(platform, 'box', {
        pty: { term: 'vt100', cols: 80, rows: 24 },
        env: { LC_GREETING: 'hello-pty' },
      });
      console.stdin.write('echo "$((6 * 7)) $LC_GREETING $TERM"\n');
      await waitForOutput(console.stdout, /42 hello-pty vt100/);
      console.stdin.write('exit 3\n');
      assert.deepEqual(await within(5000, console.done, 'pty shell end'), { code: 3 });
    });

    it('says which app it is on, sets HOME to the app folder and runs bash where installed', async () => {
      const console = await open(platform, 'box', { pty: { term: 'xterm', cols: 120, rows: 24 } });
      // On a pty stderr is the terminal too: the banner comes first, before any prompt.
      const banner = await waitForOutput(console.stdout, /\n/);
      assert.match(banner, /^neetodeploy: box · one-off console \(local platform\)\r?\n/);
      // printf builds the words, so the terminal's echo of the typed line cannot match.
      console.stdin.write(`printf 'ho%s=%s shell=%s\\n' me "$HOME" "\${BASH_VERSION:+bash}"\n`);
      const out = await waitForOutput(console.stdout, /home=\S+ shell=\S*\r?\n/);
      const home = /home=(\S+)/.exec(out)?.[1];
      assert.equal(home, fs.realpathSync(path.join(dataDir, 'apps', 'box')));
      if (fs.existsSync('/bin/bash')) assert.match(out, /shell=bash/);
      console.stdin.write('exit 0\n');
      assert.deepEqual(await within(5000, console.done, 'pty shell end'), { code: 0 });
    });

    it('keeps the banner off stdout on pipes, and out of consoles that run a command', async () => {
      const shell = await open(platform, 'box');
      const err = waitForOutput(shell.stderr, /neetodeploy: box · one-off console/);
      const out = waitForOutput(shell.stdout, /done/);
      shell.stdin.end('echo done\n');
      assert.doesNotMatch(await out, /neetodeploy:/);
      await err;
      const command = await open(platform, 'box', { command: 'echo only-this >&2' });
      command.stdout.resume();
      assert.equal(await waitForOutput(command.stderr, /only-this\n/), 'only-this\n');
      await within(5000, command.done, 'command end');
    });

    it('pauses a pty producer while the consumer does not read', async function () {
      this.timeout(15_000);
      // In the app's folder: the data dir around it is closed to the app's processes.
      const counter = path.join(platform.appDir('box'), 'counter');
      const console = await open(platform, 'box', {
        command: `i=0; while [ $i -lt 300 ]; do head -c 16384 /dev/zero; i=$((i+1)); echo $i > counter; done`,
        pty: { term: 'xterm', cols: 80, rows: 24 },
      });
      const count = () => Number(fs.existsSync(counter) ? fs.readFileSync(counter, 'utf8') : 0);
      await sleep(800);
      const early = count();
      await sleep(400);
      const late = count();
      assert.ok(late < 64, `${late} chunks of 16 KB written while nobody read`);
      assert.ok(late - early <= 1, `still producing (${early} → ${late})`);
      let received = 0;
      console.stdout.on('data', (chunk: Buffer) => {
        received += chunk.length;
      });
      assert.deepEqual(await within(10_000, console.done, 'pty producer end'), { code: 0 });
      assert.equal(count(), 300);
      assert.ok(received >= 300 * 16384 - 64 * 1024, `${received} bytes`);
    });

    it('applies backpressure to stdin when the process does not read it', async () => {
      for (const pty of [undefined, { term: 'xterm', cols: 80, rows: 24 }]) {
        const console = await open(platform, 'box', {
          // Raw mode: a terminal keeps unread input instead of discarding long lines.
          command: pty ? 'stty raw -echo; echo ready; sleep 30' : 'echo ready; sleep 30',
          ...(pty ? { pty } : {}),
        });
        console.stderr.resume();
        await waitForOutput(console.stdout, /ready/);
        const chunk = Buffer.alloc(16 * 1024, 'x');
        let writes = 0;
        while (console.stdin.write(chunk) && writes < 1000) writes++;
        // Pipe: 64 KB in the kernel plus the stream's buffer; pty: the terminal's buffers.
        assert.ok(writes < 64, `${writes} writes of 16 KB accepted (${pty ? 'pty' : 'pipe'})`);
        console.kill();
        await within(5000, console.done, 'console end');
      }
    });

    it('KILLs a console that ignores TERM after the grace period', async () => {
      for (const pty of [undefined, { term: 'xterm', cols: 80, rows: 24 }]) {
        const console = await open(platform, 'box', {
          command: "trap '' TERM HUP; echo ready; while :; do sleep 0.05; done",
          ...(pty ? { pty } : {}),
        });
        console.stderr.resume();
        await waitForOutput(console.stdout, /ready/);
        const started = Date.now();
        console.kill();
        const status = await within(3000, console.done, 'done after KILL');
        assert.deepEqual(status, { signal: 'KILL' });
        // stopGraceMs is 500 here.
        assert.ok(Date.now() - started >= 450, `ended after ${Date.now() - started} ms`);
      }
    });

    it('does not start a console whose request was aborted', async () => {
      const controller = new AbortController();
      controller.abort(new Error('client gone'));
      await assert.rejects(
        open(platform, 'box', { command: 'sleep 100', signal: controller.signal }),
        /client gone/,
      );
    });
  });
});
