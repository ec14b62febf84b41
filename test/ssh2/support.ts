/**
 * Helpers for the ssh2 patch tests: keys and certificates made with the real `ssh-keygen`, the
 * real `ssh` client, and a minimal OpenSSH certificate reader (so these tests do not depend on
 * @neetodeploy/sshcert). The private sshd comes from test/support/openssh.ts.
 */
import { execFile } from 'node:child_process';
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

export interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a program to completion; never rejects on a non-zero exit. */
export function run(file: string, args: readonly string[], timeoutMs = 15_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(file, [...args], { timeout: timeoutMs }, (err, stdout, stderr) => {
      // A string code means the program could not be run at all (ENOENT, ...).
      if (err !== null && typeof err.code === 'string') {
        reject(new Error(`cannot run ${file}: ${err.message}`));
        return;
      }
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

async function mustRun(file: string, args: readonly string[]): Promise<string> {
  const r = await run(file, args);
  if (r.code !== 0)
    throw new Error(`${file} ${args.join(' ')} failed (${String(r.code)}): ${r.stderr}`);
  return r.stdout;
}

export async function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

export async function removeDir(dir: string | undefined): Promise<void> {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
}

export type KeygenType = 'ed25519' | 'ecdsa' | 'rsa';

/** `ssh-keygen -t type`: returns the private key path (`path.pub` holds the public key). */
export async function keygen(dir: string, name: string, type: KeygenType): Promise<string> {
  const file = path.join(dir, name);
  const bits = type === 'rsa' ? ['-b', '2048'] : [];
  await mustRun('ssh-keygen', ['-q', '-t', type, ...bits, '-N', '', '-C', name, '-f', file]);
  return file;
}

export interface SignOptions {
  readonly host?: boolean;
  readonly principals: readonly string[];
  readonly validity?: string;
}

/** `ssh-keygen -s ca`: signs `pubFile` and returns the `*-cert.pub` line. */
export async function signKey(caFile: string, pubFile: string, opts: SignOptions): Promise<string> {
  const args = ['-q', '-s', caFile, '-I', 'test-cert', '-n', opts.principals.join(',')];
  if (opts.host === true) args.push('-h');
  if (opts.validity !== undefined) args.push('-V', opts.validity);
  await mustRun('ssh-keygen', [...args, pubFile]);
  return (await readFile(pubFile.replace(/\.pub$/, '-cert.pub'), 'utf8')).trim();
}

/** Base arguments for the real `ssh` client: no user config, no agent, no default keys. */
export function sshArgs(port: number, knownHostsFile: string, hostAlias: string): string[] {
  return [
    '-F',
    '/dev/null',
    '-p',
    String(port),
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${knownHostsFile}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
    '-o',
    `HostKeyAlias=${hostAlias}`,
    '-o',
    'BatchMode=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'IdentityAgent=none',
    '-o',
    'ConnectTimeout=10',
  ];
}

// ---------------------------------------------------------------------------------------------
// A minimal reader of SSH wire data and OpenSSH certificates, for checks made by the tests.

export class Reader {
  pos = 0;
  constructor(readonly buf: Buffer) {}

  u32(): number {
    if (this.pos + 4 > this.buf.length) throw new Error('truncated');
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  bytes(n: number): Buffer {
    if (this.pos + n > this.buf.length) throw new Error('truncated');
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  string(): Buffer {
    return this.bytes(this.u32());
  }

  text(): string {
    return this.string().toString('utf8');
  }

  rest(): Buffer {
    return this.bytes(this.buf.length - this.pos);
  }
}

export function sshString(data: Buffer | string): Buffer {
  const b = typeof data === 'string' ? Buffer.from(data) : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

const CURVE_OF: Readonly<Record<string, string>> = {
  nistp256: 'P-256',
  nistp384: 'P-384',
  nistp521: 'P-521',
};

/** Reads a plain public key's fields (after its type name) into a KeyObject. */
function readPublicKeyFields(type: string, r: Reader): KeyObject {
  const b64 = (b: Buffer): string => b.toString('base64url');
  const unsigned = (b: Buffer): Buffer => (b[0] === 0 ? b.subarray(1) : b);
  if (type === 'ssh-ed25519') {
    return createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: b64(r.string()) },
      format: 'jwk',
    });
  }
  if (type === 'ssh-rsa') {
    const e = unsigned(r.string());
    const n = unsigned(r.string());
    return createPublicKey({ key: { kty: 'RSA', e: b64(e), n: b64(n) }, format: 'jwk' });
  }
  if (type.startsWith('ecdsa-sha2-')) {
    const crv = CURVE_OF[r.text()];
    const q = r.string();
    if (crv === undefined || q[0] !== 4) throw new Error('unsupported ecdsa key');
    const half = (q.length - 1) / 2;
    return createPublicKey({
      key: { kty: 'EC', crv, x: b64(q.subarray(1, 1 + half)), y: b64(q.subarray(1 + half)) },
      format: 'jwk',
    });
  }
  throw new Error(`unsupported key type ${type}`);
}

export function parsePublicKeyBlob(blob: Buffer): { type: string; key: KeyObject } {
  const r = new Reader(blob);
  const type = r.text();
  return { type, key: readPublicKeyFields(type, r) };
}

export interface ParsedCert {
  readonly type: string;
  readonly key: KeyObject;
  readonly certType: number;
  readonly principals: string[];
  readonly validBefore: bigint;
  readonly caKey: Buffer;
  readonly signature: Buffer;
  readonly signedData: Buffer;
}

/** Parses an OpenSSH certificate blob (PROTOCOL.certkeys); checks nothing. */
export function parseCert(blob: Buffer): ParsedCert {
  const r = new Reader(blob);
  const type = r.text();
  r.string(); // nonce
  const key = readPublicKeyFields(type.replace('-cert-v01@openssh.com', ''), r);
  r.bytes(8); // serial
  const certType = r.u32();
  r.string(); // key id
  const pr = new Reader(r.string());
  const principals: string[] = [];
  while (pr.pos < pr.buf.length) principals.push(pr.text());
  r.bytes(8); // valid after
  const validBefore = r.bytes(8).readBigUInt64BE();
  r.string(); // critical options
  r.string(); // extensions
  r.string(); // reserved
  const caKey = r.string();
  const signedData = blob.subarray(0, r.pos);
  const signature = r.string();
  return { type, key, certType, principals, validBefore, caKey, signature, signedData };
}

/** Converts an SSH ECDSA signature (mpint r, mpint s) to the IEEE P1363 form node:crypto takes. */
function ecdsaP1363(sig: Buffer, key: KeyObject): Buffer {
  const r = new Reader(sig);
  const size = Math.ceil(
    Number(/\d+/.exec(key.asymmetricKeyDetails?.namedCurve ?? '')?.[0] ?? 0) / 8,
  );
  const fixed = (b: Buffer): Buffer => {
    const trimmed = b.subarray(Math.max(0, b.length - size));
    return Buffer.concat([Buffer.alloc(size - trimmed.length), trimmed]);
  };
  return Buffer.concat([fixed(r.string()), fixed(r.string())]);
}

const HASH_OF: Readonly<Record<string, string | null>> = {
  'ssh-ed25519': null,
  'ecdsa-sha2-nistp256': 'sha256',
  'ecdsa-sha2-nistp384': 'sha384',
  'ecdsa-sha2-nistp521': 'sha512',
  'rsa-sha2-256': 'sha256',
  'rsa-sha2-512': 'sha512',
  'ssh-rsa': 'sha1',
};

/**
 * Verifies an SSH signature blob (string algorithm, string signature) over `data`. Returns the
 * algorithm name it carries when the signature is valid, undefined otherwise.
 */
export function verifySshSignature(
  sigBlob: Buffer,
  data: Buffer,
  key: KeyObject,
): string | undefined {
  const r = new Reader(sigBlob);
  const alg = r.text();
  let sig = r.string();
  const hash = HASH_OF[alg];
  if (hash === undefined) return undefined;
  if (alg.startsWith('ecdsa-')) sig = ecdsaP1363(sig, key);
  const ok = verify(
    hash,
    data,
    alg.startsWith('ecdsa-') ? { key, dsaEncoding: 'ieee-p1363' } : key,
    sig,
  );
  return ok ? alg : undefined;
}
