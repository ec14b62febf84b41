import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { sourceBinArgs } from '../support/paths.js';
import { makeKey, signCert, ssh, tempDir, writeSshConfig } from '../support/ssh-client.js';
import { BASTION_NAME } from './harness.js';

interface Running {
  child: ChildProcess;
  port: number;
  metricsPort: number;
  config: string;
  stderr: () => string;
  stdout: () => string;
  cleanup(): Promise<void>;
}

/** `neetodeploy-bastion --config FILE` as a real process, with a user allowed on `demo`. */
async function startProcess(extraYaml = ''): Promise<Running> {
  const t = await tempDir();
  const [userCa, hostCa, hostKey, user] = await Promise.all([
    makeKey(t.dir, 'user_ca'),
    makeKey(t.dir, 'host_ca'),
    makeKey(t.dir, 'host_key'),
    makeKey(t.dir, 'id_user'),
  ]);
  const hostCert = await signCert(hostCa, hostKey, {
    keyId: 'b',
    principals: [BASTION_NAME, '*.neetodeploy'],
    host: true,
  });
  const cert = await signCert(userCa, user, {
    keyId: 'carol@example.com:p1',
    principals: ['demo'],
  });
  const file = path.join(t.dir, 'bastion.yaml');
  await writeFile(
    file,
    [
      'listen: { host: 127.0.0.1, port: 0 }',
      `name: ${BASTION_NAME}`,
      'hostKeys:',
      '  - privateKeyFile: host_key',
      `    certificateFile: ${path.basename(hostCert)}`,
      'trust:',
      '  static: { userCaKeyFiles: [user_ca.pub] }',
      'metrics: { host: 127.0.0.1, port: 0 }',
      'platform: { type: local, dataDir: data }',
      'log: { level: info }',
      extraYaml,
    ].join('\n'),
  );
  const knownHosts = path.join(t.dir, 'known_hosts');
  await writeFile(
    knownHosts,
    `@cert-authority ${BASTION_NAME},*.neetodeploy ${hostCa.publicKey}\n`,
  );
  const child = spawn(process.execPath, [...sourceBinArgs('bastion'), '--config', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  let all = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  child.stdout.on('data', (c: Buffer) => (all += c.toString()));
  const addrs = await new Promise<{ ssh: { port: number }; metrics: { port: number } }>(
    (resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const line = out.split('\n').find((l) => l.startsWith('{"ssh"'));
        if (line) resolve(JSON.parse(line));
      });
      child.once('exit', (code) => reject(new Error(`bastion exited ${code}: ${err}`)));
    },
  );
  const config = await writeSshConfig(path.join(t.dir, 'ssh_config'), {
    port: addrs.ssh.port,
    identity: user.file,
    certificate: cert,
    knownHosts,
    bastionName: BASTION_NAME,
  });
  return {
    child,
    port: addrs.ssh.port,
    metricsPort: addrs.metrics.port,
    config,
    stderr: () => err,
    stdout: () => all,
    async cleanup() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
      }
      await t.cleanup();
    },
  };
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

async function get(port: number, p: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${p}`);
  return { status: res.status, body: await res.text() };
}

describe('neetodeploy-bastion process', function () {
  this.timeout(60_000);

  it('serves metrics, health and readiness on its own port', async () => {
    const b = await startProcess();
    try {
      const r = await ssh(b.config, ['bastion', 'echo hi']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((await get(b.metricsPort, '/healthz')).status, 200);
      assert.equal((await get(b.metricsPort, '/readyz')).status, 200);
      const m = await get(b.metricsPort, '/metrics');
      assert.match(
        m.body,
        /neetodeploy_bastion_auth_results_total\{result="success",reason="ok"\} 1/,
      );
      assert.match(m.body, /neetodeploy_bastion_connections_total\{kind="direct"\} 1/);
      assert.match(m.body, /neetodeploy_bastion_handshakes_total\{result="ok"\} 1/);
      assert.match(m.body, /neetodeploy_bastion_session_bytes_total\{direction="out"\} 3/);
      assert.match(m.body, /neetodeploy_bastion_active_sessions 0/);
      // Audit: one JSON line per auth result and per session, never key material.
      const events = b
        .stdout()
        .split('\n')
        .filter((l) => l.startsWith('{"level"'))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((e) => e.audit === true);
      const auth = events.filter((e) => e.event === 'auth.result');
      assert.equal(auth.length, 1);
      assert.deepEqual(
        { user: auth[0]!.user, keyId: auth[0]!.keyId, result: auth[0]!.result, ip: auth[0]!.ip },
        {
          user: 'carol@example.com',
          keyId: 'carol@example.com:p1',
          result: 'success',
          ip: '127.0.0.1',
        },
      );
      assert.match(String(auth[0]!.serial), /^\d+$/);
      const end = events.find((e) => e.event === 'session.end');
      assert.ok(end);
      assert.equal(end.app, 'demo');
      assert.equal(end.exitCode, 0);
      assert.equal(end.bytesOut, 3);
      const start = events.find((e) => e.event === 'session.start');
      assert.equal(start?.command, 'echo hi');
      assert.equal(start?.pty, false);
      assert.doesNotMatch(b.stdout(), /AAAA|PRIVATE KEY/);
    } finally {
      await b.cleanup();
    }
  });

  it('keeps memory bounded when the client stops reading while the console writes 500 MB', async () => {
    const b = await startProcess();
    try {
      const warm = await ssh(b.config, ['bastion', 'true']);
      assert.equal(warm.code, 0, warm.stderr);
      const base = rssKb(b.child.pid!);
      const total = 500_000_000;
      const client = spawn('ssh', ['-F', b.config, 'bastion', `head -c ${total} /dev/zero`], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let received = 0;
      let stopped = false;
      let peak = base;
      const exited = new Promise<number | null>((r) => client.once('exit', (code) => r(code)));
      await new Promise<void>((resolve) => {
        client.stdout.on('data', (c: Buffer) => {
          received += c.length;
          if (!stopped && received > 4_000_000) {
            stopped = true;
            client.kill('SIGSTOP'); // stops reading TCP entirely
            resolve();
          }
        });
      });
      for (let i = 0; i < 15; i++) {
        await new Promise((r) => setTimeout(r, 100));
        peak = Math.max(peak, rssKb(b.child.pid!));
      }
      client.kill('SIGCONT');
      assert.equal(await exited, 0);
      assert.equal(received, total);
      const grewMb = (peak - base) / 1024;
      process.stderr.write(
        `      (bastion RSS growth while the client was stopped: ${grewMb.toFixed(1)} MB)\n`,
      );
      assert.ok(
        grewMb < 64,
        `bastion RSS grew by ${grewMb.toFixed(1)} MB while the client was stopped`,
      );
    } finally {
      await b.cleanup();
    }
  });

  it('drains on SIGTERM: tells open sessions, refuses new ones, then exits', async () => {
    const b = await startProcess('drain: { timeoutMs: 1500 }');
    try {
      const session = spawn('ssh', ['-F', b.config, 'bastion', 'echo started; sleep 30'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      session.stdout.on('data', (c: Buffer) => (out += c.toString()));
      session.stderr.on('data', (c: Buffer) => (err += c.toString()));
      const sessionExit = new Promise<number | null>((r) =>
        session.once('exit', (code) => r(code)),
      );
      while (!out.includes('started')) await new Promise((r) => setTimeout(r, 50));
      const t0 = Date.now();
      b.child.kill('SIGTERM');
      while (!err.includes('restarting')) {
        assert.ok(Date.now() - t0 < 5000, 'no drain message');
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.match(err, /the bastion is restarting; this session will be closed within 2s/);
      assert.equal((await get(b.metricsPort, '/readyz')).status, 503);
      const late = await ssh(b.config, ['bastion', 'true'], { timeoutMs: 5000 });
      assert.equal(late.code, 255);
      const code = await new Promise<number | null>((r) => b.child.once('exit', (c) => r(c)));
      assert.equal(code, 0);
      await sessionExit;
      const took = Date.now() - t0;
      assert.ok(took >= 1400 && took < 10_000, `drain took ${took} ms`);
    } finally {
      await b.cleanup();
    }
  });
});
