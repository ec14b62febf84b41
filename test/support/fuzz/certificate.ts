/**
 * Field-aware mutations of OpenSSH certificates (PROTOCOL.certkeys). A certificate is split into
 * its top-level fields, one field is changed in a way a parser or a verifier could get wrong,
 * and the lengths are recomputed so the result still parses and reaches the deep checks
 * (signature, validity, principals, options) instead of dying at the first length field.
 */
import {
  decodeFields,
  encodeFields,
  encodeStrings,
  interestingLength,
  interestingText,
  mutateBytes,
  sshString,
  u32,
  u64,
  type WireField,
} from './mutate.js';
import type { Rng } from './prng.js';

type Kind = WireField['kind'];
const TAIL: readonly Kind[] = [
  'u64', // serial
  'u32', // type
  'string', // key id
  'string', // principals
  'u64', // valid after
  'u64', // valid before
  'string', // critical options
  'string', // extensions
  'string', // reserved
  'string', // signature key
  'string', // signature
];

/** How many key fields each certificate type carries between nonce and serial. */
function keyFieldCount(typeName: string): number | undefined {
  if (typeName === 'ssh-ed25519-cert-v01@openssh.com') return 1;
  if (/^ecdsa-sha2-nistp(256|384|521)-cert-v01@openssh\.com$/.test(typeName)) return 2;
  if (typeName === 'ssh-rsa-cert-v01@openssh.com') return 2;
  return undefined;
}

/** A certificate cut into fields, with the index of each named field. */
export interface CertFields {
  readonly fields: WireField[];
  readonly at: {
    readonly type: 0;
    readonly nonce: 1;
    readonly key: number;
    readonly serial: number;
    readonly certType: number;
    readonly keyId: number;
    readonly principals: number;
    readonly validAfter: number;
    readonly validBefore: number;
    readonly critical: number;
    readonly extensions: number;
    readonly reserved: number;
    readonly signatureKey: number;
    readonly signature: number;
  };
}

export function splitCertificate(blob: Buffer): CertFields | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (4 + len > blob.length) return undefined;
  const n = keyFieldCount(blob.subarray(4, 4 + len).toString('latin1'));
  if (n === undefined) return undefined;
  const layout: Kind[] = ['string', 'string', ...Array<Kind>(n).fill('string'), ...TAIL];
  const fields = decodeFields(blob, layout);
  if (!fields) return undefined;
  const k = 2 + n;
  return {
    fields,
    at: {
      type: 0,
      nonce: 1,
      key: 2,
      serial: k,
      certType: k + 1,
      keyId: k + 2,
      principals: k + 3,
      validAfter: k + 4,
      validBefore: k + 5,
      critical: k + 6,
      extensions: k + 7,
      reserved: k + 8,
      signatureKey: k + 9,
      signature: k + 10,
    },
  };
}

/** Group orders of the NIST curves: (r, n - s) verifies wherever (r, s) does. */
const CURVE_ORDER: Readonly<Record<string, bigint>> = {
  'ecdsa-sha2-nistp256': 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
  'ecdsa-sha2-nistp384':
    0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
  'ecdsa-sha2-nistp521':
    0x01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n,
};

/** The first string of a key blob: its algorithm name ('' when unreadable). */
function leadingName(blob: Buffer): string {
  if (blob.length < 4) return '';
  const len = blob.readUInt32BE(0);
  return 4 + len <= blob.length ? blob.subarray(4, 4 + len).toString('latin1') : '';
}

function mpint(v: bigint): Buffer {
  if (v === 0n) return sshString(Buffer.alloc(0));
  let hex = v.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let b = Buffer.from(hex, 'hex');
  if (b[0]! & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return sshString(b);
}

function options(rng: Rng, names: readonly string[]): Buffer {
  const pairs: Buffer[] = [];
  const count = 1 + rng.int(3);
  for (let i = 0; i < count; i++) {
    const name = rng.chance(0.8) ? Buffer.from(rng.pick(names)) : interestingText(rng);
    const value = rng.pick<() => Buffer>([
      () => Buffer.alloc(0),
      () => sshString(rng.pick(['127.0.0.1', '0.0.0.0/0,::/0', '10.0.0.0/8', '/bin/true', ''])),
      () => sshString(interestingText(rng)),
      // A value not wrapped in the inner string, as a careless encoder would write it.
      () => Buffer.from('127.0.0.1'),
      () => Buffer.concat([sshString('x'), Buffer.from([0])]),
    ])();
    pairs.push(sshString(name), sshString(value));
  }
  return Buffer.concat(pairs);
}

const CRITICAL = ['force-command', 'source-address', 'verify-required', 'x@example.com', ''];
const EXTENSIONS = [
  'permit-pty',
  'permit-port-forwarding',
  'permit-agent-forwarding',
  'permit-X11-forwarding',
  'permit-user-rc',
  'no-touch-required',
];
const CERT_TYPE_NAMES = [
  'ssh-ed25519-cert-v01@openssh.com',
  'ecdsa-sha2-nistp256-cert-v01@openssh.com',
  'ecdsa-sha2-nistp521-cert-v01@openssh.com',
  'ssh-rsa-cert-v01@openssh.com',
  'rsa-sha2-512-cert-v01@openssh.com',
  'ssh-dss-cert-v01@openssh.com',
  'SSH-ED25519-CERT-V01@OPENSSH.COM',
  'ssh-ed25519',
  'sk-ssh-ed25519-cert-v01@openssh.com',
];

/** Changes the signature field (string alg, string sig) without touching what the CA signed. */
function mutateSignature(sig: Buffer, rng: Rng, caType: string): Buffer {
  const parts = decodeFields(sig, ['string', 'string']);
  if (!parts) return mutateBytes(sig, rng);
  const [alg, body] = [parts[0]!.value.toString('latin1'), parts[1]!.value];
  const order = CURVE_ORDER[caType];
  const choice = rng.int(6);
  if (choice === 0) {
    const other = rng.pick(['rsa-sha2-256', 'rsa-sha2-512', 'ssh-rsa', 'ssh-ed25519', 'ssh-dss']);
    return Buffer.concat([sshString(other), sshString(body)]);
  }
  if (choice === 1 && order !== undefined) {
    const rs = decodeFields(body, ['string', 'string']);
    if (rs) {
      const s = BigInt(`0x${rs[1]!.value.toString('hex') || '0'}`);
      const inner = Buffer.concat([sshString(rs[0]!.value), mpint(order - s)]);
      return Buffer.concat([sshString(alg), sshString(inner)]);
    }
  }
  if (choice === 2 && order !== undefined) {
    // r with a redundant leading zero: same number, not minimally encoded.
    const rs = decodeFields(body, ['string', 'string']);
    if (rs) {
      const r = Buffer.concat([Buffer.from([0]), rs[0]!.value]);
      const inner = Buffer.concat([sshString(r), sshString(rs[1]!.value)]);
      return Buffer.concat([sshString(alg), sshString(inner)]);
    }
  }
  if (choice === 3) {
    return Buffer.concat([sshString(alg), sshString(body.subarray(0, rng.int(body.length)))]);
  }
  if (choice === 4) {
    return Buffer.concat([sshString(alg), sshString(Buffer.concat([Buffer.from([0]), body]))]);
  }
  return Buffer.concat([sshString(alg), sshString(mutateBytes(body, rng))]);
}

function mutateSubjectKey(fields: WireField[], at: CertFields['at'], rng: Rng): void {
  const count = at.serial - at.key;
  const i = at.key + rng.int(count);
  const v = fields[i]!.value;
  const replacements: Buffer[] = [
    Buffer.alloc(v.length), // all zero: for ed25519 a small-order point
    Buffer.concat([Buffer.from([1]), Buffer.alloc(Math.max(0, v.length - 1))]),
    Buffer.from([1]), // RSA e = 1
    Buffer.from([3]),
    Buffer.from([0x04]), // an ECDSA point with no coordinates
    v.subarray(0, v.length - 1),
    Buffer.concat([v, Buffer.from([0])]),
    mutateBytes(v, rng),
  ];
  fields[i] = { kind: 'string', value: rng.pick(replacements) };
}

export interface CertificateMutation {
  /** Which mutation made it (for the per-kind counts). */
  readonly kind: string;
  readonly blob: Buffer;
}

/**
 * One mutation of `blob`. `donors` are other valid certificates (of any type): some mutations
 * splice one of their fields in, as an attacker holding several genuine certificates would.
 */
export function mutateCertificate(
  blob: Buffer,
  rng: Rng,
  donors: readonly Buffer[] = [],
): CertificateMutation {
  const split = splitCertificate(blob);
  if (!split || rng.chance(0.3)) return { kind: 'bytes', blob: mutateBytes(blob, rng) };
  const { at } = split;
  const fields = [...split.fields];
  const set = (i: number, value: Buffer): void => {
    fields[i] = { kind: fields[i]!.kind, value };
  };
  const caType = leadingName(fields[at.signatureKey]!.value);
  const kinds = [
    'field-bytes',
    'field-length',
    'type-name',
    'nonce',
    'subject-key',
    'serial',
    'cert-type',
    'key-id',
    'principals',
    'validity',
    'critical-options',
    'extensions',
    'reserved',
    'signature-key',
    'signature',
    'splice',
  ] as const;
  const kind = rng.pick(kinds);
  switch (kind) {
    case 'field-bytes': {
      const i = rng.int(fields.length);
      set(i, mutateBytes(fields[i]!.value, rng));
      break;
    }
    case 'field-length': {
      // A length prefix that lies, without recomputing: the raw bytes, one prefix rewritten.
      const out = encodeFields(fields);
      const offsets: number[] = [];
      let p = 0;
      for (const f of fields) {
        if (f.kind === 'string') offsets.push(p);
        p += f.kind === 'string' ? 4 + f.value.length : f.value.length;
      }
      const o = rng.pick(offsets);
      out.writeUInt32BE(interestingLength(rng, out.readUInt32BE(o), out.length) >>> 0, o);
      return { kind, blob: out };
    }
    case 'type-name':
      set(at.type, Buffer.from(rng.pick(CERT_TYPE_NAMES)));
      break;
    case 'nonce':
      set(at.nonce, rng.pick([Buffer.alloc(0), Buffer.alloc(1 << 16, 7), rng.bytes(rng.int(64))]));
      break;
    case 'subject-key':
      mutateSubjectKey(fields, at, rng);
      break;
    case 'serial':
      set(at.serial, u64(rng.pick([0n, 1n, (1n << 63n) - 1n, (1n << 64n) - 1n])));
      break;
    case 'cert-type':
      set(at.certType, u32(rng.pick([0, 2, 3, 0x100, 0xffffffff, 0x80000001])));
      break;
    case 'key-id':
      set(at.keyId, interestingText(rng));
      break;
    case 'principals': {
      const lists: (Buffer | string)[][] = [
        [],
        ['demo'],
        ['demo', 'demo'],
        ['*'],
        ['demo\0'],
        [interestingText(rng)],
        ['other', interestingText(rng)],
        ['demo', ''],
      ];
      const list = rng.pick(lists);
      // Sometimes the list itself is broken: a dangling length, or garbage after the last name.
      const tail = rng.chance(0.2) ? rng.bytes(1 + rng.int(5)) : Buffer.alloc(0);
      set(at.principals, Buffer.concat([encodeStrings(list), tail]));
      break;
    }
    case 'validity': {
      const now = BigInt(Math.floor(Date.now() / 1000));
      const values = [0n, 1n, now, now + 31536000n, (1n << 63n) - 1n, (1n << 64n) - 1n, 1n << 63n];
      const which = rng.int(3);
      if (which !== 1) set(at.validAfter, u64(rng.pick(values)));
      if (which !== 0) set(at.validBefore, u64(rng.pick(values)));
      break;
    }
    case 'critical-options':
      set(at.critical, options(rng, CRITICAL));
      break;
    case 'extensions':
      set(at.extensions, options(rng, EXTENSIONS));
      break;
    case 'reserved':
      set(at.reserved, rng.chance(0.5) ? Buffer.from([0]) : interestingText(rng));
      break;
    case 'signature-key': {
      const donor = donors.length ? splitCertificate(rng.pick(donors)) : undefined;
      set(
        at.signatureKey,
        donor && rng.chance(0.6)
          ? donor.fields[donor.at.signatureKey]!.value
          : mutateBytes(fields[at.signatureKey]!.value, rng),
      );
      break;
    }
    case 'signature':
      set(at.signature, mutateSignature(fields[at.signature]!.value, rng, caType));
      break;
    case 'splice': {
      const donor = donors.length ? splitCertificate(rng.pick(donors)) : undefined;
      if (!donor) return { kind: 'bytes', blob: mutateBytes(blob, rng) };
      const names = [
        'nonce',
        'serial',
        'keyId',
        'principals',
        'signature',
        'signatureKey',
      ] as const;
      const name = rng.pick(names);
      set(at[name], donor.fields[donor.at[name]]!.value);
      break;
    }
  }
  return { kind, blob: encodeFields(fields) };
}
