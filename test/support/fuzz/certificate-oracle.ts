/**
 * An independent reading of a certificate (our own field split, not sshcert's parser) that says
 * whether a verifier may accept it for principal `demo` at `now`. Used for mutants re-signed by
 * the CA: the signature then verifies, so everything rests on the checks after it.
 */
import { splitCertificate } from './certificate.js';
import { decodeFields } from './mutate.js';

export interface OraclePolicy {
  readonly principal: string;
  readonly now: Date;
  readonly knownCritical: readonly string[];
  /** source-address lists the oracle knows to contain the client address. */
  readonly allowedSourceLists: readonly string[];
}

function strings(buf: Buffer): Buffer[] | undefined {
  const out: Buffer[] = [];
  let p = 0;
  while (p < buf.length) {
    if (p + 4 > buf.length) return undefined;
    const len = buf.readUInt32BE(p);
    if (p + 4 + len > buf.length) return undefined;
    out.push(buf.subarray(p + 4, p + 4 + len));
    p += 4 + len;
  }
  return out;
}

/**
 * Why an accepted certificate should not have been, or undefined when accepting it is right
 * (or the oracle cannot tell: it only vouches for what it decodes unambiguously).
 */
export function shouldRefuse(blob: Buffer, policy: OraclePolicy): string | undefined {
  const split = splitCertificate(blob);
  if (!split) return 'the oracle cannot split it into certificate fields';
  const f = split.fields;
  const { at } = split;
  if (f[at.certType]!.value.readUInt32BE(0) !== 1) return 'not a user certificate';
  const principals = strings(f[at.principals]!.value);
  if (!principals) return 'principal list is malformed';
  if (!principals.some((p) => p.equals(Buffer.from(policy.principal))))
    return `principal ${policy.principal} not listed byte for byte`;
  const now = BigInt(Math.floor(policy.now.getTime() / 1000));
  const va = f[at.validAfter]!.value.readBigUInt64BE(0);
  const vb = f[at.validBefore]!.value.readBigUInt64BE(0);
  if (now < va || now >= vb) return 'outside its validity window';
  const critical = strings(f[at.critical]!.value);
  if (!critical || critical.length % 2 !== 0) return 'critical options are malformed';
  for (let i = 0; i < critical.length; i += 2) {
    const name = critical[i]!.toString('latin1');
    if (!policy.knownCritical.includes(name)) return `unknown critical option ${name}`;
    if (name === 'source-address') {
      const inner = decodeFields(critical[i + 1]!, ['string']);
      const list = inner?.[0]?.value.toString('latin1');
      if (list === undefined || !policy.allowedSourceLists.includes(list))
        return `source-address ${JSON.stringify(list)} not known to allow the client`;
    }
  }
  if (!strings(f[at.extensions]!.value)) return 'extensions are malformed';
  return undefined;
}
