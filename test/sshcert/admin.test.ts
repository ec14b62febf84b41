import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  parseCertificateText,
  parseKrl,
  parsePrivateKey,
  parsePublicKeyText,
} from '@neetodeploy/sshcert';
import { Readable, Writable } from 'node:stream';
import { CommanderError } from 'commander';
import {
  AdminError,
  CheckFailed,
  UsageError,
  certificatePathFor,
  parseDuration,
} from '../../keys-service/src/commands/index.js';
import { createProgram } from '../../keys-service/src/cli.js';
import { makeTempDir, run, sshKeygen, type RunResult } from '../support/openssh.js';
import { ROOT, sourceBinArgs } from '../support/paths.js';

function keys(...args: string[]): Promise<RunResult> {
  return run(process.execPath, [...sourceBinArgs('keys-service'), ...args], {
    cwd: ROOT,
    // Generous: starting node with tsx takes seconds on a loaded 2-core machine.
    timeoutMs: 90000,
  });
}

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString('utf8');
    done();
  }
}

/** Runs the program in-process with captured io: the thrown outcome instead of an exit code. */
async function keysInProcess(
  ...args: string[]
): Promise<{ stdout: string; stderr: string; error?: unknown }> {
  const stdout = new Sink();
  const stderr = new Sink();
  const program = createProgram({
    io: { stdout, stderr, stdin: Readable.from([]) },
    now: () => new Date(),
    env: {},
    cwd: ROOT,
  });
  try {
    await program.parseAsync(['node', 'neetodeploy-keys', ...args]);
    return { stdout: stdout.text, stderr: stderr.text };
  } catch (error) {
    return { stdout: stdout.text, stderr: stderr.text, error };
  }
}

describe('neetodeploy-keys admin commands (spawned from source)', function () {
  this.timeout(120000);
  let tmp: { dir: string; remove: () => void };
  let caDir: string;
  let userKey: string;
  let hostKey: string;

  before(async () => {
    tmp = makeTempDir('keys-admin-');
    caDir = path.join(tmp.dir, 'ca');
    userKey = path.join(tmp.dir, 'id_ed25519');
    hostKey = path.join(tmp.dir, 'ssh_host_ecdsa_key');
    await sshKeygen(['-q', '-t', 'ed25519', '-N', '', '-C', 'alice@laptop', '-f', userKey]);
    await sshKeygen(['-q', '-t', 'ecdsa', '-N', '', '-f', hostKey]);
  });
  after(() => tmp.remove());

  it('ca init writes a user CA and a host CA (private 0600) that ssh-keygen reads, and never overwrites', async () => {
    const r = await keys('ca', 'init', '--out', caDir);
    assert.equal(r.code, 0, r.stderr);
    for (const name of ['user_ca', 'host_ca']) {
      const file = path.join(caDir, name);
      assert.equal(fs.statSync(file).mode & 0o777, 0o600);
      const pub = fs.readFileSync(`${file}.pub`, 'utf8').trim();
      assert.match(pub, new RegExp(`^ssh-ed25519 \\S+ neetodeploy-${name.replace('_', '-')}$`));
      const { stdout } = await sshKeygen(['-y', '-f', file]);
      assert.equal(stdout.trim(), pub);
      const fp = (await sshKeygen(['-l', '-f', `${file}.pub`])).stdout.split(' ')[1]!;
      assert.ok(r.stdout.includes(fp), 'prints the fingerprints');
    }
    const before = fs.readFileSync(path.join(caDir, 'user_ca'), 'utf8');
    const again = await keys('ca', 'init', '--out', caDir);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /refusing to overwrite/);
    assert.equal(fs.readFileSync(path.join(caDir, 'user_ca'), 'utf8'), before);

    const ecdsaDir = path.join(tmp.dir, 'ca-ecdsa');
    const e = await keysInProcess('ca', 'init', '--out', ecdsaDir, '--type', 'ecdsa');
    assert.equal(e.error, undefined, e.stderr);
    assert.equal(
      parsePrivateKey(fs.readFileSync(path.join(ecdsaDir, 'host_ca'))).type,
      'ecdsa-sha2-nistp256',
    );
    const bad = await keysInProcess(
      'ca',
      'init',
      '--out',
      path.join(tmp.dir, 'x'),
      '--type',
      'dsa',
    );
    assert.ok(bad.error instanceof UsageError);
    assert.match(bad.error.message, /--type/);
  });

  it('sign writes <key>-cert.pub like ssh-keygen -s, with ssh-keygen default extensions for users', async () => {
    const r = await keys(
      'sign',
      '--ca',
      path.join(caDir, 'user_ca'),
      '--key',
      `${userKey}.pub`,
      '--principals',
      'demo,api',
      '--ttl',
      '5m',
      '--id',
      'alice@example.com:req-1',
      '--serial',
      '77',
    );
    assert.equal(r.code, 0, r.stderr);
    const certFile = `${userKey}-cert.pub`;
    assert.equal(r.stdout.trim(), certFile);
    const { stdout } = await sshKeygen(['-L', '-f', certFile]);
    assert.match(stdout, /Type: ssh-ed25519-cert-v01@openssh.com user certificate/);
    assert.match(stdout, /Key ID: "alice@example.com:req-1"/);
    assert.match(stdout, /Serial: 77\n/);
    assert.match(stdout, /Principals: \n\s+demo\n\s+api\n/);
    assert.match(stdout, /Critical Options: \(none\)/);
    assert.match(
      stdout,
      /Extensions: \n\s+permit-X11-forwarding\n\s+permit-agent-forwarding\n\s+permit-port-forwarding\n\s+permit-pty\n\s+permit-user-rc\n/,
    );
    const cert = parseCertificateText(fs.readFileSync(certFile, 'utf8'));
    assert.equal(cert.validBefore - cert.validAfter, 360n, '5m plus the 60 s backdate');
    assert.equal(cert.comment, 'alice@laptop');
  });

  it('sign makes host certificates with explicit extensions and critical options', async () => {
    const r = await keysInProcess(
      'sign',
      '--ca',
      path.join(caDir, 'host_ca'),
      '--key',
      `${hostKey}.pub`,
      '--principals',
      'bastion.example.com,*.neetodeploy',
      '--ttl',
      '1d',
      '--id',
      'bastion',
      '--host',
    );
    assert.equal(r.error, undefined, r.stderr);
    const host = await sshKeygen(['-L', '-f', `${hostKey}-cert.pub`]);
    assert.match(host.stdout, /ecdsa-sha2-nistp256-cert-v01@openssh.com host certificate/);
    assert.match(host.stdout, /Extensions: \(none\)/);

    const user = await keysInProcess(
      'sign',
      '--ca',
      path.join(caDir, 'user_ca'),
      '--key',
      `${userKey}.pub`,
      '--principals',
      'demo',
      '--ttl',
      '30s',
      '--id',
      'restricted',
      '--extension',
      'permit-pty',
      '--extension',
      'grant@example.com=yes',
      '--critical',
      'source-address=127.0.0.1/32,::1',
      '--critical',
      'force-command=/usr/bin/true',
    );
    assert.equal(user.error, undefined, user.stderr);
    const { stdout } = await sshKeygen(['-L', '-f', `${userKey}-cert.pub`]);
    assert.match(stdout, /force-command \/usr\/bin\/true\n\s+source-address 127.0.0.1\/32,::1\n/);
    assert.match(
      stdout,
      /Extensions: \n\s+grant@example.com UNKNOWN OPTION: 00000003796573 \(len 7\)\n\s+permit-pty\n/,
    );

    for (const [args, pattern] of [
      [['--ttl', '5x'], /--ttl/],
      [['--ttl', '5m', '--critical', 'source-address=10.0.0.1/8'], /source-address/],
      [['--ttl', '5m', '--principals', ','], /principal/],
      // Revocations are forgotten after a year: a longer user certificate would outlive them.
      [['--ttl', '366d'], /at most 365 days/],
    ] as const) {
      const base = [
        '--ca',
        path.join(caDir, 'user_ca'),
        '--key',
        `${userKey}.pub`,
        '--id',
        'x',
        '--principals',
        'p',
      ];
      const bad = await keysInProcess('sign', ...base, ...args);
      assert.ok(bad.error instanceof UsageError, `${args.join(' ')}: ${String(bad.error)}`);
      assert.match(bad.error.message, pattern);
    }
    // The exit code of a usage error, through main.ts.
    const spawned = await keys(
      'sign',
      '--ca',
      'x',
      '--key',
      'y',
      '--id',
      'z',
      '--principals',
      'p',
      '--ttl',
      '5x',
    );
    assert.equal(spawned.code, 2);
    assert.match(spawned.stderr, /--ttl: expected a duration/);
    const missing = await keysInProcess('sign', '--ca', 'x');
    assert.ok(missing.error instanceof CommanderError);
    assert.match(missing.stderr, /required option/);
  });

  it('verify prints the identity (exit 0) or the reason (exit 1)', async () => {
    await keysInProcess(
      'sign',
      '--ca',
      path.join(caDir, 'user_ca'),
      '--key',
      `${userKey}.pub`,
      '--principals',
      'demo',
      '--ttl',
      '1h',
      '--id',
      'alice@example.com:req-9',
      '--serial',
      '9',
    );
    const certFile = `${userKey}-cert.pub`;
    const verifyAs = (principal: string): Promise<RunResult> =>
      keys(
        'verify',
        '--ca-pub',
        path.join(caDir, 'user_ca.pub'),
        '--cert',
        certFile,
        '--principal',
        principal,
      );
    const [ok, wrong] = await Promise.all([verifyAs('demo'), verifyAs('other')]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^ok\n/);
    assert.match(ok.stdout, /key id: alice@example.com:req-9\n/);
    assert.match(ok.stdout, /principals: demo\n/);

    const json = await keysInProcess(
      'verify',
      '--ca-pub',
      path.join(caDir, 'user_ca.pub'),
      '--cert',
      certFile,
      '--json',
    );
    assert.equal(json.error, undefined);
    const parsed = JSON.parse(json.stdout) as { ok: boolean; certificate: { serial: string } };
    assert.equal(parsed.ok, true);
    assert.equal(parsed.certificate.serial, '9');

    assert.equal(wrong.code, 1);
    assert.match(wrong.stdout, /refused: principal-not-listed/);
    const host = await keysInProcess(
      'verify',
      '--ca-pub',
      path.join(caDir, 'host_ca.pub'),
      '--cert',
      certFile,
    );
    assert.ok(host.error instanceof CheckFailed);
    assert.match(host.stdout, /refused: untrusted-ca/);
    const hostCert = await keysInProcess(
      'verify',
      '--ca-pub',
      path.join(caDir, 'host_ca.pub'),
      '--cert',
      `${hostKey}-cert.pub`,
      '--host',
      '--principal',
      'demo.neetodeploy',
    );
    assert.equal(hostCert.error, undefined, hostCert.stdout);
    const missing = await keysInProcess(
      'verify',
      '--ca-pub',
      path.join(tmp.dir, 'nope.pub'),
      '--cert',
      certFile,
    );
    assert.ok(missing.error instanceof AdminError);
    assert.match(missing.error.message, /cannot read CA public key .*ENOENT/);
  });

  it('krl create writes a KRL that ssh-keygen -Q agrees with, and krl check answers by exit code', async () => {
    const certFile = `${userKey}-cert.pub`; // serial 9, key id alice@example.com:req-9
    const krlFile = path.join(tmp.dir, 'revoked.krl');
    const r = await keys(
      'krl',
      'create',
      '--out',
      krlFile,
      '--ca-pub',
      path.join(caDir, 'user_ca.pub'),
      '--serial',
      '5-10',
      '--key-id',
      'mallory',
    );
    assert.equal(r.code, 0, r.stderr);
    const q = await sshKeygen(['-Q', '-f', krlFile, certFile], { allowFail: true });
    assert.match(q.stdout, /REVOKED/);
    const check = await keys('krl', 'check', '--krl', krlFile, '--cert', certFile);
    assert.equal(check.code, 1);
    assert.match(check.stdout, /revoked/);
    const krl = parseKrl(fs.readFileSync(krlFile));
    assert.deepEqual(krl.sections[0]!.serialRanges, [[5n, 10n]]);
    assert.ok(
      krl.sections[0]!.caKey!.blob.equals(
        parsePublicKeyText(fs.readFileSync(path.join(caDir, 'user_ca.pub'), 'utf8')).blob,
      ),
    );

    const other = path.join(tmp.dir, 'other.krl');
    const r2 = await keysInProcess('krl', 'create', '--out', other, '--key-id', 'mallory');
    assert.equal(r2.error, undefined, r2.stderr);
    const q2 = await sshKeygen(['-Q', '-f', other, certFile], { allowFail: true });
    assert.match(q2.stdout, /: ok/);
    const check2 = await keysInProcess('krl', 'check', '--krl', other, '--cert', certFile);
    assert.equal(check2.error, undefined, check2.stderr);
    assert.match(check2.stdout, /not revoked/);

    const byKey = path.join(tmp.dir, 'by-key.krl');
    const r3 = await keysInProcess(
      'krl',
      'create',
      '--out',
      byKey,
      '--revoke-key',
      `${userKey}.pub`,
    );
    assert.equal(r3.error, undefined, r3.stderr);
    const q3 = await Promise.all([
      sshKeygen(['-Q', '-f', byKey, `${userKey}.pub`], { allowFail: true }),
      sshKeygen(['-Q', '-f', byKey, certFile], { allowFail: true }),
      sshKeygen(['-Q', '-f', byKey, `${hostKey}.pub`], { allowFail: true }),
    ]);
    assert.deepEqual(
      q3.map((x) => /REVOKED/.test(x.stdout)),
      [true, true, false],
    );
    const check3 = await keysInProcess('krl', 'check', '--krl', byKey, '--cert', certFile);
    assert.ok(check3.error instanceof CheckFailed);

    const bad = await keysInProcess('krl', 'create', '--out', other, '--serial', '3');
    assert.ok(bad.error instanceof UsageError);
    assert.match(bad.error.message, /--ca-pub/);
  });

  it('prints help (exit 0) and refuses unknown commands (exit 2)', async () => {
    const [help, unknown] = await Promise.all([keysInProcess('--help'), keys('frobnicate')]);
    // Commander signals help with exit code 0, which main.ts passes through.
    assert.ok(help.error instanceof CommanderError && help.error.exitCode === 0);
    for (const cmd of ['ca', 'sign', 'verify', 'krl'])
      assert.match(help.stdout, new RegExp(`\\n  ${cmd}\\b`));
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command/);
  });
});

describe('neetodeploy-keys argument parsing', () => {
  it('reads durations like 30s, 5m, 1h, 1d, 2w and plain seconds', () => {
    const cases: [string, number][] = [
      ['30s', 30],
      ['5m', 300],
      ['1h', 3600],
      ['1d', 86400],
      ['2w', 1209600],
      ['45', 45],
    ];
    for (const [text, seconds] of cases) assert.equal(parseDuration(text), seconds, text);
    for (const bad of ['0', '5x', '-1m', '1.5h', '', 'm']) {
      assert.throws(() => parseDuration(bad), UsageError, bad);
    }
  });

  it('names the certificate file as ssh-keygen does', () => {
    assert.equal(certificatePathFor('/k/id_ed25519.pub'), '/k/id_ed25519-cert.pub');
    assert.equal(certificatePathFor('/k/hostkey'), '/k/hostkey-cert.pub');
  });
});
