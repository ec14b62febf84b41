/**
 * The attackers of the flood test, in their own process so that their CPU (32 MiB user names are
 * built and encrypted here) is not charged to the bastion's event loop:
 * `node --import=tsx flood-attackers.ts PORT SOCKETS SOURCES BOMBS`. Prints `ready` once the
 * banner sockets are connected and `bomb <result> <ms>` per finished bomb; runs until killed.
 */
import { bannerFlood, bomb } from './attackers.js';

const [port, sockets, sources, bombs] = process.argv.slice(2).map(Number);
if (!port || sockets === undefined || !sources || bombs === undefined) {
  throw new Error('usage: PORT SOCKETS SOURCES BOMBS');
}

if (sockets > 0) bannerFlood(port, sockets, sources);
for (let i = 0; i < bombs; i++) {
  const from = `127.0.0.${100 + i}`;
  const loop = (): void =>
    void bomb(port, Number(process.env.BOMB_SIZE ?? 32 << 20), from).then((r) => {
      process.stdout.write(`bomb ${r.result} ${r.ms}\n`);
      setTimeout(loop, 100);
    });
  loop();
}
setTimeout(() => process.stdout.write('ready\n'), 500);
