/**
 * The pre-authentication attacks of issue 13, performed with scripted clients against a real
 * bastion: compression bombs through the user name, absurd user names, pipelined authentication
 * requests past MaxAuthTries, and a certificate for a degenerate (identity-point) key.
 */
import assert from 'node:assert/strict';
import { verify as nodeVerify, createPublicKey } from 'node:crypto';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ssh2 from 'ssh2';
import type { ParsedKey } from 'ssh2';
import { parsePrivateKey } from '@neetodeploy/sshcert';
import { rawUserCertificate, sshString } from '../sshcert/helpers.js';
import { LogSink, certKey, connect, withCert } from './attackers.js';
import { startHarness, type Harness } from './harness.js';

const MiB = 1 << 20;
const here = path.dirname(fileURLToPath(import.meta.url));

describe('bastion against pre-authentication attacks', function () {
  this.timeout(60_000);
  let h: Harness;
  const sink = new LogSink();
  let key: ParsedKey;

  before(async () => {
    h = await startHarness({ logStream: sink, logLevel: 'info', metrics: true });
    const user = await h.user('legit', {});
    key = await certKey(user.key.file, `${user.key.file}-cert.pub`);
  });
  after(async () => {
    await h?.close();
  });

  const metric = async (limit: string): Promise<number> => {
    const text = await h.bastion.metrics.registry.metrics();
    const m = new RegExp(`limit_rejections_total\\{limit="${limit}"\\} (\\d+)`).exec(text);
    return m ? Number(m[1]) : 0;
  };

  it('never offers plain zlib: a client that wants compression before auth gets none of it', async () => {
    const onlyZlib = await connect({
      port: h.address.port,
      username: 'demo',
      authHandler: ['none'],
      algorithms: { compress: ['zlib'] },
    });
    assert.notEqual(onlyZlib.result, 'ready');
    assert.match(onlyZlib.error ?? '', /compression/i);
    const both = await connect({
      port: h.address.port,
      username: 'demo',
      authHandler: ['none'],
      algorithms: { compress: ['zlib', 'zlib@openssh.com', 'none'] },
    });
    // zlib@openssh.com is delayed compression: nothing is inflated before authentication.
    assert.equal(both.negotiated?.cs.compress, 'zlib@openssh.com');
    assert.equal(both.negotiated?.sc.compress, 'zlib@openssh.com');
    // And a legitimate client still logs in with it.
    const legit = await connect({
      ...withCert(h.address.port, 'demo', key),
      algorithms: { compress: ['zlib@openssh.com', 'none'] },
    });
    assert.equal(legit.result, 'ready', legit.error);
  });

  it('a 32 MiB user name costs no big log line, memory or CPU and is cut off at once', async () => {
    // The attackers run in their own process: what is measured here is the bastion's cost.
    const attackers = spawn(
      process.execPath,
      [
        '--conditions=neetodeploy-source',
        '--import=tsx',
        path.join(here, 'flood-attackers.ts'),
        String(h.address.port),
        '0',
        '1',
        '3',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const done: string[] = [];
    attackers.stdout.on('data', (c: Buffer) =>
      done.push(
        ...c
          .toString()
          .split('\n')
          .filter((l) => l.startsWith('bomb')),
      ),
    );
    const before = { bytes: sink.bytes, cpu: process.cpuUsage(), rss: process.memoryUsage().rss };
    let peakRss = before.rss;
    try {
      const end = Date.now() + 60_000;
      while (done.length < 3 && Date.now() < end) {
        await new Promise((r) => setTimeout(r, 50));
        peakRss = Math.max(peakRss, process.memoryUsage().rss);
      }
    } finally {
      attackers.kill('SIGKILL');
    }
    const cpu = process.cpuUsage(before.cpu);
    const cpuMs = Math.round((cpu.user + cpu.system) / 1000);
    const logged = sink.bytes - before.bytes;
    const grewMb = (peakRss - before.rss) / MiB;
    console.log(
      `      ${done.length} bombs of 32 MiB (${done.join(', ')}): bastion ${cpuMs} ms CPU in all, ` +
        `${logged} log bytes, RSS +${grewMb.toFixed(1)} MiB`,
    );
    assert.ok(done.length >= 3, `${done.length} bombs finished`);
    assert.ok(
      done.every((l) => !l.includes('ready')),
      'no bomb got in',
    );
    // Before: a 32 MiB log line, ~1 s of CPU and ~70 MiB of memory per packet; with compression
    // refused but the half-closed socket still read, ~500 ms and ~100 MiB for 6 bombs.
    assert.ok(logged < 16 * 1024, `logged ${logged} bytes`);
    assert.ok(sink.longestLine < 4096, `longest line ${sink.longestLine}`);
    assert.ok(cpuMs < done.length * 300, `bastion CPU ${cpuMs} ms for ${done.length} bombs`);
    assert.ok(grewMb < 32, `RSS grew ${grewMb.toFixed(1)} MiB`);
    // The legitimate client is unaffected right after.
    const legit = await connect(withCert(h.address.port, 'demo', key));
    assert.equal(legit.result, 'ready', legit.error);
  });

  it('a user name over 256 bytes is refused before anything looks at it, and not logged', async () => {
    const name = `demo${'y'.repeat(300)}`;
    const was = await metric('username-too-long');
    const auditsBefore = sink.events('auth.result').length;
    const from = '127.0.0.40';
    const r = await connect({ ...withCert(h.address.port, name, key), localAddress: from });
    assert.notEqual(r.result, 'ready');
    assert.equal(await metric('username-too-long'), was + 1);
    assert.equal(sink.events('auth.result').length, auditsBefore, 'never audited nor verified');
    assert.equal(sink.lines.join('\n').includes('y'.repeat(300)), false);
    // 256 bytes exactly is still looked at (and refused as the bad user name it is).
    await connect({
      ...withCert(h.address.port, `demo:${'p'.repeat(251)}`, key),
      localAddress: '127.0.0.41',
    });
    assert.equal(await metric('username-too-long'), was + 1);
    // No client sends such a name by mistake: its source is refused for a while (60 s)...
    const again = await connect({ ...withCert(h.address.port, 'demo', key), localAddress: from });
    assert.notEqual(again.result, 'ready');
    assert.equal(await metric('per-source-penalty'), 1);
    // ...and nobody else is.
    assert.equal((await connect(withCert(h.address.port, 'demo', key))).result, 'ready');
  });

  it('8 pipelined attempts with a limit of 6: the 7th closes the connection, the 8th is never evaluated', async () => {
    const plain = ssh2.utils.parseKey(
      await readFile((await h.user('pipe', {})).key.file),
    ) as ParsedKey;
    const audits = sink.events('auth.result').length;
    const was = await metric('max-auth-tries');
    let client: ssh2.Client | undefined;
    let asked = 0;
    const r = await connect(
      {
        port: h.address.port,
        localAddress: '127.0.0.42',
        username: 'demo',
        authHandler: (_methodsLeft, _partial, next) => {
          // Later failures are not answered: the client just waits for the bastion to hang up.
          if (asked++ > 0) return;
          // Seven publickey queries written back to back, then an eighth through the handler:
          // all eight reach the bastion before it answers the first.
          const proto = (
            client as unknown as { _protocol: { authPK(u: string, k: ParsedKey): void } }
          )._protocol;
          for (let i = 0; i < 7; i++) proto.authPK('demo', plain);
          next({ type: 'publickey', username: 'demo', key: plain });
        },
      },
      { onClient: (c) => (client = c) },
    );
    assert.notEqual(r.result, 'ready');
    const evaluated = sink.events('auth.result').length - audits;
    assert.equal(evaluated, 6, `${evaluated} attempts evaluated`);
    assert.equal(await metric('max-auth-tries'), was + 1);
  });

  it('a certificate for the identity-point key is refused at login, though its forged signature verifies', async () => {
    const ca = parsePrivateKey(await readFile(h.userCa.file, 'utf8'));
    const identity = Buffer.concat([Buffer.from([1]), Buffer.alloc(31)]);
    const now = BigInt(Math.floor(Date.now() / 1000));
    const cert = rawUserCertificate('ssh-ed25519-cert-v01@openssh.com', sshString(identity), ca, {
      keyId: 'mallory@example.com:r1',
      principals: ['demo'],
      validAfter: now - 60n,
      validBefore: now + 300n,
    });
    // R = the base point, S = 1: [S]B = R + [k]A holds for any message when A is the identity.
    const forged = Buffer.concat([
      Buffer.from([0x58]),
      Buffer.alloc(31, 0x66),
      Buffer.from([1]),
      Buffer.alloc(31),
    ]);
    const identityKey = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: identity.toString('base64url') },
      format: 'jwk',
    });
    assert.equal(nodeVerify(null, Buffer.from('any message'), identityKey, forged), true);

    const real = ssh2.utils.parseKey(await readFile((await h.user('m', {})).key.file)) as ParsedKey;
    const bearer = Object.create(real, {
      type: { value: 'ssh-ed25519-cert-v01@openssh.com' },
      getPublicSSH: { value: () => cert },
      sign: { value: () => forged },
    }) as ParsedKey;
    const audits = sink.events('auth.result').length;
    const r = await connect({
      ...withCert(h.address.port, 'demo', bearer),
      localAddress: '127.0.0.43',
    });
    assert.notEqual(r.result, 'ready');
    const reasons = sink
      .events('auth.result')
      .slice(audits)
      .map((e) => e.reason);
    assert.ok(reasons.includes('weak-key'), JSON.stringify(reasons));
  });
});
