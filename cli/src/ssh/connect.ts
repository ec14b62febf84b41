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
import { CliError } from '../errors.js';
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

/** Resolves once authenticated; rejects with a CliError that says what to do. */
export function connectToBastion(target: BastionTarget): Promise<ssh2.Client> {
  const { host, port, app } = target;
  const trusted = parseKnownHosts(target.knownHosts);
  let hostProblem: string | undefined;
  const conn = new ssh2.Client();
  const ready = new Promise<ssh2.Client>((resolve, reject) => {
    conn.once('ready', () => resolve(conn));
    conn.once('error', (err: Error & { level?: string }) => {
      if (hostProblem !== undefined) {
        reject(new CliError(`cannot trust the bastion ${host}:${port}: ${hostProblem}`));
      } else if (err.level === 'client-authentication') {
        reject(
          new CliError(
            `the bastion refused the certificate for ${app}: check \`neetodeploy apps\`, or run \`neetodeploy login\` again if you were revoked`,
          ),
        );
      } else {
        reject(new CliError(`cannot connect to the bastion ${host}:${port}: ${err.message}`));
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
