/**
 * Port forwarding throughput: 1 GiB through stock `ssh -L` via the bastion (`direct-tcpip` to
 * `localhost:PORT` of a running process on the local platform) against the same through
 * OpenSSH's `sshd` (`AllowTcpForwarding yes`, which connects to the same port itself), A B A B
 * in one run. Both directions: download (the port sends) and upload (the port receives).
 *
 * Run (as root, sshd needs it): `node --conditions=neetodeploy-source --import tsx
 * bench/port-forward.ts [--quick] [--reps N]`.
 *
 * The client side is the same for both: the bench process reads or writes the forwarded local
 * port, `ssh -L -N` (stock OpenSSH) carries it. The port is served by one app process (Node,
 * 1 MiB writes with backpressure). "Server CPU per GiB" is user+system time of the bastion
 * process, or of the sshd listener with its reaped per-connection children.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { createLocalPlatform } from '@neetodeploy/platform';
import { freePort, startSshd, type SshdHandle } from '../test/support/openssh.js';
import { sourceBinArgs } from '../test/support/paths.js';
import { makeKey, signCert, tempDir } from '../test/support/ssh-client.js';

const QUICK = process.argv.includes('--quick');
const onlyAt = process.argv.indexOf('--only');
/** `--only download` or `--only upload`. */
const ONLY = onlyAt >= 0 ? process.argv[onlyAt + 1] : undefined;
const repsAt = process.argv.indexOf('--reps');
const REPS = repsAt >= 0 ? Number(process.argv[repsAt + 1]) : QUICK ? 1 : 3;
const GIB = 1024 * 1024 * 1024;
const SIZE = QUICK ? GIB / 4 : GIB;
const BASTION_NAME = 'bastion.bench';
const APP = 'bulk';

/** The app's web process: `D <n>\n` sends n bytes, `U\n` counts bytes until EOF, `P\n` pongs. */
const BULK_SERVER = `
import net from 'node:net';
const chunk = Buffer.alloc(1 << 20, 120);
net.createServer({ allowHalfOpen: true }, (s) => {
  s.on('error', () => {});
  let head = Buffer.alloc(0);
  const onHead = (d) => {
    head = Buffer.concat([head, d]);
    const nl = head.indexOf(10);
    if (nl < 0) return;
    s.off('data', onHead);
    const [cmd, arg] = head.subarray(0, nl).toString().split(' ');
    const rest = head.subarray(nl + 1);
    if (cmd === 'P') return s.end('pong');
    if (cmd === 'D') {
      let left = Number(arg);
      const pump = () => {
        while (left > 0) {
          const n = Math.min(left, chunk.length);
          left -= n;
          if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) return s.once('drain', pump);
        }
        s.end();
      };
      return pump();
    }
    let count = rest.length;
    s.on('data', (d) => (count += d.length));
    s.on('end', () => s.end(String(count)));
  };
  s.on('data', onHead);
}).listen(Number(process.env.PORT), '127.0.0.1');
`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const fmt = (n: number, d = 1) => n.toFixed(d);

/** user+system CPU seconds of a process and its reaped children. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0) / 100;
}

async function startBastion(
  dir: string,
  userCaPub: string,
  hostKey: string,
  hostCert: string,
): Promise<{ child: ChildProcess; port: number; stop(): Promise<void> }> {
  const file = path.join(dir, 'bastion.yaml');
  await writeFile(
    file,
    [
      'listen: { host: 127.0.0.1, port: 0 }',
      `name: ${BASTION_NAME}`,
      'hostKeys:',
      `  - { privateKeyFile: ${hostKey}, certificateFile: ${hostCert} }`,
      `trust: { static: { userCaKeyFiles: [${userCaPub}] } }`,
      `platform: { type: local, dataDir: ${path.join(dir, 'data')} }`,
      'log: { level: warn }',
    ].join('\n'),
  );
  // e.g. BASTION_NODE_ARGS='--cpu-prof --cpu-prof-dir=/tmp/prof' to profile the bastion.
  const nodeArgs = process.env.BASTION_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  const child = spawn(
    process.execPath,
    [...nodeArgs, ...sourceBinArgs('bastion'), '--config', file],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    const onData = (c: Buffer) => {
      out += c.toString();
      const line = out.split('\n').find((l) => l.startsWith('{"ssh"'));
      if (line) {
        child.stdout.off('data', onData);
        child.stdout.resume();
        resolve((JSON.parse(line) as { ssh: { port: number } }).ssh.port);
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => reject(new Error(`bastion exited ${code}`)));
  });
  return {
    child,
    port,
    stop: async () => {
      child.kill('SIGINT');
      await new Promise((r) => child.once('exit', r));
    },
  };
}

/** One request to the forwarded port; resolves with what came back. */
function request(port: number, line: string, upload = 0): Promise<{ bytes: number; text: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    let bytes = 0;
    let text = '';
    s.on('data', (d: Buffer) => {
      bytes += d.length;
      if (text.length < 64) text += d.toString('latin1');
    });
    s.once('end', () => resolve({ bytes, text }));
    s.once('error', reject);
    s.once('connect', () => {
      s.write(`${line}\n`);
      if (upload === 0) return;
      const chunk = Buffer.alloc(1 << 20, 121);
      let left = upload;
      const pump = (): void => {
        while (left > 0) {
          const n = Math.min(left, chunk.length);
          left -= n;
          if (!s.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
            s.once('drain', pump);
            return;
          }
        }
        s.end();
      };
      pump();
    });
  });
}

/** `ssh -N -L` up and answering. */
async function tunnel(args: string[], local: number): Promise<() => Promise<void>> {
  const child = spawn('ssh', ['-N', '-o', 'ExitOnForwardFailure=yes', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const stop = async () => {
    child.kill('SIGTERM');
    await exited;
  };
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`ssh exited: ${stderr}`);
    const pong = await request(local, 'P').catch(() => undefined);
    if (pong?.text === 'pong') return stop;
    if (i > 200) {
      await stop();
      throw new Error(`tunnel not ready: ${stderr}`);
    }
    await sleep(50);
  }
}

interface Sample {
  readonly mibs: number;
  readonly cpuPerGib: number;
}

async function measure(
  args: string[],
  direction: 'download' | 'upload',
  serverPid: () => number,
): Promise<Sample> {
  const local = await freePort();
  const c0 = cpuSeconds(serverPid());
  const stop = await tunnel(['-L', `${local}:127.0.0.1:${appPort}`, ...args], local);
  const t0 = process.hrtime.bigint();
  const r =
    direction === 'download' ? await request(local, `D ${SIZE}`) : await request(local, 'U', SIZE);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  await stop();
  await sleep(300); // sshd reaps its per-connection process
  const got = direction === 'download' ? r.bytes : Number(r.text);
  if (got !== SIZE) throw new Error(`${direction}: ${got} bytes of ${SIZE}`);
  return {
    mibs: SIZE / 1024 / 1024 / seconds,
    cpuPerGib: (cpuSeconds(serverPid()) - c0) / (SIZE / GIB),
  };
}

let appPort = 0;
let interrupted = false;

async function main(): Promise<void> {
  const tmp = await tempDir('nd-bench-pf-');
  const dir = tmp.dir;
  let bastion: Awaited<ReturnType<typeof startBastion>> | undefined;
  let sshd: SshdHandle | undefined;
  let closeRunner: () => Promise<void> = () => Promise.resolve();
  try {
    const appDir = path.join(dir, 'data', 'apps', APP);
    await mkdir(appDir, { recursive: true });
    await writeFile(path.join(appDir, 'bulk.mjs'), BULK_SERVER);
    await writeFile(path.join(appDir, 'Procfile'), `web: exec ${process.execPath} bulk.mjs\n`);
    const [userCa, hostCa, hostKey, user] = await Promise.all([
      makeKey(dir, 'user_ca'),
      makeKey(dir, 'host_ca'),
      makeKey(dir, 'host_key'),
      makeKey(dir, 'id_bench'),
    ]);
    const hostCert = await signCert(hostCa, hostKey, {
      keyId: 'bench',
      principals: [BASTION_NAME, '*.neetodeploy'],
      host: true,
      validity: '-5m:+4h',
    });
    const cert = await signCert(userCa, user, {
      keyId: 'bench@example.com:pf1',
      principals: [APP],
      validity: '-5m:+4h',
      options: ['clear', 'permit-port-forwarding'],
    });
    bastion = await startBastion(dir, `${userCa.file}.pub`, hostKey.file, hostCert);
    // The bastion only reads the data dir; this runs the app, as `npm start` does.
    const platform = await createLocalPlatform(
      { dataDir: path.join(dir, 'data'), runProcesses: true, createDemoApp: false },
      { logger: pino({ level: 'silent' }) },
    );
    closeRunner = () => platform.close();
    for (let i = 0; appPort === 0 && i < 200; i++) {
      await sleep(50);
      try {
        const run = JSON.parse(
          readFileSync(path.join(dir, 'data', 'run', `${APP}.json`), 'utf8'),
        ) as {
          instances: { port: number; state: string }[];
        };
        appPort = run.instances.find((x) => x.state === 'running')?.port ?? 0;
      } catch {
        // not written yet
      }
    }
    if (appPort === 0) throw new Error('the bulk app did not start');
    sshd = await startSshd({
      trustedUserCAKeys: [userCa.publicKey],
      authorizedPrincipals: [APP],
      extraConfig: ['AllowTcpForwarding yes'],
    });
    const bastionKnown = path.join(dir, 'known_hosts_bastion');
    await writeFile(bastionKnown, `@cert-authority ${BASTION_NAME} ${hostCa.publicKey}\n`);
    const sshdKnown = path.join(dir, 'known_hosts_sshd');
    await writeFile(sshdKnown, `[127.0.0.1]:${sshd.port} ${sshd.hostKeyLine}\n`);
    const common = (known: string) => [
      ...['-F', '/dev/null', '-i', user.file, '-o', `CertificateFile=${cert}`],
      ...['-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-o', 'BatchMode=yes'],
      ...['-o', `UserKnownHostsFile=${known}`, '-o', 'StrictHostKeyChecking=yes'],
      ...['-o', 'KexAlgorithms=curve25519-sha256'],
    ];
    const cpuModel = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1];
    process.stdout.write(
      `machine: ${cpuModel ?? '?'}, ${os.cpus().length} cores, load ${os
        .loadavg()
        .map((l) => fmt(l, 2))
        .join(' ')}; ${SIZE / GIB} GiB per transfer, ${REPS} pair(s) each, A B A B\n`,
    );
    const sshdPid = () => Number(readFileSync(path.join(sshd!.dir, 'sshd.pid'), 'utf8').trim());
    for (const cipher of ['aes128-gcm@openssh.com', 'chacha20-poly1305@openssh.com']) {
      for (const direction of (['download', 'upload'] as const).filter(
        (d) => ONLY === undefined || ONLY === d,
      )) {
        const b: Sample[] = [];
        const s: Sample[] = [];
        for (let i = 0; i < REPS && !interrupted; i++) {
          // The bastion's user name names the target: APP:PROCESS.
          b.push(
            await measure(
              [
                ...common(bastionKnown),
                ...['-o', `Ciphers=${cipher}`, '-o', `HostKeyAlias=${BASTION_NAME}`],
                ...['-p', String(bastion.port), `${APP}:web@127.0.0.1`],
              ],
              direction,
              () => bastion!.child.pid!,
            ),
          );
          s.push(
            await measure(
              [
                ...common(sshdKnown),
                '-o',
                `Ciphers=${cipher}`,
                '-p',
                String(sshd.port),
                'root@127.0.0.1',
              ],
              direction,
              sshdPid,
            ),
          );
        }
        if (s.length === 0) continue;
        const ratios = s.map((x, i) => b[i]!.mibs / x.mibs);
        process.stdout.write(
          `${direction} ${cipher.split('@')[0]}: bastion ${b.map((x) => fmt(x.mibs)).join('/')} MiB/s (${fmt(median(b.map((x) => x.cpuPerGib)), 2)} s CPU/GiB), ` +
            `sshd ${s.map((x) => fmt(x.mibs)).join('/')} MiB/s (${fmt(median(s.map((x) => x.cpuPerGib)), 2)} s CPU/GiB), ` +
            `ratio per pair ${ratios.map((r) => fmt(r, 2)).join('/')}, median ${fmt(median(ratios), 2)}x\n`,
        );
      }
    }
  } finally {
    await bastion?.stop();
    await sshd?.stop();
    await closeRunner();
    await tmp.cleanup();
  }
}

// Ctrl-C or a timeout must not leave the bastion, sshd and the app running: the finally in
// main() stops them, so a signal only ends the wait.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    interrupted = true;
  });
}

await main();
