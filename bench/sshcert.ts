/**
 * sshcert benchmark (ed25519): certificates signed per second, parse+verify per second, and a
 * bare `crypto.verify` of the very same CA signatures measured in the same run (the floor).
 *
 *   node --import tsx bench/sshcert.ts [--seconds 1] [--rounds 5]
 *
 * Parse+verify and the bare verify alternate over several rounds; medians are reported.
 */
import { verify } from 'node:crypto';
import os from 'node:os';
import {
  generatePrivateKey,
  parseSignature,
  signCertificate,
  verifyCertificate,
  type Certificate,
} from '@neetodeploy/sshcert';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  return Number.isFinite(v) && v > 0 ? v : fallback;
}

const seconds = arg('seconds', 1);
const rounds = Math.round(arg('rounds', 5));

/** Runs `fn(i)` repeatedly for about `ms`; returns operations per second. */
function rate(ms: number, fn: (i: number) => void): number {
  let n = 0;
  const start = process.hrtime.bigint();
  const end = start + BigInt(Math.round(ms * 1e6));
  let now = start;
  while (now < end) {
    for (let k = 0; k < 64; k++) fn(n++);
    now = process.hrtime.bigint();
  }
  return n / (Number(now - start) / 1e9);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const ca = generatePrivateKey('ssh-ed25519');
const subjects = Array.from({ length: 16 }, () => generatePrivateKey('ssh-ed25519').publicKey);
const now = new Date();
const request = (i: number) => ({
  publicKey: subjects[i % subjects.length]!,
  certType: 'user' as const,
  keyId: `alice@example.com:req-${i}`,
  principals: ['demo'],
  ttlSeconds: 300,
  now,
  extensions: { 'permit-pty': '' },
});

const certs: Certificate[] = Array.from({ length: 256 }, (_, i) => signCertificate(request(i), ca));
const blobs = certs.map((c) => c.blob);
const signed = certs.map((c) => c.signedData);
const rawSigs = certs.map((c) => parseSignature(c.signature).signature);
const caKeyObject = ca.publicKey.keyObject;
const options = { trustedCAs: [ca.publicKey], now, principal: 'demo' };
const mask = certs.length - 1;

// Correctness before speed: both paths accept every certificate.
for (let i = 0; i < certs.length; i++) {
  if (!verifyCertificate(blobs[i]!, options).ok) throw new Error('benchmark certificate refused');
  if (!verify(null, signed[i]!, caKeyObject, rawSigs[i]!)) throw new Error('bare verify failed');
}

const ms = seconds * 1000;
rate(ms / 2, (i) => verifyCertificate(blobs[i & mask]!, options)); // warm-up
rate(ms / 2, (i) => verify(null, signed[i & mask]!, caKeyObject, rawSigs[i & mask]!));

const signRates: number[] = [];
const verifyRates: number[] = [];
const bareRates: number[] = [];
const ratios: number[] = [];
for (let r = 0; r < rounds; r++) {
  signRates.push(rate(ms, (i) => signCertificate(request(i), ca)));
  const v = rate(ms, (i) => {
    if (!verifyCertificate(blobs[i & mask]!, options).ok) throw new Error('refused');
  });
  const b = rate(ms, (i) => {
    if (!verify(null, signed[i & mask]!, caKeyObject, rawSigs[i & mask]!)) throw new Error('bad');
  });
  verifyRates.push(v);
  bareRates.push(b);
  ratios.push(b / v);
}

const fmt = (x: number): string => Math.round(x).toLocaleString('en-US');
const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
console.log(`sshcert ed25519 benchmark: node ${process.version}, ${os.cpus().length} x ${cpu}`);
console.log(
  `${rounds} rounds of ${seconds}s each, medians (loadavg ${os
    .loadavg()
    .map((l) => l.toFixed(1))
    .join(' ')})`,
);
console.log(`  certificates signed/s        ${fmt(median(signRates))}`);
console.log(`  parse+verify/s               ${fmt(median(verifyRates))}`);
console.log(`  bare crypto.verify/s         ${fmt(median(bareRates))}`);
console.log(
  `  ratio (time parse+verify / time bare verify) ${median(ratios).toFixed(3)}  (goal <= 1.5)`,
);
