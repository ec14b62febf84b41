import assert from 'node:assert/strict';
import {
  SshCertError,
  parseCertificate,
  signCertificate,
  verifyCertificate,
  type Certificate,
  type KeyType,
  type VerifyOptions,
} from '@neetodeploy/sshcert';
import { testKey } from './helpers.js';

/** Deterministic PRNG (xorshift32) so a failure can be replayed from the printed seed. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

interface Corpus {
  readonly label: string;
  readonly cert: Certificate;
  readonly weight: number;
}

const NOW = new Date('2030-06-01T00:00:00Z');

function makeCorpus(): Corpus[] {
  const mk = (subject: KeyType, ca: KeyType, weight: number, extra: boolean): Corpus => {
    const cert = signCertificate(
      {
        publicKey: testKey(subject, 1).publicKey,
        certType: 'user',
        keyId: `mutant ${subject} by ${ca}`,
        principals: ['demo', 'other-app'],
        ttlSeconds: 600,
        now: NOW,
        serial: 0x1234n,
        ...(extra
          ? {
              criticalOptions: { 'force-command': '/bin/true', 'source-address': '10.0.0.0/8' },
              extensions: { 'permit-pty': '', 'permit-port-forwarding': '', 'x@example.com': 'v' },
            }
          : { extensions: { 'permit-pty': '' } }),
      },
      testKey(ca),
    );
    return { label: `${subject} cert by ${ca} CA`, cert, weight };
  };
  // Verification cost differs by two orders of magnitude between key types; weights keep every
  // type well represented while the whole run stays within its time budget.
  return [
    mk('ssh-ed25519', 'ssh-ed25519', 30, true),
    mk('ssh-ed25519', 'ssh-ed25519', 10, false),
    mk('ecdsa-sha2-nistp256', 'ssh-ed25519', 8, true),
    mk('ssh-rsa', 'ssh-ed25519', 5, false),
    // RSA verification is the cheapest of all: the largest share goes to the RSA CA.
    mk('ssh-ed25519', 'ssh-rsa', 25, true),
    mk('ecdsa-sha2-nistp521', 'ecdsa-sha2-nistp256', 6, false),
    mk('ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp384', 2, true),
    mk('ssh-ed25519', 'ecdsa-sha2-nistp521', 2, false),
  ];
}

function mutate(orig: Buffer, rnd: () => number): Buffer {
  const kind = rnd() % 8;
  const pos = rnd() % orig.length;
  switch (kind) {
    case 0: {
      // Truncation.
      return Buffer.from(orig.subarray(0, rnd() % orig.length));
    }
    case 1: {
      // A length field (or anything aligned like one) set to a huge or off-by-one value.
      const m = Buffer.from(orig);
      const at = Math.min(pos, orig.length - 4);
      const values = [
        0xffffffff,
        0x7fffffff,
        m.readUInt32BE(at) + 1,
        m.readUInt32BE(at) - 1,
        orig.length,
        0,
      ];
      m.writeUInt32BE(values[rnd() % values.length]! >>> 0, at);
      return m;
    }
    case 2: {
      // Appended bytes.
      return Buffer.concat([
        orig,
        Buffer.from([rnd() & 0xff, rnd() & 0xff].slice(0, 1 + (rnd() % 2))),
      ]);
    }
    case 3: {
      // A removed or inserted byte.
      return rnd() % 2
        ? Buffer.concat([orig.subarray(0, pos), orig.subarray(pos + 1)])
        : Buffer.concat([orig.subarray(0, pos), Buffer.from([rnd() & 0xff]), orig.subarray(pos)]);
    }
    default: {
      // 1 to 4 random byte or bit changes.
      const m = Buffer.from(orig);
      const n = 1 + (rnd() % 4);
      for (let i = 0; i < n; i++) {
        const p = i === 0 ? pos : rnd() % m.length;
        m[p] = kind === 4 ? m[p]! ^ (1 << (rnd() % 8)) : rnd() & 0xff;
      }
      return m;
    }
  }
}

describe('sshcert: mutation robustness', function () {
  // Generous: the budget is ~20 s, but a shared build machine can be several times slower.
  this.timeout(180000);

  it('never throws anything but SshCertError, never accepts, never allocates beyond the input (>= 100,000 mutations)', () => {
    const corpus = makeCorpus();
    const totalWeight = corpus.reduce((s, c) => s + c.weight, 0);
    const trustedCAs = [...new Set(corpus.map((c) => c.cert.signatureKey.type))].map(
      (t) => testKey(t).publicKey,
    );
    const options: VerifyOptions = {
      trustedCAs,
      now: new Date(NOW.getTime() + 1000),
      sourceAddress: '10.1.2.3',
      principal: 'demo',
    };
    // Every original verifies, so a refusal below is caused by the mutation.
    for (const c of corpus) {
      const r = verifyCertificate(c.cert.blob, options);
      assert.ok(r.ok, `${c.label}: ${r.ok ? '' : r.reason}`);
    }

    const seed = Number(process.env.SSHCERT_MUTATION_SEED ?? 0x5eed1234);
    const rnd = prng(seed);
    let input = 0;
    let largestAllocation = 0;
    let checked = 0;
    let overAllocations = 0;
    const check = (size: number): void => {
      if (input === Infinity) return;
      checked++;
      if (size > largestAllocation) largestAllocation = size;
      if (size > input) overAllocations++;
    };
    // The exact original functions are put back in `finally`; they never run unbound.
    /* eslint-disable @typescript-eslint/unbound-method */
    const alloc = Buffer.alloc;
    const allocUnsafe = Buffer.allocUnsafe;
    const allocUnsafeSlow = Buffer.allocUnsafeSlow;
    // Buffer has its own subarray (Node 20); hook that one.
    const subarray = Buffer.prototype.subarray;
    /* eslint-enable @typescript-eslint/unbound-method */
    // While the library runs, every Buffer it allocates or views must fit in the input.
    Buffer.alloc = (
      size: number,
      fill?: string | Uint8Array | number,
      encoding?: BufferEncoding,
    ) => {
      check(size);
      return alloc.call(Buffer, size, fill, encoding);
    };
    Buffer.allocUnsafe = (size: number) => {
      check(size);
      return allocUnsafe.call(Buffer, size);
    };
    Buffer.allocUnsafeSlow = (size: number) => {
      check(size);
      return allocUnsafeSlow.call(Buffer, size);
    };
    Buffer.prototype.subarray = function (this: Buffer, start?: number, end?: number): Buffer {
      const view: Buffer = subarray.call(this, start, end);
      check(view.length);
      return view;
    };

    const counts = new Map<string, number>();
    const reasons = new Map<string, number>();
    let mutations = 0;
    let identical = 0;
    const started = Date.now();
    try {
      const target = 100_000;
      while (mutations < target) {
        let pick = rnd() % totalWeight;
        const entry = corpus.find((c) => (pick -= c.weight) < 0)!;
        const orig = entry.cert.blob;
        input = Infinity; // the mutation's own allocations are not the library's
        const m = mutate(orig, rnd);
        if (m.equals(orig)) {
          identical++;
          continue;
        }
        mutations++;
        counts.set(entry.label, (counts.get(entry.label) ?? 0) + 1);
        input = m.length;
        let parsed: Certificate | undefined;
        try {
          parsed = parseCertificate(m);
        } catch (err) {
          if (!(err instanceof SshCertError)) {
            throw new Error(`parse threw ${String(err)} (seed ${seed}, mutation ${mutations})`);
          }
        }
        let r;
        try {
          // Both entry points: the blob (parse inside) when parsing failed, else the parsed form.
          r = verifyCertificate(parsed ?? m, options);
          if (
            parsed === undefined &&
            (r.ok || (r.reason !== 'malformed' && r.reason !== 'unsupported-key'))
          ) {
            throw new Error('verify disagrees with parse');
          }
        } catch (err) {
          throw new Error(`verify threw ${String(err)} (seed ${seed}, mutation ${mutations})`);
        }
        if (r.ok) {
          throw new Error(`accepted a mutated certificate: ${m.toString('base64')} (seed ${seed})`);
        }
        reasons.set(r.reason, (reasons.get(r.reason) ?? 0) + 1);
      }
    } finally {
      Buffer.alloc = alloc;
      Buffer.allocUnsafe = allocUnsafe;
      Buffer.allocUnsafeSlow = allocUnsafeSlow;
      Buffer.prototype.subarray = subarray;
    }
    assert.equal(overAllocations, 0, `largest allocation ${largestAllocation}`);
    assert.ok(checked > mutations, 'the allocation hooks saw the library at work');
    assert.ok(mutations >= 100_000);
    for (const c of corpus)
      assert.ok((counts.get(c.label) ?? 0) > 1500, `${c.label} under-sampled`);
    // The mutations reach deep checks, not only the first length field.
    for (const reason of ['malformed', 'bad-signature', 'untrusted-ca']) {
      assert.ok(
        (reasons.get(reason) ?? 0) > 100,
        `too few ${reason}: ${JSON.stringify([...reasons])}`,
      );
    }
    if (process.env.SSHCERT_MUTATION_VERBOSE) {
      console.log({
        ms: Date.now() - started,
        identical,
        checked,
        largestAllocation,
        reasons: [...reasons],
        counts: [...counts],
      });
    }
  });
});
