/**
 * Issue 13: 100,000 mutated certificates through `verifyUserCertificate`, none accepted. The
 * corpus holds a valid certificate of every key type made by sshcert under several CA types and
 * one made by `ssh-keygen -s`; the mutations are byte-level and field-aware (lengths, principals,
 * validity, critical options, extensions, keys, signature), some re-signed by the CA so that the
 * checks after the signature are fuzzed too. The generic byte mutations of test/sshcert/
 * mutation.test.ts (allocation bounds, parse/verify agreement) complement this one.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import {
  parseCertificateText,
  parsePrivateKey,
  signCertificate,
  verifyUserCertificate,
  type KeyType,
  type PrivateKey,
  type VerifyOptions,
} from '@neetodeploy/sshcert';
import { createRng, parseSeed } from '../support/fuzz/prng.js';
import { runCertificateFuzz, type CorpusEntry } from '../support/fuzz/certificate-run.js';
import type { OraclePolicy } from '../support/fuzz/certificate-oracle.js';
import { makeKey, signCert, tempDir } from '../support/ssh-client.js';
import { NOW, testKey } from './helpers.js';

const CASES = Number(process.env.SSHCERT_FUZZ_CASES ?? 100_000);
const SEED = parseSeed(process.env.SSHCERT_FUZZ_SEED, 0x13f022);
const SOURCE = '10.1.2.3';
const KNOWN_CRITICAL = ['force-command', 'source-address'];
const ALLOWED_SOURCES = ['10.0.0.0/8', '0.0.0.0/0,::/0'];

interface Made {
  readonly blob: Buffer;
  readonly ca: PrivateKey;
  readonly now: Date;
}

function sshcertMade(subject: KeyType, ca: KeyType, bound: boolean): Made {
  const caKey = testKey(ca, 7);
  const cert = signCertificate(
    {
      publicKey: testKey(subject, 8).publicKey,
      certType: 'user',
      keyId: `fuzz ${subject} by ${ca}`,
      principals: ['demo', 'other-app'],
      ttlSeconds: 600,
      now: NOW,
      serial: 0x13n,
      ...(bound
        ? {
            criticalOptions: { 'force-command': '/bin/true', 'source-address': '10.0.0.0/8' },
            extensions: { 'permit-pty': '', 'permit-port-forwarding': '' },
          }
        : { extensions: { 'permit-pty': '' } }),
    },
    caKey,
  );
  return { blob: cert.blob, ca: caKey, now: new Date(NOW.getTime() + 1000) };
}

async function keygenMade(dir: string): Promise<Made> {
  const ca = await makeKey(dir, 'keygen_ca', 'ecdsa');
  const user = await makeKey(dir, 'keygen_user', 'ed25519');
  const file = await signCert(ca, user, {
    keyId: 'fuzz keygen',
    principals: ['demo', 'other-app'],
    validity: '-5m:+1h',
    serial: 13,
    options: ['clear', 'permit-pty', 'source-address=10.0.0.0/8', 'force-command=/bin/true'],
  });
  const cert = parseCertificateText(await readFile(file, 'utf8'));
  return {
    blob: cert.blob,
    ca: parsePrivateKey(await readFile(ca.file)),
    now: new Date(Number(cert.validAfter) * 1000 + 60_000),
  };
}

describe('sshcert: certificate fuzzing (issue 13)', function () {
  // About 10 s on an idle machine; generous for a shared one.
  this.timeout(120_000);
  let corpus: CorpusEntry[];
  let cleanup: (() => Promise<void>) | undefined;

  before(async () => {
    const tmp = await tempDir('nd-certfuzz-');
    cleanup = () => tmp.cleanup();
    const made: [string, Made, number, boolean][] = [
      ['ed25519 by ed25519 CA, bound', sshcertMade('ssh-ed25519', 'ssh-ed25519', true), 20, true],
      ['ed25519 by ed25519 CA', sshcertMade('ssh-ed25519', 'ssh-ed25519', false), 6, true],
      [
        'ecdsa-p256 by ed25519 CA',
        sshcertMade('ecdsa-sha2-nistp256', 'ssh-ed25519', true),
        8,
        true,
      ],
      [
        'ecdsa-p384 by ecdsa-p384 CA',
        sshcertMade('ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp384', false),
        5,
        true,
      ],
      [
        'ecdsa-p521 by ecdsa-p256 CA',
        sshcertMade('ecdsa-sha2-nistp521', 'ecdsa-sha2-nistp256', true),
        6,
        true,
      ],
      ['rsa by ed25519 CA', sshcertMade('ssh-rsa', 'ssh-ed25519', false), 6, true],
      // Weights follow verification cost (a P-521 signature takes ~1 ms, RSA ~50 us). RSA
      // signing is slow: no re-signed mutants for the RSA CA.
      ['ed25519 by rsa CA', sshcertMade('ssh-ed25519', 'ssh-rsa', true), 25, false],
      [
        'ed25519 by ecdsa-p521 CA',
        sshcertMade('ssh-ed25519', 'ecdsa-sha2-nistp521', false),
        1,
        true,
      ],
      ['ed25519 by ssh-keygen ecdsa-p256 CA', await keygenMade(tmp.dir), 12, true],
    ];
    const trustedCAs = made.map(([, m]) => m.ca.publicKey);
    corpus = made.map(([label, m, weight, resign]) => {
      const options: VerifyOptions = {
        trustedCAs,
        now: m.now,
        principal: 'demo',
        sourceAddress: SOURCE,
      };
      return { label, blob: m.blob, weight, options, ...(resign ? { ca: m.ca } : {}) };
    });
  });
  after(async () => {
    await cleanup?.();
  });

  it('every original certificate verifies, so each refusal below is the mutation’s doing', () => {
    for (const c of corpus) {
      const r = verifyUserCertificate(c.blob, c.options);
      assert.ok(r.ok, `${c.label}: ${r.ok ? '' : r.message}`);
    }
  });

  const policyFor = (entry: CorpusEntry): OraclePolicy => ({
    principal: 'demo',
    now: entry.options.now,
    knownCritical: KNOWN_CRITICAL,
    allowedSourceLists: ALLOWED_SOURCES,
  });

  it('catches a verifier that stops checking after the signature, or at all', () => {
    const noSignature: typeof verifyUserCertificate = (blob, options) => {
      const r = verifyUserCertificate(blob, options);
      return !r.ok && r.reason === 'bad-signature' && r.certificate
        ? { ok: true, certificate: r.certificate }
        : r;
    };
    const noPrincipal: typeof verifyUserCertificate = (blob, options) =>
      verifyUserCertificate(blob, { ...options, principal: undefined });
    for (const broken of [noSignature, noPrincipal]) {
      const r = runCertificateFuzz(corpus, 1000, createRng(SEED), policyFor, 'self-check', broken);
      assert.ok(
        r.failures.length > 0,
        `a broken verifier went unnoticed: ${JSON.stringify(r.byReason)}`,
      );
    }
  });

  it(`${CASES.toLocaleString('en')} mutated certificates: none accepted, none throws, every refusal has a reason`, () => {
    const r = runCertificateFuzz(corpus, CASES, createRng(SEED), policyFor, `seed ${SEED}`);
    if (process.env.SSHCERT_FUZZ_REPORT) console.log(JSON.stringify(r, null, 2));
    assert.deepEqual(r.failures.slice(0, 5), [], `${r.failures.length} failures`);
    assert.equal(r.cases, CASES);
    // The run reached every layer of the verifier, not only the first length field.
    for (const reason of [
      'malformed',
      'unsupported-key',
      'weak-key',
      'wrong-type',
      'untrusted-ca',
      'bad-signature',
      'not-yet-valid',
      'expired',
      'principal-not-listed',
      'unknown-critical-option',
      'source-address-not-allowed',
    ]) {
      assert.ok((r.byReason[reason] ?? 0) > 0, `no ${reason}: ${JSON.stringify(r.byReason)}`);
    }
    if (CASES >= 100_000) {
      for (const c of corpus)
        assert.ok((r.byEntry[c.label] ?? 0) > 500, `${c.label} under-sampled`);
    }
  });
});
