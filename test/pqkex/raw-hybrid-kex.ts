/**
 * A hand-made SSH client for the hybrid key exchanges, written from the drafts rather than from
 * ssh2 (draft-ietf-sshm-ntruprime-ssh, draft-ietf-sshm-mlkem-hybrid-kex): sends C_INIT =
 * KEM public key || X25519 key, reads S_REPLY = ciphertext || X25519 key, computes
 * K = HASH(KEM secret || X25519 secret) and H with K as a *string*, and returns what a test
 * needs to check the server's signature over H.
 */
import {
  createHash,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  randomBytes,
} from 'node:crypto';
import net from 'node:net';
import { Reader, sshString } from '../ssh2/support.js';
import type { Kem } from './kem-modules.js';

export interface HybridKexResult {
  readonly hostKeyBlob: Buffer;
  readonly signature: Buffer;
  readonly exchangeHash: Buffer;
  readonly serverKexinit: Buffer;
}

const CLIENT_IDENT = 'SSH-2.0-raw-hybrid-kex-test';

function packet(payload: Buffer): Buffer {
  let pad = 8 - ((4 + 1 + payload.length) % 8);
  if (pad < 4) pad += 8;
  const head = Buffer.alloc(5);
  head.writeUInt32BE(1 + payload.length + pad);
  head[4] = pad;
  return Buffer.concat([head, payload, randomBytes(pad)]);
}

/**
 * The ten name-lists of a KEXINIT payload: kex, host key, cipher c2s/s2c, MAC c2s/s2c,
 * compression c2s/s2c, languages c2s/s2c.
 */
export function kexinitLists(kexinit: Buffer): string[][] {
  const r = new Reader(kexinit.subarray(17));
  return Array.from({ length: 10 }, () => r.text().split(','));
}

export function kexinitKexNames(kexinit: Buffer): string[] {
  return kexinitLists(kexinit)[0]!;
}

export function rawHybridKex(
  port: number,
  kexName: string,
  kem: Kem,
  hashName: 'sha256' | 'sha512',
): Promise<HybridKexResult> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const fail = (err: Error): void => {
      sock.destroy();
      reject(err);
    };
    sock.setTimeout(15_000, () => fail(new Error('raw kex timed out')));
    sock.on('error', fail);

    const kemKeys = kem.keypair();
    const x25519 = generateKeyPairSync('x25519');
    const xPub = Buffer.from(x25519.publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
    const clientInit = Buffer.concat([kemKeys.publicKey, xPub]);
    const kexinit = Buffer.concat([
      Buffer.from([20]),
      randomBytes(16),
      ...[kexName, 'ssh-ed25519', 'aes128-ctr', 'aes128-ctr']
        .concat(['hmac-sha2-256', 'hmac-sha2-256', 'none', 'none', '', ''])
        .map((s) => sshString(s)),
      Buffer.from([0, 0, 0, 0, 0]),
    ]);
    sock.write(`${CLIENT_IDENT}\r\n`);
    sock.write(packet(kexinit));

    let buf = Buffer.alloc(0);
    let serverIdent: string | undefined;
    let serverKexinit: Buffer | undefined;
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      try {
        if (serverIdent === undefined) {
          const eol = buf.indexOf('\r\n');
          if (eol < 0) return;
          serverIdent = buf.subarray(0, eol).toString('latin1');
          buf = buf.subarray(eol + 2);
        }
        while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
          const len = buf.readUInt32BE(0);
          const payload = buf.subarray(5, 4 + len - (buf[4] ?? 0));
          buf = buf.subarray(4 + len);
          if (payload[0] === 20) {
            serverKexinit = Buffer.from(payload);
            if (!kexinitKexNames(serverKexinit).includes(kexName)) {
              sock.destroy();
              resolve({
                hostKeyBlob: Buffer.alloc(0),
                signature: Buffer.alloc(0),
                exchangeHash: Buffer.alloc(0),
                serverKexinit,
              });
              return;
            }
            sock.write(packet(Buffer.concat([Buffer.from([30]), sshString(clientInit)])));
          } else if (payload[0] === 31 && serverKexinit !== undefined) {
            const r = new Reader(payload.subarray(1));
            const hostKeyBlob = Buffer.from(r.string());
            const reply = Buffer.from(r.string());
            const signature = Buffer.from(r.string());
            if (reply.length !== kem.CIPHERTEXT_BYTES + 32) throw new Error('bad S_REPLY length');
            const kemSecret = kem.decapsulate(
              reply.subarray(0, kem.CIPHERTEXT_BYTES),
              kemKeys.secretKey,
            );
            const xSecret = diffieHellman({
              privateKey: x25519.privateKey,
              publicKey: createPublicKey({
                key: {
                  kty: 'OKP',
                  crv: 'X25519',
                  x: reply.subarray(kem.CIPHERTEXT_BYTES).toString('base64url'),
                },
                format: 'jwk',
              }),
            });
            const k = createHash(hashName).update(kemSecret).update(xSecret).digest();
            const exchangeHash = createHash(hashName)
              .update(sshString(CLIENT_IDENT))
              .update(sshString(serverIdent))
              .update(sshString(kexinit))
              .update(sshString(serverKexinit))
              .update(sshString(hostKeyBlob))
              .update(sshString(clientInit))
              .update(sshString(reply))
              // K as string: an mpint would differ whenever K's first byte is >= 0x80 or 0.
              .update(sshString(k))
              .digest();
            sock.destroy();
            resolve({ hostKeyBlob, signature, exchangeHash, serverKexinit });
            return;
          } else if (payload[0] === 1) {
            fail(new Error(`server disconnected: ${payload.subarray(9).toString('latin1')}`));
            return;
          }
        }
      } catch (err) {
        fail(err instanceof Error ? err : new Error(String(err)));
      }
    });
    sock.on('close', () => reject(new Error('connection closed before KEX_ECDH_REPLY')));
  });
}
