/**
 * `neetodeploy port-forward -a APP [--process TYPE | --pod NAME] [LOCAL:]REMOTE...`: listens on
 * 127.0.0.1:LOCAL and carries each connection to `localhost:REMOTE` inside a running process of
 * the app, as a `direct-tcpip` channel of one SSH connection to the bastion (many connections
 * at once, each with backpressure and half-close). The process defaults to `web`, as Heroku's
 * `ps:forward` does. Ctrl-C stops it (exit 0).
 */
import net from 'node:net';
import {
  parseCertificateText,
  encodePublicKeyText,
  generatePrivateKey,
} from '@neetodeploy/sshcert';
import type { Processes } from '@neetodeploy/contract';
import type ssh2 from 'ssh2';
import { withAppHint } from '../app-errors.js';
import type { CommandResult, Deps } from '../deps.js';
import { CliError, UsageError } from '../errors.js';
import { write } from '../io.js';
import { connectToBastion } from '../ssh/connect.js';
import { startSpinner, stderrPaint } from '../terminal.js';
import type { Spinner } from '../terminal.js';
import { bastionUsername } from './exec.js';

export interface PortForwardOptions {
  readonly app: string;
  readonly process?: string;
  readonly pod?: string;
  /** `[LOCAL:]REMOTE` specs. */
  readonly ports: readonly string[];
}

export interface PortPair {
  /** 0: any free port. */
  readonly local: number;
  readonly remote: number;
}

/** A local connection that arrived before the SSH connection was ready. */
interface Pending {
  readonly socket: net.Socket;
  readonly remote: number;
}

/** The process a forward goes to when neither `--process` nor `--pod` is given. */
export const DEFAULT_PROCESS = 'web';

function notASpec(spec: string): UsageError {
  return new UsageError(
    `${JSON.stringify(spec)} is not [LOCAL:]REMOTE: ports are 1-65535 (LOCAL may be 0 for any free port)`,
  );
}

function portNumber(text: string, spec: string, allowZero: boolean): number {
  const n = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(n) || n > 65535 || n < (allowZero ? 0 : 1)) throw notASpec(spec);
  return n;
}

/** `8080` → 8080:8080, `15432:5432`, `0:5432`; a UsageError for anything else. */
export function parsePortSpecs(specs: readonly string[]): PortPair[] {
  if (specs.length === 0) throw new UsageError('give at least one port: [LOCAL:]REMOTE, e.g. 8080');
  const pairs = specs.map((spec) => {
    const parts = spec.split(':');
    if (parts.length > 2) throw notASpec(spec);
    const remote = portNumber(parts.at(-1) ?? '', spec, false);
    const local = parts.length === 2 ? portNumber(parts[0] ?? '', spec, true) : remote;
    return { local, remote };
  });
  const seen = new Set<number>();
  for (const { local } of pairs) {
    if (local !== 0 && seen.has(local)) {
      throw new UsageError(`local port ${local} is given twice: give each its own LOCAL:REMOTE`);
    }
    seen.add(local);
  }
  return pairs;
}

/** Listens on 127.0.0.1:`port`; a CliError naming the port when it is taken. */
function listen(port: number, onConnection: (socket: net.Socket) => void): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, onConnection);
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        reject(
          new CliError(
            `local port ${port} is already in use: stop what listens there, or pick another local port (LOCAL:REMOTE, e.g. ${port === 65535 ? 0 : port + 1}:REMOTE; 0 picks a free one)`,
          ),
        );
      } else if (err.code === 'EACCES') {
        reject(new CliError(`not allowed to listen on local port ${port}: pick one above 1023`));
      } else {
        reject(new CliError(`cannot listen on 127.0.0.1:${port}: ${err.message}`));
      }
    });
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function closeAll(servers: readonly net.Server[]): void {
  for (const s of servers) s.close();
}

/**
 * One local connection as one `direct-tcpip` channel: bytes both ways with backpressure (pipe),
 * EOF passed on each way, a reset on either side resets the other.
 */
function carry(
  conn: ssh2.Client,
  socket: net.Socket,
  remote: number,
  onRefused: (message: string) => void,
): void {
  socket.on('error', () => undefined);
  const srcPort = socket.remotePort ?? 0;
  conn.forwardOut('127.0.0.1', srcPort, 'localhost', remote, (err, channel) => {
    if (err) {
      onRefused(err.message.replace(/^\(SSH\) Channel open failure: /, ''));
      socket.destroy();
      return;
    }
    channel.on('error', () => undefined);
    let clientEnded = false;
    socket.once('end', () => (clientEnded = true));
    socket.once('close', (hadError) => {
      if (hadError || !clientEnded) channel.close();
    });
    channel.once('close', () => socket.destroy());
    socket.pipe(channel);
    channel.pipe(socket);
    socket.resume();
  });
}

export async function runPortForward(options: PortForwardOptions, deps: Deps): CommandResult {
  const { io } = deps;
  if (options.process !== undefined && options.pod !== undefined) {
    throw new UsageError('give --process or --pod, not both');
  }
  const pairs = parsePortSpecs(options.ports);
  const target =
    options.pod !== undefined
      ? { app: options.app, pod: options.pod }
      : { app: options.app, process: options.process ?? DEFAULT_PROCESS };
  const username = bastionUsername(target);
  let where = `${options.app} ${options.pod ?? target.process}`;
  let conn: ssh2.Client | undefined;
  let spinner: Spinner | undefined;
  const pending: Pending[] = [];
  const servers: net.Server[] = [];
  try {
    // Ports first: a taken port is reported before a certificate is asked for.
    for (const pair of pairs) {
      servers.push(
        await listen(pair.local, (socket) => {
          if (conn) carry(conn, socket, pair.remote, refusedLine(pair.remote));
          else pending.push({ socket, remote: pair.remote });
        }),
      );
    }
    spinner = startSpinner(io, `connecting to ${where}...`);
    const { client } = await deps.api.session();
    const key = generatePrivateKey('ssh-ed25519');
    const issued = await withAppHint(client, options.app, () =>
      client.issueCertificate({
        app: options.app,
        publicKey: encodePublicKeyText(key.publicKey, 'neetodeploy-port-forward'),
        ...('process' in target ? { process: target.process } : {}),
      }),
    );
    if (!('permit-port-forwarding' in parseCertificateText(issued.certificate).extensions)) {
      throw new CliError(
        `you may not forward ports of ${options.app}: ask an admin for the port-forward permission on ${options.app}`,
      );
    }
    if (target.process !== undefined) {
      where = await instanceName(client, options.app, target.process, where);
    }
    conn = await connectToBastion({
      host: issued.bastion.host,
      port: issued.bastion.port,
      knownHosts: issued.bastion.known_hosts,
      username,
      app: options.app,
      key,
      certificate: issued.certificate,
    });
    spinner.stop();
  } catch (err) {
    spinner?.stop();
    closeAll(servers);
    for (const p of pending) p.socket.destroy();
    conn?.end();
    throw err;
  }
  function refusedLine(remote: number): (message: string) => void {
    return (message) => {
      void write(io.stderr, `neetodeploy: ${where}:${remote} refused the connection: ${message}\n`);
    };
  }
  return serve(conn, servers, pairs, { pending, where, refusedLine }, deps);
}

/**
 * `demo web.1` when the process type has exactly one running instance (the one every forward
 * reaches); with several, the platform picks per connection, so the type is all that is true.
 */
async function instanceName(
  client: { processes(app: string): Promise<Processes> },
  app: string,
  type: string,
  fallback: string,
): Promise<string> {
  try {
    const running = (await client.processes(app)).processes.filter(
      (p) => p.type === type && p.state === 'running',
    );
    return running.length === 1 ? `${app} ${running[0]!.name}` : fallback;
  } catch {
    // An older keys-service without the processes route: the type alone.
    return fallback;
  }
}

/** Prints the forwards, then serves until Ctrl-C (resolves 0) or the connection is lost. */
async function serve(
  conn: ssh2.Client,
  servers: readonly net.Server[],
  pairs: readonly PortPair[],
  ctx: {
    pending: Pending[];
    where: string;
    refusedLine: (remote: number) => (message: string) => void;
  },
  deps: Deps,
): CommandResult {
  const { io } = deps;
  for (const [i, pair] of pairs.entries()) {
    const address = servers[i]?.address();
    const local = typeof address === 'object' && address ? address.port : pair.local;
    await write(io.stdout, `Forwarding 127.0.0.1:${local} -> ${ctx.where}:${pair.remote}\n`);
  }
  await write(io.stderr, `${stderrPaint(io).hint('Press Ctrl-C to stop.')}\n`);
  // Connections that arrived while the SSH connection was being set up.
  for (const { socket, remote } of ctx.pending.splice(0)) {
    carry(conn, socket, remote, ctx.refusedLine(remote));
  }
  return new Promise<number>((resolve, reject) => {
    let stopping = false;
    const stop = (): void => {
      stopping = true;
      offInterrupt();
      closeAll(servers);
      conn.end();
      resolve(0);
    };
    const offInterrupt = io.onInterrupt(stop);
    conn.on('error', () => undefined);
    conn.once('close', () => {
      if (stopping) return;
      offInterrupt();
      closeAll(servers);
      reject(
        new CliError(
          'the connection to the bastion was lost: run the command again (your certificate is renewed each time)',
        ),
      );
    });
  });
}
