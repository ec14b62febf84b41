/**
 * The real bastion (test/bastion/harness.ts) with the patched ssh2 defaults: stock `ssh` gets the
 * post-quantum exchange direct and through ProxyJump (the jump and the in-process virtual host),
 * explicitly and with its default list, and PuTTY's `plink` direct with a user certificate.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { run, ssh } from '../support/ssh-client.js';
import { startHarness, type Harness } from '../bastion/harness.js';

const KEX_LINE = /debug1: kex: algorithm: (\S+)/g;

function negotiatedKex(stderr: string): string[] {
  return [...stderr.matchAll(KEX_LINE)].map((m) => m[1]!);
}

describe('bastion: post-quantum key exchange with stock clients', function () {
  this.timeout(60_000);
  let h: Harness;
  let explicit: string;
  let byDefault: string;
  let keyFile: string;
  let certFile: string;

  before(async function () {
    h = await startHarness();
    const alice = await h.user('alice', { principals: ['demo'] });
    keyFile = alice.key.file;
    certFile = alice.cert;
    byDefault = alice.config;
    explicit = await h.config('alice-pq', alice.key, alice.cert, [
      'KexAlgorithms sntrup761x25519-sha512',
    ]);
  });

  after(async function () {
    await h?.close();
  });

  for (const [via, host, hops] of [
    ['direct', 'bastion', 1],
    ['through ProxyJump', 'demo.neetodeploy', 2],
  ] as const) {
    it(`ssh -o KexAlgorithms=sntrup761x25519-sha512, ${via}: exit code comes back`, async function () {
      const r = await ssh(explicit, ['-v', host, 'exit 42']);
      assert.equal(r.code, 42, r.stderr);
      // ssh -J passes -v on to the jump's own ssh: one line per hop.
      assert.deepEqual(negotiatedKex(r.stderr), Array(hops).fill('sntrup761x25519-sha512'));
    });

    it(`stock ssh with its default list negotiates it, ${via}`, async function () {
      const r = await ssh(byDefault, ['-v', host, 'exit 0']);
      assert.equal(r.code, 0, r.stderr);
      const kex = negotiatedKex(r.stderr);
      assert.equal(kex.length, hops);
      for (const k of kex) assert.match(k, /^sntrup761x25519-sha512(@openssh\.com)?$/);
    });
  }

  it('plink with a user certificate, direct: exit code comes back', async function () {
    const ppk = `${keyFile}.ppk`;
    const conv = await run('puttygen', [keyFile, '-O', 'private', '-o', ppk]);
    assert.equal(conv.code, 0, conv.stderr);
    const hostPub = await readFile(`${h.dir}/ssh_host_ed25519_key.pub`, 'utf8');
    const fp = await run('ssh-keygen', ['-l', '-E', 'sha256', '-f', '-'], { input: hostPub });
    const fingerprint = fp.stdout.toString().split(' ')[1]!;
    const r = await run('plink', [
      ...['-ssh', '-batch', '-v', '-noagent'],
      ...['-i', ppk, '-cert', certFile],
      ...['-hostkey', fingerprint, '-P', String(h.address.port), '-l', 'demo'],
      '127.0.0.1',
      'exit 42',
    ]);
    assert.equal(r.code, 42, r.stderr);
    assert.match(r.stderr, /NTRU Prime \/ Curve25519 hybrid key exchange, using hash SHA-512/);
  });

  it('ssh-audit against the bastion: no [fail], and no [warn] but for names it does not know', async function () {
    const r = await run('ssh-audit', ['-n', '-p', String(h.address.port), '127.0.0.1'], {
      timeoutMs: 30_000,
    });
    const out = r.stdout.toString();
    assert.match(out, /\(kex\) sntrup761x25519-sha512 /, out);
    assert.doesNotMatch(out, /\[fail\]/, out);
    const findings = out
      .split('\n')
      .filter((l) => /\[(fail|warn)\]/.test(l))
      .filter((l) => !/\[warn\] unknown algorithm/.test(l))
      // ssh-audit 2.5.0 (Debian 12) still calls OpenSSH's default exchange since 9.0
      // "experimental"; it is the same exchange as the standard name above.
      .filter(
        (l) => !/sntrup761x25519-sha512@openssh\.com +-- \[warn\] using experimental/.test(l),
      );
    assert.deepEqual(findings, [], out);
    assert.doesNotMatch(out, /\(kex\) ecdh-sha2-nistp/, out);
    assert.match(out, /\(gen\) compression: enabled \(zlib@openssh\.com\)\n/);
  });

  it('a client offering only NIST-curve exchanges is refused', async function () {
    const r = await ssh(explicit, [
      ...['-o', 'KexAlgorithms=ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521'],
      'bastion',
      'exit 0',
    ]);
    assert.equal(r.code, 255);
    assert.match(r.stderr.toString(), /no matching key exchange method/);
  });
});
