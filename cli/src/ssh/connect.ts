/**
 * One authenticated ssh2 connection to the bastion: the issued certificate presented for its
 * in-memory key, the bastion's host key checked against the known_hosts line the keys-service
 * returned (no trust on first use). `exec` opens its session this way; `port-forward` opens
 * many `direct-tcpip` channels over one such connection.
 */
import net from 'node:net';
import ssh2 from 'ssh2';
import type { PublicKeyAuthMethod } from 'ssh2';
import type { PrivateKey } from '@neetodeploy/sshcert';
import { BastionConnectionError } from '../errors.js';
import { checkHostKey, parseKnownHosts } from '../known-hosts.js';
import { certificateKey } from './certificate-key.js';

export interface BastionTarget {
  readonly host: string;
  readonly port: number;
  /** The `known_hosts` line(s) the keys-service sent with the certificate. */
  readonly knownHosts: string;
  /** The SSH user name naming the target (`demo:web`). */
  readonly username: string;
  /** For error messages. */
  readonly app: string;
  readonly key: PrivateKey;
  /** The `*-cert.pub` line for `key`. */
  readonly certificate: string;
  /** Handshake and authentication must be done within this (default 20 s). */
  readonly readyTimeoutMs?: number;
}

/**
 * A connection the bastion closed or reset before login completed is tried this many times in
 * all. Under load the bastion, like sshd's MaxStartups, drops some unauthenticated connections;
 * nothing has run yet, so trying again is safe. The waits double from about 250 ms, with jitter,
 * so that many clients dropped together (a script's parallel runs) come back spread out.
 */
const ATTEMPTS = 5;

function retryDelayMs(attempt: number): number {
  const base = 250 * 2 ** (attempt - 1);
  return Math.round(base * (0.5 + Math.random()));
}

/** Socket errors that mean the bastion dropped the connection (not that nothing listens). */
const DROPPED = new Set(['ECONNRESET', 'EPIPE']);

/** The bastion closed the connection before login, with no error that says why. */
class ClosedBeforeLogin extends Error {}

/** Resolves once authenticated; rejects with a BastionConnectionError that says what to do. */
export async function connectToBastion(target: BastionTarget): Promise<ssh2.Client> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await connectOnce(target);
    } catch (err) {
      if (!(err instanceof ClosedBeforeLogin)) throw err;
      if (attempt >= ATTEMPTS) {
        throw new BastionConnectionError(
          `the bastion ${target.host}:${target.port} closed the connection before login ${ATTEMPTS} times (it may be overloaded): try again in a moment`,
          { stage: 'overloaded' },
        );
      }
      await new Promise((resolve) => setTimeout(resolve, retryDelayMs(attempt)));
    }
  }
}

function connectOnce(target: BastionTarget): Promise<ssh2.Client> {
  const { host, port, app } = target;
  const trusted = parseKnownHosts(target.knownHosts);
  let hostProblem: string | undefined;
  const conn = new ssh2.Client();
  const ready = new Promise<ssh2.Client>((resolve, reject) => {
    conn.once('ready', () => resolve(conn));
    // Without an error first, a close before 'ready' would leave this promise pending forever
    // (and node would exit 13 with "unsettled top-level await").
    conn.once('close', () => reject(new ClosedBeforeLogin()));
    conn.once('error', (err: Error & { level?: string; code?: string }) => {
      if (hostProblem !== undefined) {
        reject(
          new BastionConnectionError(`cannot trust the bastion ${host}:${port}: ${hostProblem}`, {
            stage: 'untrusted',
          }),
        );
      } else if (err.level === 'client-authentication') {
        reject(
          new BastionConnectionError(
            `the bastion refused the certificate for ${app}: check \`neetodeploy apps\`, or run \`neetodeploy login\` again if you were revoked`,
            { stage: 'refused' },
          ),
        );
      } else if (
        err.message === 'Connection lost before handshake' ||
        (err.level === 'client-socket' && DROPPED.has(err.code ?? ''))
      ) {
        reject(new ClosedBeforeLogin());
      } else {
        reject(
          new BastionConnectionError(
            `cannot connect to the bastion ${host}:${port}: ${err.message}`,
            { stage: 'unreachable' },
          ),
        );
      }
    });
  });
  const auth: PublicKeyAuthMethod = {
    type: 'publickey',
    username: target.username,
    key: certificateKey(target.key, target.certificate),
  };
  const sock = net.connect({ host, port });
  // Nagle would hold back keystrokes and short replies (ssh2 never disables it).
  sock.setNoDelay(true);
  conn.connect({
    sock,
    host,
    port,
    username: target.username,
    authHandler: [auth],
    hostVerifier: (hostKey: Buffer) => {
      const check = checkHostKey(hostKey, trusted, { host, port, now: new Date() });
      if (!check.ok) hostProblem = check.reason;
      return check.ok;
    },
    readyTimeout: target.readyTimeoutMs ?? 20_000,
    keepaliveInterval: 15_000,
  });
  return ready;
}
