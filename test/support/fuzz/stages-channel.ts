/**
 * The stage after a valid certificate login: the client opens sessions, jumps and forwards and
 * sends pty/env/exec/shell/subsystem/signal/window-change requests, some mutated in plaintext
 * and some injected (any channel type, any request, unknown channel numbers, global requests).
 * What the bastion grants is checked against what this certificate allows: sessions and the
 * jump to `demo.neetodeploy:22` only (no port forwarding, X11, agent or remote forwarding).
 */
import type { Client, ClientChannel } from 'ssh2';
import { publicKeyAuth, runClientCase, sleep } from './client-case.js';
import { mutateBytes } from './mutate.js';
import type { PacketTap } from './packet-hook.js';
import type { Rng } from './prng.js';
import {
  FORBIDDEN_CHANNEL_REQUESTS,
  MSG,
  channelOpenPayload,
  channelRequestPayload,
  decodeFieldsPrefix,
  globalRequestPayload,
  randomMessage,
  withoutZeroPacketSize,
} from './ssh-messages.js';
import type { CaseReport, Stage, StageContext } from './stage-types.js';

interface Opened {
  readonly type: string;
  readonly host?: string;
  readonly port?: number;
}

/** Follows opens, requests and their answers to spot a grant this certificate does not allow. */
class GrantLedger {
  readonly failures: string[] = [];
  private readonly opens = new Map<number, Opened>();
  private readonly remoteOf = new Map<number, number>();
  private readonly pending = new Map<number, string[]>();
  private readonly globals: string[] = [];

  sent(payload: Buffer): void {
    const type = payload[0];
    if (type === MSG.CHANNEL_OPEN) {
      const h = decodeFieldsPrefix(payload, ['u8', 'string', 'u32', 'u32', 'u32']);
      if (!h) return;
      const kind = h.fields[1]!.value.toString('latin1');
      const tcp = decodeFieldsPrefix(payload.subarray(h.end), ['string', 'u32']);
      this.opens.set(h.fields[2]!.value.readUInt32BE(0), {
        type: kind,
        host: tcp?.fields[0]!.value.toString('latin1'),
        port: tcp?.fields[1]!.value.readUInt32BE(0),
      });
    } else if (type === MSG.CHANNEL_REQUEST) {
      const h = decodeFieldsPrefix(payload, ['u8', 'u32', 'string', 'u8']);
      if (!h || h.fields[3]!.value[0] === 0) return;
      const remote = h.fields[1]!.value.readUInt32BE(0);
      const queue = this.pending.get(remote) ?? [];
      queue.push(h.fields[2]!.value.toString('latin1'));
      this.pending.set(remote, queue);
    } else if (type === MSG.GLOBAL_REQUEST) {
      const h = decodeFieldsPrefix(payload, ['u8', 'string', 'u8']);
      if (h && h.fields[2]!.value[0] !== 0)
        this.globals.push(h.fields[1]!.value.toString('latin1'));
    }
  }

  received(payload: Buffer): void {
    const type = payload[0];
    if (type === MSG.CHANNEL_OPEN_CONFIRMATION) {
      const f = decodeFieldsPrefix(payload, ['u8', 'u32', 'u32']);
      if (!f) return;
      const local = f.fields[1]!.value.readUInt32BE(0);
      this.remoteOf.set(local, f.fields[2]!.value.readUInt32BE(0));
      const o = this.opens.get(local);
      if (!o) return;
      const jump = o.host?.toLowerCase().endsWith('.neetodeploy') === true && o.port === 22;
      if (o.type !== 'session' && !(o.type === 'direct-tcpip' && jump))
        this.failures.push(`channel ${JSON.stringify(o)} opened`);
    } else if (type === MSG.CHANNEL_SUCCESS || type === 100) {
      const f = decodeFieldsPrefix(payload, ['u8', 'u32']);
      const remote = f && this.remoteOf.get(f.fields[1]!.value.readUInt32BE(0));
      if (remote === undefined) return;
      const name = this.pending.get(remote)?.shift();
      if (
        type === MSG.CHANNEL_SUCCESS &&
        name !== undefined &&
        FORBIDDEN_CHANNEL_REQUESTS.has(name)
      )
        this.failures.push(`channel request ${name} granted`);
    } else if (type === MSG.REQUEST_SUCCESS || type === 82) {
      const name = this.globals.shift();
      if (type === MSG.REQUEST_SUCCESS && name !== undefined && /forward/.test(name))
        this.failures.push(`global request ${name} granted`);
    }
  }
}

const settle = (ms: number, p: Promise<unknown>): Promise<void> =>
  Promise.race([
    p.then(
      () => undefined,
      () => undefined,
    ),
    sleep(ms),
  ]);

function callback<T>(
  start: (cb: (err: Error | undefined, v: T) => void) => void,
): Promise<T | undefined> {
  return new Promise((resolve) => {
    try {
      start((err, v) => resolve(err ? undefined : v));
    } catch {
      resolve(undefined);
    }
  });
}

/** One scripted action on an authenticated connection. */
async function act(
  avoidZero: boolean,
  client: Client,
  tap: PacketTap,
  rng: Rng,
  channels: ClientChannel[],
): Promise<string> {
  const action = rng.int(9);
  const pty = rng.chance(0.5) ? { term: 'xterm', rows: 24, cols: 80 } : undefined;
  const env = rng.chance(0.5) ? { LANG: 'C', FUZZ: 'x'.repeat(rng.int(300)) } : undefined;
  let ch: ClientChannel | undefined;
  switch (action) {
    case 0:
      ch = await callback<ClientChannel>((cb) =>
        client.exec(rng.pick(['true', 'echo hi', '']), { pty, env }, cb),
      );
      break;
    case 1:
      ch = await callback<ClientChannel>((cb) => client.shell(pty ?? false, { env }, cb));
      break;
    case 2:
      ch = await callback<ClientChannel>((cb) =>
        client.subsys(rng.pick(['sftp', 'netconf', 'x']), cb),
      );
      break;
    case 3: {
      ch = await callback<ClientChannel>((cb) =>
        client.forwardOut('127.0.0.1', 0, 'demo.neetodeploy', 22, cb),
      );
      // Junk, or a mutated identification line, into the virtual host behind the jump.
      ch?.write(
        rng.chance(0.5)
          ? mutateBytes(Buffer.from('SSH-2.0-fuzz\r\n'), rng)
          : rng.bytes(rng.int(512)),
      );
      break;
    }
    case 4:
      ch = await callback<ClientChannel>((cb) =>
        client.forwardOut(
          '127.0.0.1',
          0,
          rng.pick(['localhost', 'demo.neetodeploy']),
          rng.pick([80, 8080, 22]),
          cb,
        ),
      );
      break;
    case 5: {
      const target = channels.length ? rng.pick(channels) : undefined;
      if (target) {
        try {
          if (rng.chance(0.5)) target.setWindow(rng.int(1 << 16), rng.int(1 << 16), 0, 0);
          else target.signal(rng.pick(['INT', 'TERM', 'KILL', 'HUP', 'WINCH', 'NOPE']));
        } catch {
          // the channel is gone
        }
      }
      return 'signal-or-resize';
    }
    case 6:
      tap.inject(channelOpenPayload(rng, 1000 + rng.int(1000), !avoidZero));
      return 'inject-open';
    case 7: {
      const remote = rng.chance(0.7) ? rng.int(4) : rng.next();
      tap.inject(channelRequestPayload(rng, remote).payload);
      return 'inject-request';
    }
    default:
      tap.inject(
        rng.chance(0.5)
          ? globalRequestPayload(rng).payload
          : randomMessage(
              rng,
              rng.chance(0.7) ? [93, 94, 95, 96, 97, 98, 99, 100, 81, 82, 80, 2, 4, 20] : undefined,
            ),
      );
      return 'inject-other';
  }
  if (ch) {
    channels.push(ch);
    ch.on('error', () => undefined);
    ch.resume();
    ch.stderr?.resume?.();
    if (rng.chance(0.5)) ch.end();
  }
  return ch ? `open-${action}` : `refused-${action}`;
}

export const channelStage: Stage = {
  name: 'channel',
  description: 'after a valid login: channel opens and requests, mutated in plaintext or injected',
  async run(ctx: StageContext, rng: Rng): Promise<CaseReport> {
    const ledger = new GrantLedger();
    const mutate = new Set<number>(
      rng.chance(0.6)
        ? [
            rng.pick([
              MSG.CHANNEL_OPEN,
              MSG.CHANNEL_REQUEST,
              MSG.CHANNEL_DATA,
              MSG.CHANNEL_WINDOW_ADJUST,
              MSG.CHANNEL_EOF,
            ]),
          ]
        : [],
    );
    let mutated = 0;
    const actions: string[] = [];
    const username = rng.pick(['demo', 'demo', 'demo+web', 'demo+web.1', 'nope']);
    const r = await runClientCase({
      port: ctx.port,
      config: publicKeyAuth(ctx.user.ssh2Key, username),
      timeoutMs: 4000,
      setup: (tap) => {
        let authenticated = false;
        tap.onReceive = (p) => {
          if (p[0] === MSG.USERAUTH_SUCCESS) authenticated = true;
          ledger.received(p);
        };
        tap.onSend = (payload) => {
          let out = payload;
          if (authenticated && mutate.has(payload[0]!) && mutated < 2 && rng.chance(0.5)) {
            mutated++;
            out = mutateBytes(payload, rng);
            if (rng.chance(0.8) && out.length) out[0] = payload[0]!;
          }
          if (ctx.avoidZeroPacketSize) out = withoutZeroPacketSize(out);
          ledger.sent(out);
          return out === payload ? undefined : out;
        };
      },
      afterReady: async (client, tap) => {
        const channels: ClientChannel[] = [];
        const steps = 1 + rng.int(5);
        for (let i = 0; i < steps; i++) {
          actions.push(await settleAct(ctx.avoidZeroPacketSize, client, tap, rng, channels));
        }
        await sleep(50);
      },
    });
    const outcome = `${r.result}${mutated ? ':mutated' : ''}`;
    if (ledger.failures.length) return { outcome, failure: ledger.failures.join('; ') };
    return { outcome };
  },
};

async function settleAct(
  avoidZero: boolean,
  client: Client,
  tap: PacketTap,
  rng: Rng,
  channels: ClientChannel[],
): Promise<string> {
  let label = 'timeout';
  await settle(
    1500,
    act(avoidZero, client, tap, rng, channels).then((l) => (label = l)),
  );
  return label;
}
