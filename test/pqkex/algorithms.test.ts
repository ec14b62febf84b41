/**
 * The bastion's algorithm lists (bastion/src/server/algorithms.ts) on a real ssh2 Server: `ssh-audit` finds
 * nothing to fail or warn about except names it does not know, clients with OpenSSH 7.4's
 * defaults still connect, and what was removed is really gone.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { keygen, makeTempDir, removeDir, run, sshArgs } from '../ssh2/support.js';
import { serverAlgorithms } from '../../bastion/src/server/algorithms.js';
import { sntrup761 } from './kem-modules.js';
import { kexinitLists, rawHybridKex } from './raw-hybrid-kex.js';
import { startKexServer, type KexTestServer } from './server.js';

const HOST = 'audit.neetodeploy';

// OpenSSH 7.4's default client proposals (ssh_config(5) of 7.4, myproposal.h).
const OPENSSH_7_4 = {
  KexAlgorithms:
    'curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,' +
    'ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,' +
    'diffie-hellman-group18-sha512,diffie-hellman-group-exchange-sha1,' +
    'diffie-hellman-group14-sha256,diffie-hellman-group14-sha1',
  Ciphers:
    'chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,' +
    'aes128-gcm@openssh.com,aes256-gcm@openssh.com',
  MACs:
    'umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,' +
    'hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,' +
    'umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1',
};

/** ssh-audit lines that are findings ([fail]/[warn]) other than its unknown-name notice. */
export function auditFindings(output: string): string[] {
  return output
    .split('\n')
    .filter((l) => /\[(fail|warn)\]/.test(l))
    .filter((l) => !/\[warn\] unknown algorithm/.test(l));
}

describe("the bastion's algorithm lists on an ssh2 Server", function () {
  this.timeout(60_000);
  let dir: string | undefined;
  let knownHosts: string;
  let server: KexTestServer;

  before(async function () {
    dir = await makeTempDir('pqkex-audit-');
    const hostKey = await keygen(dir, 'host', 'ed25519');
    const pub = (await readFile(`${hostKey}.pub`, 'utf8')).split(' ');
    knownHosts = path.join(dir, 'known_hosts');
    await writeFile(knownHosts, `${HOST} ${pub[0]} ${pub[1]}\n`);
    server = await startKexServer(
      await readFile(hostKey),
      serverAlgorithms({ mlkem768x25519: false, nistKex: false }),
    );
  });

  after(async function () {
    await server?.close();
    await removeDir(dir);
  });

  async function ssh(
    options: Record<string, string>,
    command = 'exit 0',
  ): Promise<ReturnType<typeof run>> {
    const opts = Object.entries(options).flatMap(([k, v]) => ['-o', `${k}=${v}`]);
    return run('ssh', [...sshArgs(server.port, knownHosts, HOST), ...opts, 'u@127.0.0.1', command]);
  }

  it('ssh-audit: no [fail], and [warn] only for names it does not know', async function () {
    const r = await run('ssh-audit', ['-n', '-p', String(server.port), '127.0.0.1'], 30_000);
    assert.match(r.stdout, /\(kex\) sntrup761x25519-sha512 /);
    assert.doesNotMatch(r.stdout, /\[fail\]/, r.stdout);
    // ssh-audit 2.5.0 (Debian 12) still calls OpenSSH's default exchange since 9.0
    // "experimental"; it is the same exchange as the standard name above.
    const findings = auditFindings(r.stdout).filter(
      (l) =>
        !/^\(kex\) sntrup761x25519-sha512@openssh\.com +-- \[warn\] using experimental algorithm$/.test(
          l,
        ),
    );
    assert.deepEqual(findings, [], r.stdout);
    assert.match(r.stdout, /\(gen\) compression: enabled \(zlib@openssh\.com\)\n/);
  });

  it("a client with OpenSSH 7.4's default lists connects", async function () {
    const r = await ssh(OPENSSH_7_4, 'exit 3');
    assert.equal(r.code, 3, r.stderr);
    assert.equal(server.negotiated.at(-1)?.kex, 'curve25519-sha256');
  });

  for (const [name, opts] of [
    ['a client without X25519 (DH group 16)', { KexAlgorithms: 'diffie-hellman-group16-sha512' }],
    [
      'aes128-ctr with hmac-sha2-256-etm',
      { Ciphers: 'aes128-ctr', MACs: 'hmac-sha2-256-etm@openssh.com' },
    ],
    ['aes256-gcm', { Ciphers: 'aes256-gcm@openssh.com' }],
  ] as const) {
    it(`${name} connects`, async function () {
      const r = await ssh(opts);
      assert.equal(r.code, 0, r.stderr);
    });
  }

  for (const [name, opts, why] of [
    [
      'NIST-curve key exchange',
      { KexAlgorithms: 'ecdh-sha2-nistp256' },
      /no matching key exchange/,
    ],
    [
      'SHA-1 MACs',
      { Ciphers: 'aes128-ctr', MACs: 'hmac-sha1,hmac-sha1-etm@openssh.com' },
      /no matching MAC/,
    ],
    [
      'encrypt-and-MAC',
      { Ciphers: 'aes128-ctr', MACs: 'hmac-sha2-256,hmac-sha2-512' },
      /no matching MAC/,
    ],
  ] as const) {
    it(`${name} is refused`, async function () {
      const r = await ssh(opts);
      assert.equal(r.code, 255);
      assert.match(r.stderr, why);
    });
  }

  it('compression is zlib@openssh.com only, and works after authentication', async function () {
    const r = await run('ssh', [
      '-v',
      ...sshArgs(server.port, knownHosts, HOST),
      '-C',
      'u@127.0.0.1',
      'exit 0',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /compression: zlib@openssh\.com/);
    assert.equal(server.negotiated.at(-1)?.cs.compress, 'zlib@openssh.com');
    // Plain `zlib` (compression before authentication) is not even offered.
    const { serverKexinit } = await rawHybridKex(server.port, 'none', sntrup761, 'sha512');
    const lists = kexinitLists(serverKexinit);
    assert.deepEqual(lists[6], ['none', 'zlib@openssh.com']);
    assert.deepEqual(lists[7], ['none', 'zlib@openssh.com']);
  });
});
