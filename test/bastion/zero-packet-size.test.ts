/**
 * Found by the protocol fuzzer (seed 19, channel stage): a session channel opened with a maximum
 * packet size of 0 made ssh2's Channel `_write` loop forever on the bastion's first write, so
 * any holder of a valid certificate stopped the whole bastion. The ssh2 patch refuses such an
 * open; the bastion must still answer afterwards.
 */
import assert from 'node:assert/strict';
import { startFuzzTarget, type FuzzTarget } from '../support/fuzz/bastion-process.js';
import { publicKeyAuth, runClientCase, sleep } from '../support/fuzz/client-case.js';
import { makeFuzzContext } from '../support/fuzz/bastion-run.js';
import { sshString, u32 } from '../support/fuzz/mutate.js';
import { MSG } from '../support/fuzz/ssh-messages.js';

describe('bastion: a channel with a maximum packet size of 0', function () {
  this.timeout(60_000);
  let target: FuzzTarget | undefined;
  after(async () => target?.stop());

  it('is refused, and the bastion keeps answering', async () => {
    target = await startFuzzTarget();
    const ctx = await makeFuzzContext(target);
    let refused = false;
    await runClientCase({
      port: ctx.port,
      config: publicKeyAuth(ctx.user.ssh2Key),
      timeoutMs: 8000,
      setup: (tap) => {
        tap.onReceive = (p) => {
          // 92: SSH_MSG_CHANNEL_OPEN_FAILURE (RFC 4254).
          if (p[0] === 92 && p.readUInt32BE(1) === 1000) refused = true;
          // Were it confirmed, ask it to run a command: any write would hang the bastion.
          if (p[0] === MSG.CHANNEL_OPEN_CONFIRMATION && p.readUInt32BE(1) === 1000) {
            tap.inject(
              Buffer.concat([
                Buffer.from([MSG.CHANNEL_REQUEST]),
                u32(p.readUInt32BE(5)),
                sshString('exec'),
                Buffer.from([1]),
                sshString('true'),
              ]),
            );
          }
        };
      },
      afterReady: async (_client, tap) => {
        tap.inject(
          Buffer.concat([
            Buffer.from([MSG.CHANNEL_OPEN]),
            sshString('session'),
            u32(1000),
            u32(0x200000),
            u32(0),
          ]),
        );
        await sleep(1000);
      },
    });
    assert.ok(refused, 'the open was refused');
    assert.ok(await target.probe(5000), 'the bastion still answers');
  });
});
