/**
 * Just enough of an SSH client to run curve25519-sha256 key exchange by hand and read the
 * server's KEX_ECDH_REPLY, which travels in clear: lets a test look at the exact host key blob
 * (K_S) and signature a server sends, and verify that signature independently of ssh2.
 */
import {
  createHash,
  createPublicKey,
  diffieHellman,
  generateKeyPairSync,
  randomBytes,
} from 'node:crypto';
import net from 'node:net';
import { Reader, sshString } from './support.js';

export interface KexReply {
  /** The server's public host key or certificate blob (K_S). */
  readonly hostKeyBlob: Buffer;
  /** The whole SSH signature blob: string algorithm, string signature. */
  readonly signature: Buffer;
  /** The exchange hash H the signature must cover. */
  readonly exchangeHash: Buffer;
}

const MSG_KEXINIT = 20;
const MSG_KEX_ECDH_INIT = 30;
const MSG_KEX_ECDH_REPLY = 31;
const CLIENT_IDENT = 'SSH-2.0-raw-kex-test';

function nameList(names: string): Buffer {
  return sshString(names);
}

function packet(payload: Buffer): Buffer {
  let pad = 8 - ((4 + 1 + payload.length) % 8);
  if (pad < 4) pad += 8;
  const head = Buffer.alloc(5);
  head.writeUInt32BE(1 + payload.length + pad);
  head[4] = pad;
  return Buffer.concat([head, payload, randomBytes(pad)]);
}

function mpint(unsigned: Buffer): Buffer {
  let i = 0;
  while (i < unsigned.length && unsigned[i] === 0) i++;
  const v = unsigned.subarray(i);
  return sshString(v.length > 0 && (v[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

/** Connects to `port`, offers only `hostKeyAlgorithm`, and returns the server's reply. */
export function rawKex(port: number, hostKeyAlgorithm: string): Promise<KexReply> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    const fail = (err: Error): void => {
      sock.destroy();
      reject(err);
    };
    sock.setTimeout(10_000, () => fail(new Error('raw kex timed out')));
    sock.on('error', fail);

    const ephemeral = generateKeyPairSync('x25519');
    const qC = Buffer.from(ephemeral.publicKey.export({ format: 'jwk' }).x ?? '', 'base64url');
    const kexinit = Buffer.concat([
      Buffer.from([MSG_KEXINIT]),
      randomBytes(16),
      nameList('curve25519-sha256'),
      nameList(hostKeyAlgorithm),
      nameList('aes128-ctr'),
      nameList('aes128-ctr'),
      nameList('hmac-sha2-256'),
      nameList('hmac-sha2-256'),
      nameList('none'),
      nameList('none'),
      nameList(''),
      nameList(''),
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
          const padLen = buf[4] ?? 0;
          const payload = buf.subarray(5, 4 + len - padLen);
          buf = buf.subarray(4 + len);
          if (payload[0] === MSG_KEXINIT) {
            serverKexinit = Buffer.from(payload);
            sock.write(packet(Buffer.concat([Buffer.from([MSG_KEX_ECDH_INIT]), sshString(qC)])));
          } else if (payload[0] === MSG_KEX_ECDH_REPLY && serverKexinit !== undefined) {
            const r = new Reader(payload.subarray(1));
            const hostKeyBlob = Buffer.from(r.string());
            const qS = r.string();
            const signature = Buffer.from(r.string());
            const secret = diffieHellman({
              privateKey: ephemeral.privateKey,
              publicKey: createPublicKey({
                key: { kty: 'OKP', crv: 'X25519', x: qS.toString('base64url') },
                format: 'jwk',
              }),
            });
            const exchangeHash = createHash('sha256')
              .update(sshString(CLIENT_IDENT))
              .update(sshString(serverIdent))
              .update(sshString(kexinit))
              .update(sshString(serverKexinit))
              .update(sshString(hostKeyBlob))
              .update(sshString(qC))
              .update(sshString(qS))
              .update(mpint(secret))
              .digest();
            sock.destroy();
            resolve({ hostKeyBlob, signature, exchangeHash });
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
