/**
 * The PROXY protocol front of the listener: which peers may speak for a client, and reading the
 * header they send before SSH starts. A connection waiting for its header holds no admission
 * slot yet (its client is unknown until the header arrives, and the balancer's own address
 * must not use up the per-source limits of every client behind it); instead the waiting
 * connections are bounded on their own, by a deadline each and a cap on how many wait at once.
 */
import type { Socket } from 'node:net';
import { matchSourceAddress } from '@neetodeploy/sshcert';
import type { ProxyProtocolConfig } from '../config.js';
import { parseProxyHeader } from '../proxy-protocol/index.js';
import type { ProxyHeader, ProxyHeaderProblem } from '../proxy-protocol/index.js';

export type HeaderOutcome =
  | { readonly ok: true; readonly header: ProxyHeader }
  | {
      readonly ok: false;
      readonly reason: 'proxy-header-invalid' | 'proxy-header-timeout' | 'closed';
      readonly problem?: ProxyHeaderProblem;
    };

export interface ProxyFront {
  /** Whether `ip` (a balancer) may, and must, send a header. */
  trusts(ip: string): boolean;
  /**
   * Called for a socket from a trusted peer before anything else reads it. Resolves once the
   * header was read (the bytes after it are put back for SSH, the socket is paused), it proved
   * invalid, its deadline passed, or the socket closed. Never rejects; the caller destroys the
   * socket on failure. When `maxWaiting` sockets already wait, the oldest is destroyed first.
   */
  readHeader(socket: Socket): Promise<HeaderOutcome>;
  /** Sockets still waiting for their header. */
  readonly waiting: number;
  /** Destroys every waiting socket (drain, stop). */
  closeAll(): void;
}

export function createProxyFront(
  config: ProxyProtocolConfig,
  maxWaiting: number,
  onEvicted: () => void,
): ProxyFront {
  const list = config.trustedSources.join(',');
  // The list is validated with the config; matching it once here fails at start, not per socket.
  if (list) matchSourceAddress(list, '0.0.0.0');
  const waiting = new Set<Socket>();

  function read(socket: Socket): Promise<HeaderOutcome> {
    return new Promise((resolve) => {
      let buffered: Buffer = Buffer.alloc(0);
      const finish = (outcome: HeaderOutcome): void => {
        clearTimeout(timer);
        waiting.delete(socket);
        socket.off('data', onData);
        socket.off('close', onClose);
        resolve(outcome);
      };
      const timer = setTimeout(
        () => finish({ ok: false, reason: 'proxy-header-timeout' }),
        config.headerTimeoutMs,
      );
      const onClose = (): void => finish({ ok: false, reason: 'closed' });
      // Buffered bytes stay bounded: the parser gives up past the longest header it accepts.
      const onData = (chunk: Buffer): void => {
        buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
        const result = parseProxyHeader(buffered);
        if (result.status === 'incomplete') return;
        socket.pause();
        if (result.status === 'invalid') {
          return finish({ ok: false, reason: 'proxy-header-invalid', problem: result.problem });
        }
        // What the client sent after the header, in the same segment, is the start of its SSH.
        if (buffered.length > result.length) socket.unshift(buffered.subarray(result.length));
        finish({ ok: true, header: result.header });
      };
      socket.on('data', onData);
      socket.once('close', onClose);
    });
  }

  return {
    trusts: (ip) => list.length > 0 && matchSourceAddress(list, ip),
    get waiting() {
      return waiting.size;
    },
    readHeader(socket) {
      if (waiting.size >= maxWaiting) {
        const oldest = waiting.values().next().value;
        if (oldest) {
          waiting.delete(oldest);
          oldest.destroy();
          onEvicted();
        }
      }
      waiting.add(socket);
      return read(socket);
    },
    closeAll() {
      for (const socket of waiting) socket.destroy();
    },
  };
}
