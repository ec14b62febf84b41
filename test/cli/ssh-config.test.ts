/**
 * `neetodeploy ssh-config` and `ssh-cert`, checked by the real OpenSSH client: `ssh -G` parses
 * the file, runs its `Match exec` (our ssh-cert, spawned from source) and shows the result.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { parseCertificateText } from '@neetodeploy/sshcert';
import { ALICE, startCliEnv } from './harness.js';
import type { CliEnv } from './harness.js';

const execFileP = promisify(execFile);

async function sshG(
  args: string[],
  env: Record<string, string> = {},
): Promise<Map<string, string[]>> {
  const { stdout } = await execFileP('ssh', ['-G', ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    timeout: 30_000,
  });
  const options = new Map<string, string[]>();
  for (const line of stdout.split('\n')) {
    const space = line.indexOf(' ');
    if (space === -1) continue;
    const key = line.slice(0, space);
    options.set(key, [...(options.get(key) ?? []), line.slice(space + 1)]);
  }
  return options;
}

describe('cli: ssh-config and ssh-cert with real OpenSSH', function () {
  let env: CliEnv;

  before(async function () {
    env = await startCliEnv();
  });

  after(async function () {
    await env?.dispose();
  });

  it('prints a config that ssh -G resolves to ProxyJump through the bastion with the app certificate', async function () {
    const config = env.config('ssh-print');
    await env.loginAs(config, ALICE);
    const { io } = await env.run(config, ['ssh-config']);
    const file = path.join(env.root, 'printed_ssh_config');
    fs.writeFileSync(file, io.out(), { mode: 0o600 });
    assert.match(io.err(), /ssh demo\.neetodeploy/);

    const keyFile = path.join(config.keysDir, 'demo.neetodeploy');
    const certFile = `${keyFile}-cert.pub`;
    const knownHosts = path.join(config.dir, 'known_hosts');
    assert.equal(fs.statSync(keyFile).mode & 0o777, 0o600);
    const line = fs.readFileSync(knownHosts, 'utf8');
    assert.match(line, /^@cert-authority 127\.0\.0\.1,\*\.neetodeploy ssh-ed25519 /);

    // The Match exec must bring a missing certificate back.
    fs.rmSync(certFile);
    const target = await sshG(['-F', file, 'demo.neetodeploy']);
    assert.deepEqual(target.get('proxyjump'), ['neetodeploy-jump@%n']);
    // ssh -G shows IdentityFile/CertificateFile/ProxyJump before token expansion.
    assert.deepEqual(target.get('identityfile'), [path.join(config.keysDir, '%n')]);
    assert.deepEqual(target.get('certificatefile'), [path.join(config.keysDir, '%n-cert.pub')]);
    assert.deepEqual(target.get('userknownhostsfile'), [knownHosts]);
    assert.deepEqual(target.get('stricthostkeychecking'), ['true']);
    assert.deepEqual(target.get('identitiesonly'), ['yes']);
    assert.deepEqual(target.get('hostname'), ['demo.neetodeploy']);
    assert.deepEqual(target.get('port'), ['22']);
    assert.deepEqual(target.get('hostkeyalias'), ['127.0.0.1']);
    const cert = parseCertificateText(fs.readFileSync(certFile, 'utf8'));
    assert.deepEqual(cert.principals, ['demo']);
    assert.equal(cert.keyId.split(':')[0], ALICE);

    // The jump hop, as ssh starts it for ProxyJump: same name, the jump user.
    const jump = await sshG(['-F', file, '-l', 'neetodeploy-jump', 'demo.neetodeploy']);
    assert.deepEqual(jump.get('hostname'), ['127.0.0.1']);
    assert.deepEqual(jump.get('port'), ['2222']);
    assert.equal(jump.get('proxyjump'), undefined);
    assert.deepEqual(jump.get('certificatefile'), [path.join(config.keysDir, '%n-cert.pub')]);
    assert.deepEqual(jump.get('identityfile'), [path.join(config.keysDir, '%n')]);
    assert.deepEqual(jump.get('hostkeyalias'), ['127.0.0.1']);
    assert.deepEqual(jump.get('userknownhostsfile'), [knownHosts]);

    // Other hosts are untouched.
    const other = await sshG(['-F', file, 'example.org']);
    assert.equal(other.get('proxyjump'), undefined);
    assert.equal(other.get('certificatefile'), undefined);
  });

  it('--install writes its own file and one Include at the top of ~/.ssh/config, idempotently', async function () {
    const config = env.config('ssh-install');
    await env.loginAs(config, ALICE);
    const sshDir = path.join(config.home, '.ssh');
    fs.mkdirSync(sshDir, { mode: 0o700 });
    const userConfig = path.join(sshDir, 'config');
    fs.writeFileSync(userConfig, 'Host example.org\n  User someone\n', { mode: 0o600 });
    await env.run(config, ['ssh-config', '--install']);
    const second = await env.run(config, ['ssh-config', '--install']);
    assert.match(second.io.err(), /already includes/);
    const text = fs.readFileSync(userConfig, 'utf8');
    const ours = path.join(config.dir, 'ssh_config');
    assert.equal(text.split('\n').filter((l) => l.startsWith('Include ')).length, 1);
    assert.match(
      text,
      new RegExp(`^# Added by .*\\nInclude "${ours.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"\\n`),
    );
    assert.match(text, /Host example\.org\n {2}User someone\n$/);
    assert.equal(fs.statSync(ours).mode & 0o777, 0o600);
    const viaUserConfig = await sshG(['-F', userConfig, 'demo.neetodeploy']);
    assert.deepEqual(viaUserConfig.get('proxyjump'), ['neetodeploy-jump@%n']);
    const untouched = await sshG(['-F', userConfig, 'example.org']);
    assert.deepEqual(untouched.get('user'), ['someone']);
  });

  it('ssh-cert renews only when needed, and always exits 0', async function () {
    const config = env.config('ssh-cert');
    await env.loginAs(config, ALICE);
    const certFile = path.join(config.keysDir, 'demo.neetodeploy-cert.pub');
    await env.run(config, ['ssh-cert', 'demo.neetodeploy']);
    const first = fs.readFileSync(certFile, 'utf8');
    await env.run(config, ['ssh-cert', 'demo.neetodeploy']);
    assert.equal(fs.readFileSync(certFile, 'utf8'), first, 'still valid: kept');
    await env.run(config, ['ssh-cert', 'demo.neetodeploy', '--force']);
    const renewed = fs.readFileSync(certFile, 'utf8');
    assert.notEqual(renewed, first);
    assert.ok(
      parseCertificateText(renewed).publicKey.blob.equals(
        parseCertificateText(first).publicKey.blob,
      ),
      'the key is kept, only the certificate renewed',
    );
    const bad = await env.run(config, ['ssh-cert', 'example.org']);
    assert.equal(bad.code, 0);
    assert.match(bad.io.err(), /is not APP\.neetodeploy/);
    const logged = env.config('ssh-cert-anon');
    const anon = await env.run(logged, ['ssh-cert', 'demo.neetodeploy']);
    assert.equal(anon.code, 0);
    assert.match(anon.io.err(), /neetodeploy login/);
  });
});
