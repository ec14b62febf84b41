import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { startHarness } from '../test/bastion/harness.js';

const h = await startHarness();
const u = await h.user('tp', {});
async function timed(args: string[]) {
  const devnull = openSync('/dev/null', 'w');
  const t0 = Date.now();
  await new Promise((r) => spawn('ssh', args, { stdio: ['ignore', devnull, 'inherit'] }).on('close', r));
  return Date.now() - t0;
}
const size = 256 * 1024 * 1024;
const out: string[] = [];
for (const host of ['bastion', 'demo.neetodeploy', 'bastion', 'demo.neetodeploy']) {
  const ms = await timed(['-F', u.config, '-o', 'Ciphers=aes128-gcm@openssh.com', host, `head -c ${size} /dev/zero`]);
  out.push(`${host} ${(size / 1048576 / (ms / 1000)).toFixed(1)}`);
}
console.log(process.env.ND_CORK, out.join(' | '));
await h.close();
process.exit(0);
