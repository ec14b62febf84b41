/**
 * Stages before authentication: the version exchange on a raw socket, the transport's byte
 * stream (framing, padding, MAC), and the key exchange messages in plaintext.
 */
import net from 'node:net';
import { runClientCase } from './client-case.js';
import { interestingText, mutateBytes } from './mutate.js';
import type { Rng } from './prng.js';
import { MSG, kexinitPayload, plainPacket, randomMessage } from './ssh-messages.js';
import { watchServer, type CaseReport, type Stage, type StageContext } from './stage-types.js';

const VERSIONS = [
  'SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n',
  'SSH-2.0-x\r\n',
  'SSH-2.0-PuTTY_Release_0.80\n',
  'SSH-1.99-OpenSSH_3.9\r\n',
  'SSH-1.5-old\r\n',
  'SSH-2.0-\r\n',
  'hello\r\nSSH-2.0-x\r\n',
];

function versionBytes(rng: Rng): Buffer {
  const base = Buffer.from(rng.pick(VERSIONS), 'latin1');
  switch (rng.int(6)) {
    case 0:
      return base;
    case 1: // a line that never ends, or ends far beyond 255 bytes
      return Buffer.concat([
        Buffer.from('SSH-2.0-'),
        Buffer.alloc(rng.pick([240, 247, 248, 255, 256, 1024, 70_000]), 'a'),
        rng.chance(0.5) ? Buffer.from('\r\n') : Buffer.alloc(0),
      ]);
    case 2: // many lines before the version
      return Buffer.concat([
        Buffer.from(`${'banner line\r\n'.repeat(rng.pick([10, 50, 200, 2000]))}`),
        base,
      ]);
    case 3:
      return Buffer.concat([Buffer.from('SSH-2.0-'), interestingText(rng), Buffer.from('\r\n')]);
    default:
      return mutateBytes(base, rng);
  }
}

function rawExchange(port: number, chunks: Buffer[], waitMs: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let got = 0;
    let done = false;
    const end = (outcome: string): void => {
      if (done) return;
      done = true;
      s.destroy();
      resolve(outcome);
    };
    s.on('data', (c: Buffer) => (got += c.length));
    s.on('error', () => end(got ? 'answered+reset' : 'reset'));
    s.on('close', () => end(got ? 'answered+closed' : 'closed'));
    s.on('connect', () => {
      for (const c of chunks) s.write(c);
      setTimeout(() => end(got ? 'answered+open' : 'open'), waitMs).unref();
    });
  });
}

export const versionStage: Stage = {
  name: 'version',
  description: 'raw socket: mutated identification lines, then nothing, a KEXINIT or junk',
  async run(ctx: StageContext, rng: Rng): Promise<CaseReport> {
    const chunks = [versionBytes(rng)];
    const next = rng.int(3);
    if (next === 1) chunks.push(plainPacket(kexinitPayload(rng), rng, rng.chance(0.5)));
    if (next === 2) chunks.push(rng.bytes(1 + rng.int(2048)));
    return { outcome: await rawExchange(ctx.port, chunks, 150) };
  },
};

export const framingStage: Stage = {
  name: 'transport-bytes',
  description: 'real client, one mutation at a random offset of its byte stream (framing, MAC)',
  async run(ctx: StageContext, rng: Rng): Promise<CaseReport> {
    const at = rng.int(1900);
    let offset = 0;
    let mutated = false;
    const s = net.connect(ctx.port, '127.0.0.1');
    await new Promise<void>((resolve) => {
      s.once('connect', () => resolve());
      s.once('error', () => resolve());
    });
    const write = (chunk: Buffer): boolean => net.Socket.prototype.write.call(s, chunk);
    (s as unknown as { write: (chunk: Buffer) => boolean }).write = (chunk: Buffer) => {
      const start = offset;
      offset += chunk.length;
      if (mutated || at >= offset) return write(chunk);
      mutated = true;
      const i = at - start;
      const changed = mutateBytes(chunk.subarray(i, i + 8), rng);
      return write(Buffer.concat([chunk.subarray(0, i), changed, chunk.subarray(i + 8)]));
    };
    let watch: ReturnType<typeof watchServer> | undefined;
    const r = await runClientCase({
      port: ctx.port,
      config: { sock: s, username: 'demo', authHandler: ['none'] },
      timeoutMs: 3000,
      setup: (tap) => (watch = watchServer(tap)),
    });
    s.destroy();
    if (watch?.authenticated) return { outcome: r.result, failure: 'none authentication accepted' };
    return { outcome: mutated ? r.result : `unmutated:${r.result}` };
  },
};

/** Mutates one plaintext handshake message, or injects messages the handshake does not expect. */
export const kexStage: Stage = {
  name: 'kex',
  description: 'plaintext KEXINIT / ECDH_INIT / NEWKEYS / SERVICE_REQUEST mutated or out of order',
  async run(ctx: StageContext, rng: Rng): Promise<CaseReport> {
    const target = rng.pick([MSG.KEXINIT, MSG.KEX_ECDH_INIT, MSG.NEWKEYS, MSG.SERVICE_REQUEST]);
    const inject = rng.chance(0.3);
    let touched = 'none';
    let watch: ReturnType<typeof watchServer> | undefined;
    const r = await runClientCase({
      port: ctx.port,
      config: { username: 'demo', authHandler: ['none'] },
      timeoutMs: 3000,
      setup: (tap) => {
        watch = watchServer(tap);
        tap.onSend = (payload) => {
          if (touched !== 'none' || payload[0] !== target) return undefined;
          touched = `${inject ? 'inject-before' : 'mutate'}:${target}`;
          if (inject) {
            const types = [
              MSG.KEXINIT,
              MSG.NEWKEYS,
              MSG.USERAUTH_REQUEST,
              MSG.CHANNEL_OPEN,
              MSG.GLOBAL_REQUEST,
              MSG.EXT_INFO,
              MSG.IGNORE,
              MSG.DEBUG,
              MSG.UNIMPLEMENTED,
            ];
            for (let i = 1 + rng.int(3); i > 0; i--)
              tap.inject(randomMessage(rng, rng.chance(0.8) ? types : undefined));
            return undefined;
          }
          if (target === MSG.KEXINIT && rng.chance(0.5)) return kexinitPayload(rng);
          if (target === MSG.KEX_ECDH_INIT && rng.chance(0.5)) {
            // The client's ephemeral key: low-order and wrong-size curve25519 points.
            const q = rng.pick([
              Buffer.alloc(32),
              Buffer.alloc(31, 1),
              Buffer.alloc(33, 1),
              Buffer.from([1, ...Buffer.alloc(31)]),
              Buffer.alloc(0),
              Buffer.alloc(65, 4),
            ]);
            const len = Buffer.alloc(4);
            len.writeUInt32BE(q.length);
            return Buffer.concat([Buffer.from([MSG.KEX_ECDH_INIT]), len, q]);
          }
          const m = mutateBytes(payload, rng);
          if (rng.chance(0.7) && m.length > 0) m[0] = target;
          return m;
        };
      },
    });
    if (watch?.authenticated) return { outcome: r.result, failure: 'none authentication accepted' };
    if (watch && watch.grantsBeforeAuth.length)
      return {
        outcome: r.result,
        failure: `granted before auth: ${watch.grantsBeforeAuth.join(', ')}`,
      };
    return { outcome: `${touched === 'none' ? 'not-reached' : r.result}` };
  },
};
