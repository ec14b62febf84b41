/**
 * mlkem768x25519-sha256 (patches/ssh2: lib/protocol/mlkem768.js on @noble/post-quantum): the
 * FIPS 203 KEM against known answers, the hybrid against the IETF draft's construction, and the
 * switch that keeps it off by default (no independent implementation to prove it against here:
 * OpenSSH 9.2 predates it, and OpenSSH 9.9+ clients would pick it first).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import ssh2 from 'ssh2';
import {
  keygen,
  makeTempDir,
  parsePublicKeyBlob,
  removeDir,
  verifySshSignature,
} from '../ssh2/support.js';
import { mlkem768, sntrup761 } from './kem-modules.js';
import { firstKemKatRecord } from './nist-drbg.js';
import { kexinitKexNames, rawHybridKex } from './raw-hybrid-kex.js';
import { startKexServer, type KexTestServer } from './server.js';

// SHA-256 of the first NIST-format KAT record of ML-KEM-768 (FIPS 203), as PQClean records it in
// crypto_kem/ml-kem-768/META.yml (`nistkat-sha256`), from keygen coins d||z and encapsulation m
// drawn from the NIST KAT DRBG.
const KAT_SHA256 = '5352539586b6c3df58be6158a6250aeff402bd73060b0a3de68850ac074c17c3';
const MLKEM = 'mlkem768x25519-sha256';

function exec(port: number, kex?: string[]): Promise<{ kex: string; code: number | null }> {
  return new Promise((resolve, reject) => {
    const client = new ssh2.Client();
    let negotiated = '';
    client.on('handshake', (n) => (negotiated = n.kex));
    client.on('error', reject);
    client.on('ready', () =>
      client.exec('exit 6', (err, stream) => {
        if (err) return reject(err);
        let code: number | null = null;
        stream.resume();
        stream.on('exit', (c: number | null) => (code = c));
        stream.on('close', () => {
          client.end();
          resolve({ kex: negotiated, code });
        });
      }),
    );
    client.connect({
      host: '127.0.0.1',
      port,
      username: 'u',
      readyTimeout: 10_000,
      ...(kex ? { algorithms: { kex: kex as ssh2.KexAlgorithm[] } } : {}),
    });
  });
}

describe('ML-KEM-768 KEM', function () {
  it('reproduces the FIPS 203 ML-KEM-768 known-answer record (pk, sk, ct, ss)', function () {
    const record = firstKemKatRecord(mlkem768);
    assert.equal(createHash('sha256').update(record).digest('hex'), KAT_SHA256);
  });

  it('refuses an encapsulation key that fails the FIPS 203 modulus check', function () {
    const { publicKey } = mlkem768.keypair();
    const bad = Buffer.from(publicKey);
    // First 12-bit coefficient = 4095 >= q = 3329.
    bad[0] = 0xff;
    bad[1] = bad[1]! | 0x0f;
    assert.throws(() => mlkem768.encapsulate(bad));
  });
});

describe("hybrid key exchanges in ssh2: the drafts' construction, and the ML-KEM switch", function () {
  this.timeout(30_000);
  let dir: string | undefined;
  let hostKey: Buffer;
  let enabled: KexTestServer;
  let byDefault: KexTestServer;

  before(async function () {
    dir = await makeTempDir('pqkex-mlkem-');
    hostKey = await readFile(await keygen(dir, 'host', 'ed25519'));
    enabled = await startKexServer(hostKey, {
      kex: [MLKEM, 'sntrup761x25519-sha512', 'curve25519-sha256'] as ssh2.KexAlgorithm[],
    });
    byDefault = await startKexServer(hostKey);
  });

  after(async function () {
    await enabled?.close();
    await byDefault?.close();
    await removeDir(dir);
  });

  it('is not offered unless configured', async function () {
    const r = await rawHybridKex(byDefault.port, MLKEM, mlkem768, 'sha256');
    const offered = kexinitKexNames(r.serverKexinit);
    assert.ok(!offered.includes(MLKEM), offered.join(','));
    assert.equal(offered[0], 'sntrup761x25519-sha512');
    await assert.rejects(exec(byDefault.port, [MLKEM]), /no matching key exchange/i);
  });

  it('signs an exchange hash built as the draft says (K a string of SHA-256(ss || x25519))', async function () {
    const r = await rawHybridKex(enabled.port, MLKEM, mlkem768, 'sha256');
    const { key } = parsePublicKeyBlob(r.hostKeyBlob);
    assert.equal(verifySshSignature(r.signature, r.exchangeHash, key), 'ssh-ed25519');
  });

  it('sntrup761x25519-sha512 follows the same construction with SHA-512', async function () {
    const r = await rawHybridKex(byDefault.port, 'sntrup761x25519-sha512', sntrup761, 'sha512');
    const { key } = parsePublicKeyBlob(r.hostKeyBlob);
    assert.equal(verifySshSignature(r.signature, r.exchangeHash, key), 'ssh-ed25519');
  });

  it('the server drops a client whose hybrid public value has the wrong length', async function () {
    const short = {
      ...sntrup761,
      keypair: () => {
        const kp = sntrup761.keypair();
        return { publicKey: kp.publicKey.subarray(1), secretKey: kp.secretKey };
      },
    };
    await assert.rejects(
      rawHybridKex(byDefault.port, 'sntrup761x25519-sha512', short, 'sha512'),
      /connection closed|server disconnected/,
    );
  });

  it('an ssh2 Client and Server negotiate it when both enable it, and run a command', async function () {
    const r = await exec(enabled.port, [MLKEM, 'curve25519-sha256']);
    assert.deepEqual(r, { kex: MLKEM, code: 6 });
    assert.equal(enabled.negotiated.at(-1)?.kex, MLKEM);
  });
});
