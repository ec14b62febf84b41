/**
 * Scripted hostile clients for the attack tests: ssh2 clients that ask for what an attacker
 * would (plain zlib, huge user names, pipelined authentication requests, forged signatures),
 * banner-only sockets, and a log sink that measures what the bastion wrote.
 */
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { Writable } from 'node:stream';
import ssh2 from 'ssh2';
import type { ConnectConfig, ParsedKey, PublicKeyAuthMethod } from 'ssh2';
import { certificateKey } from '../../cli/src/ssh/index.js';

/** Collects the bastion's log lines and says how big they got. */
export class LogSink extends Writable {
  bytes = 0;
  longestLine = 0;
  readonly lines: string[] = [];

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: () => void): void {
    this.bytes += chunk.length;
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line === '') continue;
      this.longestLine = Math.max(this.longestLine, line.length);
      if (this.lines.length < 10_000) this.lines.push(line);
    }
    cb();
  }

  events(name: string): Record<string, unknown>[] {
    return this.lines
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((o) => o.event === name);
  }
}

export interface Outcome {
  /** 'ready' when authenticated; 'error' or 'closed' otherwise. */
  readonly result: 'ready' | 'error' | 'closed';
  readonly error?: string;
  readonly ms: number;
  readonly negotiated?: { cs: { compress: string }; sc: { compress: string } };
}

/** Connects an ssh2 client and resolves once it is ready, failed or closed (then ends it). */
export function connect(
  config: ConnectConfig,
  options: { timeoutMs?: number; onClient?: (c: ssh2.Client) => void } = {},
): Promise<Outcome> {
  return new Promise((resolve) => {
    const started = Date.now();
    const client = new ssh2.Client();
    options.onClient?.(client);
    let negotiated: Outcome['negotiated'];
    let done = false;
    const finish = (result: Outcome['result'], error?: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ result, error, ms: Date.now() - started, negotiated });
      client.end();
    };
    const timer = setTimeout(() => finish('error', 'timeout'), options.timeoutMs ?? 10_000);
    client.on('handshake', (n) => (negotiated = n as unknown as Outcome['negotiated']));
    client.on('ready', () => finish('ready'));
    client.on('error', (err) => finish('error', err.message));
    client.on('close', () => finish('closed'));
    client.connect({ host: '127.0.0.1', readyTimeout: 20_000, ...config });
  });
}

/** An ssh2 key that presents `certFile` and signs with `keyFile` (what the CLI does). */
export async function certKey(keyFile: string, certFile: string): Promise<ParsedKey> {
  return certificateKey(await readFile(keyFile, 'utf8'), await readFile(certFile, 'utf8'));
}

/** An ssh2 client config that logs in as `username` with a certificate. */
export function withCert(port: number, username: string, key: ParsedKey): ConnectConfig {
  const method: PublicKeyAuthMethod = { type: 'publickey', username, key };
  return { port, username, authHandler: [method] };
}

/**
 * `count` sockets from `sources` loopback addresses (127.0.0.2...) that send an SSH banner and
 * then wait; each reconnects when the bastion closes it, as a flooder keeps up the pressure.
 * Returns a function that stops them all.
 */
export function bannerFlood(port: number, count: number, sources: number): () => void {
  let stopped = false;
  const sockets = new Set<net.Socket>();
  const open = (i: number): void => {
    if (stopped) return;
    const s = net.connect({
      host: '127.0.0.1',
      port,
      localAddress: `127.0.0.${2 + (i % sources)}`,
    });
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('connect', () => s.write('SSH-2.0-x\r\n'));
    s.resume();
    s.on('close', () => {
      sockets.delete(s);
      setTimeout(() => open(i), 50).unref();
    });
  };
  for (let i = 0; i < count; i++) open(i);
  return () => {
    stopped = true;
    for (const s of sockets) s.destroy();
  };
}

/**
 * A compression-bomb client: offers plain `zlib` (and `none`, so the handshake can finish) and
 * asks to log in with a user name of `size` bytes.
 */
export function bomb(port: number, size: number, localAddress?: string): Promise<Outcome> {
  return connect({
    port,
    localAddress,
    username: 'x'.repeat(size),
    authHandler: ['none'],
    algorithms: { compress: ['zlib', 'none'] },
  });
}
