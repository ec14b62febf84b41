/**
 * Runs mutated certificates through `verifyUserCertificate` and counts what happened. The
 * invariants: verification never throws (it returns a reason); a mutant whose CA-signed bytes
 * changed is never accepted; a mutant re-signed by the CA is accepted only when an independent
 * reading of its fields allows it. Accepted mutants whose signed bytes are unchanged (only the
 * signature's encoding differs, e.g. ECDSA (r, n - s)) are counted separately: they carry
 * exactly what the CA signed.
 */
import {
  parseCertificate,
  signData,
  verifyUserCertificate,
  type PrivateKey,
  type VerifyOptions,
} from '@neetodeploy/sshcert';
import { mutateCertificate, splitCertificate } from './certificate.js';
import { shouldRefuse, type OraclePolicy } from './certificate-oracle.js';
import { encodeFields, sshString } from './mutate.js';
import type { Rng } from './prng.js';

export interface CorpusEntry {
  readonly label: string;
  readonly blob: Buffer;
  /** The CA's private key, for re-signed mutants (omit for slow-signing CAs). */
  readonly ca?: PrivateKey;
  readonly options: VerifyOptions;
  /** Share of the cases that use this entry. */
  readonly weight: number;
}

export interface CertificateFuzzResult {
  readonly cases: number;
  readonly identicalSkipped: number;
  readonly resigned: number;
  readonly byEntry: Record<string, number>;
  readonly byKind: Record<string, number>;
  readonly byReason: Record<string, number>;
  /** Accepted with the CA-signed bytes unchanged (signature re-encoded), by mutation kind. */
  readonly acceptedSameSignedData: Record<string, number>;
  /** Re-signed mutants accepted, rightly per the oracle. */
  readonly acceptedResignedValid: number;
  /** Invariant violations: each with the seed and case number to replay it. */
  readonly failures: readonly string[];
  readonly ms: number;
}

const bump = (m: Record<string, number>, k: string): void => {
  m[k] = (m[k] ?? 0) + 1;
};

function resign(blob: Buffer, ca: PrivateKey): Buffer | undefined {
  const split = splitCertificate(blob);
  if (!split) return undefined;
  const fields = split.fields.slice(0, split.at.signature);
  fields[split.at.signatureKey] = { kind: 'string', value: ca.publicKey.blob };
  const signed = encodeFields(fields);
  return Buffer.concat([signed, sshString(signData(ca, signed))]);
}

function signedPart(blob: Buffer): Buffer | undefined {
  try {
    return parseCertificate(blob).signedData;
  } catch {
    return undefined;
  }
}

export function runCertificateFuzz(
  corpus: readonly CorpusEntry[],
  cases: number,
  rng: Rng,
  policyFor: (entry: CorpusEntry) => OraclePolicy,
  seedLabel: string,
  verify: typeof verifyUserCertificate = verifyUserCertificate,
): CertificateFuzzResult {
  const started = Date.now();
  const total = corpus.reduce((s, c) => s + c.weight, 0);
  const donors = corpus.map((c) => c.blob);
  const originals = corpus.map((c) => signedPart(c.blob)!);
  const result = {
    byEntry: {} as Record<string, number>,
    byKind: {} as Record<string, number>,
    byReason: {} as Record<string, number>,
    acceptedSameSignedData: {} as Record<string, number>,
    failures: [] as string[],
  };
  let done = 0;
  let identical = 0;
  let resigned = 0;
  let acceptedResigned = 0;
  while (done < cases) {
    let pick = rng.int(total);
    const index = corpus.findIndex((c) => (pick -= c.weight) < 0);
    const entry = corpus[index]!;
    const mutation = mutateCertificate(entry.blob, rng, donors);
    let blob = mutation.blob;
    let kind = mutation.kind;
    if (entry.ca && rng.chance(0.15)) {
      const again = resign(blob, entry.ca);
      if (again) {
        blob = again;
        kind = `resigned:${kind}`;
      }
    }
    if (blob.equals(entry.blob)) {
      identical++;
      continue;
    }
    done++;
    if (kind.startsWith('resigned:')) resigned++;
    bump(result.byEntry, entry.label);
    bump(result.byKind, kind);
    const where = (): string =>
      `${seedLabel}, case ${done}, ${entry.label}, ${kind}: ${blob.toString('base64')}`;
    let verdict;
    try {
      verdict = verify(blob, entry.options);
    } catch (err) {
      result.failures.push(`threw ${String(err)} (${where()})`);
      continue;
    }
    if (!verdict.ok) {
      bump(result.byReason, verdict.reason);
      if (typeof verdict.message !== 'string' || verdict.message === '')
        result.failures.push(`refused without a message (${where()})`);
      continue;
    }
    bump(result.byReason, 'accepted');
    if (kind.startsWith('resigned:')) {
      const why = shouldRefuse(blob, policyFor(entry));
      if (why) result.failures.push(`accepted a re-signed mutant that is ${why} (${where()})`);
      else acceptedResigned++;
    } else if (signedPart(blob)?.equals(originals[index]!)) {
      bump(result.acceptedSameSignedData, kind);
    } else {
      result.failures.push(`accepted a mutant whose signed bytes changed (${where()})`);
    }
  }
  return {
    cases: done,
    identicalSkipped: identical,
    resigned,
    ...result,
    acceptedResignedValid: acceptedResigned,
    ms: Date.now() - started,
  };
}
