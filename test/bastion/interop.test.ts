import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, writeFile, readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { run, ssh, tempDir, TmuxSession } from '../support/ssh-client.js';
import { startHarness, type Harness } from './harness.js';

describe('bastion with the real OpenSSH client', function () {
  this.timeout(30_000);
  let h: Harness;
  let config: string;
  let keyFile: string;

  before(async () => {
    h = await startHarness();
    const alice = await h.user('alice', { principals: ['demo'] });
    config = alice.config;
    keyFile = alice.key.file;
  });
  after(async () => {
    await h?.close();
  });

  it('serves the plain host key too, for clients that pin it', async () => {
    const hostPub = (await readFile(path.join(h.dir, 'ssh_host_ed25519_key.pub'), 'utf8'))
      .trim()
      .split(' ')
      .slice(0, 2)
      .join(' ');
    const pinned = path.join(h.dir, 'pinned_known_hosts');
    await writeFile(pinned, `[127.0.0.1]:${h.address.port} ${hostPub}\n`);
    const r = await run('ssh', [
      ...['-F', '/dev/null', '-i', keyFile, '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none'],
      ...[
        '-o',
        `UserKnownHostsFile=${pinned}`,
        '-o',
        'GlobalKnownHostsFile=/dev/null',
        '-o',
        'StrictHostKeyChecking=yes',
      ],
      ...['-o', 'BatchMode=yes', '-p', String(h.address.port), 'demo@127.0.0.1', 'echo pinned'],
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.toString(), 'pinned\n');
  });

  for (const via of ['direct', 'jump'] as const) {
    const host = via === 'direct' ? 'bastion' : 'demo.neetodeploy';

    describe(via === 'direct' ? 'direct (ssh demo@bastion)' : 'through ProxyJump (ssh -J)', () => {
      it('returns the remote exit code', async () => {
        const r = await ssh(config, [host, 'exit 42']);
        assert.equal(r.code, 42, r.stderr);
      });

      it('keeps stdout and stderr apart and runs in the app folder', async () => {
        const r = await ssh(config, [
          host,
          'echo out; echo err >&2; test -f Procfile && echo procfile',
        ]);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.toString(), 'out\nprocfile\n');
        assert.match(r.stderr, /^err$/m);
      });

      it('pipes stdin through: a tar of a folder round-trips intact', async () => {
        const t = await tempDir();
        try {
          const src = path.join(t.dir, 'src');
          await mkdir(path.join(src, 'sub'), { recursive: true });
          const files: Record<string, Buffer> = {
            'a.bin': randomBytes(300_000),
            'sub/b.txt': Buffer.from('hello\n'),
          };
          for (const [f, data] of Object.entries(files)) await writeFile(path.join(src, f), data);
          const tar = await run('tar', ['-C', src, '-cf', '-', '.']);
          const remote = await ssh(
            config,
            [host, 'd=$(mktemp -d) && tar -C "$d" -xf - && tar -C "$d" -cf - . && rm -rf "$d"'],
            {
              input: tar.stdout,
            },
          );
          assert.equal(remote.code, 0, remote.stderr);
          const dst = path.join(t.dir, 'dst');
          await mkdir(dst);
          const untar = await run('tar', ['-C', dst, '-xf', '-'], { input: remote.stdout });
          assert.equal(untar.code, 0, untar.stderr);
          for (const [f, data] of Object.entries(files))
            assert.ok((await readFile(path.join(dst, f))).equals(data), f);
          assert.deepEqual((await readdir(dst)).sort(), ['a.bin', 'sub']);
        } finally {
          await t.cleanup();
        }
      });

      it('serves scp (sftp subsystem) both ways', async () => {
        const t = await tempDir();
        try {
          const data = randomBytes(200_000);
          await writeFile(path.join(t.dir, 'up.bin'), data);
          const remote = `/tmp/nd-scp-${via}-${process.pid}.bin`;
          const up = await run('scp', [
            '-q',
            '-F',
            config,
            path.join(t.dir, 'up.bin'),
            `${host}:${remote}`,
          ]);
          assert.equal(up.code, 0, up.stderr);
          const down = await run('scp', [
            '-q',
            '-F',
            config,
            `${host}:${remote}`,
            path.join(t.dir, 'down.bin'),
          ]);
          assert.equal(down.code, 0, down.stderr);
          assert.ok((await readFile(path.join(t.dir, 'down.bin'))).equals(data));
          await ssh(config, [host, `rm -f ${remote}`]);
        } finally {
          await t.cleanup();
        }
      });

      it('delivers large output intact (sha256)', async () => {
        const r = await ssh(
          config,
          [host, 'head -c 20000000 /dev/zero | tr "\\0" "x"; printf end'],
          { timeoutMs: 20_000 },
        );
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.length, 20_000_003);
        const want = createHash('sha256')
          .update(Buffer.concat([Buffer.alloc(20_000_000, 'x'), Buffer.from('end')]))
          .digest('hex');
        assert.equal(createHash('sha256').update(r.stdout).digest('hex'), want);
      });

      it('delivers large stdout and stderr written at once, both intact', async () => {
        // Both streams outrun the client's 2 MiB window together: ssh2 used to retry only
        // stdout's held write when the window opened, so stderr waited forever.
        const r = await ssh(
          config,
          [
            host,
            "head -c 6000000 /dev/zero | tr '\\0' o & head -c 6000000 /dev/zero | tr '\\0' e >&2; wait",
          ],
          { timeoutMs: 20_000 },
        );
        assert.equal(r.code, 0, r.stderr.slice(0, 200));
        assert.ok(
          r.stdout.equals(Buffer.alloc(6_000_000, 'o')),
          `stdout: ${r.stdout.length} bytes`,
        );
        assert.equal(r.stderr.length, 6_000_000);
        assert.ok(/^e+$/.test(r.stderr), 'stderr: only what the command wrote');
      });

      it('ends the console when the client is killed (kill -9)', async () => {
        const marker = `nd-marker-${via}-${Date.now()}`;
        const child = spawn('ssh', ['-F', config, host, `echo up; sleep 300; echo ${marker}`], {
          stdio: ['pipe', 'pipe', 'ignore'],
        });
        await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
        // The console's shell, not the ssh client (whose command line also holds the marker).
        const consoles = async () =>
          (await run('pgrep', ['-f', marker])).stdout
            .toString()
            .split('\n')
            .filter((pid) => pid !== '' && pid !== String(child.pid));
        assert.ok((await consoles()).length > 0, 'console should be running');
        child.kill('SIGKILL');
        const deadline = Date.now() + 8000;
        while ((await consoles()).length > 0) {
          assert.ok(Date.now() < deadline, 'console still running after the client was killed');
          await new Promise((r) => setTimeout(r, 100));
        }
      });

      it('runs an interactive shell on a pty; resize reaches stty size', async () => {
        const tmux = await TmuxSession.start(['ssh', '-F', config, '-tt', host], {
          cols: 100,
          rows: 30,
        });
        try {
          await tmux.type('echo "[$((6*7))]"; stty size\n');
          await tmux.waitFor(/\[42\][\s\S]*30 100/);
          await tmux.resize(120, 40);
          await new Promise((r) => setTimeout(r, 200));
          await tmux.type('stty size\n');
          await tmux.waitFor(/40 120/);
          await tmux.type('exit 3\n');
          await tmux.waitFor(/closed|Pane is dead/);
        } finally {
          await tmux.kill();
        }
      });
    });
  }
});
