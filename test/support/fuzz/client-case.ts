/**
 * One fuzz case driven by a real ssh2 client: connect with the packet tap installed, wait for
 * authentication (or a refusal, a close, a deadline), run the post-auth script, and always end
 * the connection. The client's own errors are outcomes, not failures: only the bastion is judged.
 */
import ssh2 from 'ssh2';
import type { ConnectConfig, ParsedKey, PublicKeyAuthMethod } from 'ssh2';
import { tapClient, type PacketTap } from './packet-hook.js';

export type ClientResult = 'ready' | 'refused' | 'error' | 'closed' | 'timeout';

export interface ClientCase {
  readonly port: number;
  readonly config: Partial<ConnectConfig>;
  readonly timeoutMs: number;
  /** Installs hooks on the tap before the first byte is sent. */
  readonly setup?: (tap: PacketTap, client: ssh2.Client) => void;
  /** Runs once authenticated; the case ends when it settles or the deadline passes. */
  readonly afterReady?: (client: ssh2.Client, tap: PacketTap) => Promise<void>;
}

export interface ClientOutcome {
  readonly result: ClientResult;
  readonly error?: string;
}

function classify(message: string): ClientResult {
  return /authentication methods failed/i.test(message) ? 'refused' : 'error';
}

export function runClientCase(c: ClientCase): Promise<ClientOutcome> {
  return new Promise((resolve) => {
    const client = new ssh2.Client();
    let settled = false;
    let closed = false;
    const finish = (result: ClientResult, error?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const done = (): void => resolve(error === undefined ? { result } : { result, error });
      if (closed) return done();
      client.once('close', done);
      try {
        client.end();
      } catch {
        // already gone
      }
      setTimeout(() => {
        (client as unknown as { _sock?: { destroy(): void } })._sock?.destroy();
        setTimeout(done, 50);
      }, 1000).unref();
    };
    const timer = setTimeout(() => finish('timeout'), c.timeoutMs);
    client.on('error', (err) => finish(classify(err.message), err.message.slice(0, 200)));
    client.on('close', () => {
      closed = true;
      finish('closed');
    });
    client.on('ready', () => {
      if (!c.afterReady) return finish('ready');
      void c
        .afterReady(client, tapRef!)
        .catch(() => undefined)
        .finally(() => finish('ready'));
    });
    let tapRef: PacketTap | undefined;
    try {
      client.connect({
        host: '127.0.0.1',
        port: c.port,
        readyTimeout: c.timeoutMs,
        hostVerifier: () => true,
        ...c.config,
        algorithms: { compress: ['none'], ...c.config.algorithms },
      });
      tapRef = tapClient(client);
      c.setup?.(tapRef, client);
    } catch (err) {
      finish('error', String(err).slice(0, 200));
    }
  });
}

/** Waits `ms` (unref'd: never holds the process open). */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

/** A client config that logs in as `username` with `key` (a certificate key) and nothing else. */
export function publicKeyAuth(key: ParsedKey, username = 'demo'): Partial<ConnectConfig> {
  const method: PublicKeyAuthMethod = { type: 'publickey', username, key };
  return { username, authHandler: [method] };
}
