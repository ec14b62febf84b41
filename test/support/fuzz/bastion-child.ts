/**
 * The bastion under fuzz, in its own process: a crash (an uncaught exception, an unhandled
 * rejection, an abort) ends this process and the fuzzer sees it, and its memory is measured
 * apart from the fuzzer's own clients. Started by ./bastion-process.ts with an IPC channel and
 * `--expose-gc`; it logs warnings and errors as JSON lines on stdout.
 */
import path from 'node:path';
import pino from 'pino';
import { createBastion, parseBastionConfig } from '@neetodeploy/bastion';
import { makeKey, signCert, tempDir } from '../ssh-client.js';
import { createFuzzPlatform } from './fake-platform.js';
import type { ChildMessage, ParentMessage } from './bastion-process.js';

const send = (m: ChildMessage): void => {
  process.send?.(m);
};

process.on('uncaughtException', (err) => {
  send({ type: 'crash', error: err.stack ?? String(err) });
  process.exitCode = 70;
  // Give the IPC message a moment to leave, then die as an uncaught exception would.
  setTimeout(() => process.exit(70), 100);
});

async function main(): Promise<void> {
  const tmp = await tempDir('nd-fuzz-bastion-');
  const dir = tmp.dir;
  const [userCa, hostCa, hostKey] = await Promise.all([
    makeKey(dir, 'user_ca'),
    makeKey(dir, 'host_ca'),
    makeKey(dir, 'ssh_host_ed25519_key'),
  ]);
  const hostCert = await signCert(hostCa, hostKey, {
    keyId: 'bastion',
    principals: ['bastion.fuzz', '*.neetodeploy'],
    host: true,
    validity: '-5m:+1h',
  });
  const logger = pino({ level: 'warn' }, pino.destination({ fd: 1, sync: false }));
  const platform = createFuzzPlatform();
  const config = parseBastionConfig({
    listen: { host: '127.0.0.1', port: 0 },
    name: 'bastion.fuzz',
    hostKeys: [{ privateKeyFile: hostKey.file, certificateFile: hostCert }],
    trust: { static: { userCaKeyFiles: [`${userCa.file}.pub`] } },
    // One source address sends everything: per-source caps and penalties would turn the run
    // into a test of them. Deadlines are short so abandoned connections end within the run.
    limits: {
      maxStartups: { begin: 200, rate: 30, full: 400 },
      perIpUnauthenticated: 400,
      perIpConnections: 2000,
      perSourcePenalties: { enabled: false },
      kexTimeoutMs: 3000,
      authTimeoutMs: 5000,
      maxSessionsPerUser: 2000,
    },
    platform: { type: 'local', dataDir: path.join(dir, 'unused') },
  });
  const bastion = createBastion(config, { platform, logger });
  const addresses = await bastion.start();
  process.on('message', (m: ParentMessage) => {
    if (m.type === 'memory') {
      const gc = (globalThis as { gc?: () => void }).gc;
      gc?.();
      gc?.();
      const u = process.memoryUsage();
      send({
        type: 'memory',
        rss: u.rss,
        heapUsed: u.heapUsed,
        external: u.external,
        unauthenticated: bastion.unauthenticated(),
        sessions: bastion.activeSessions(),
      });
    } else if (m.type === 'stop') {
      void bastion
        .stop()
        .then(() => tmp.cleanup())
        .finally(() => process.exit(0));
    }
  });
  process.on('disconnect', () => {
    void bastion.stop().finally(() => process.exit(0));
  });
  send({ type: 'ready', port: addresses.ssh.port, userCaFile: userCa.file });
}

main().catch((err: unknown) => {
  send({ type: 'crash', error: `startup: ${err instanceof Error ? err.stack : String(err)}` });
  process.exit(71);
});
