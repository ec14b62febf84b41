/**
 * `neetodeploy exec -a APP [--process web | --pod NAME] [-- CMD ARGS...]`: a fresh ed25519 key
 * pair in memory, a certificate for it from the keys-service, and an ssh2 connection to the
 * bastion presenting that certificate (ssh2 needs patches/ssh2 for that: see cli/src/ssh).
 * A shell on a pty when stdin is a terminal (a command: when stdout is one too; `-t`/`-T`
 * force it), else pipes (stdin streamed then closed, stdout and stderr apart). Resolves with the
 * remote exit code, 128+N for a signal, 255 when the connection was lost (as `ssh`).
 */
import net from 'node:net';
import { ContractError, encodeSshUser } from '@neetodeploy/contract';
import { encodePublicKeyText, generatePrivateKey } from '@neetodeploy/sshcert';
import ssh2 from 'ssh2';
import type { PseudoTtyOptions, PublicKeyAuthMethod } from 'ssh2';
import { withAppHint } from '../app-errors.js';
import type { Deps, CommandResult } from '../deps.js';
import { CliError, UsageError } from '../errors.js';
import { checkHostKey, parseKnownHosts } from '../known-hosts.js';
import { certificateKey } from '../ssh/index.js';
import { remoteCommand } from '../exec/command-line.js';
import { openSession } from '../exec/open-channel.js';
import { pumpSession } from '../exec/pump.js';

export interface ExecOptions {
  readonly app: string;
  readonly process?: string;
  readonly pod?: string;
  /** After `--`: one argument is a shell command line, two or more an argument vector. */
  readonly command: readonly string[];
  /** `-e KEY=VALUE`, sent as SSH env requests. */
  readonly env?: readonly string[];
  /** `-t` (true) / `-T` (false) force a pty on or off; undefined: decided by the terminals. */
  readonly tty?: boolean;
  /** Connection timeout (handshake and authentication). */
  readonly readyTimeoutMs?: number;
}

/**
 * The SSH user name that selects the target at the bastion (the contract's grammar); a name the
 * bastion would not read back the same way is a UsageError.
 */
export function bastionUsername(options: Pick<ExecOptions, 'app' | 'process' | 'pod'>): string {
  try {
    return encodeSshUser(options);
  } catch (err) {
    if (err instanceof ContractError) throw new UsageError(err.message);
    throw err;
  }
}

/** `-e KEY=VALUE` pairs; a UsageError for anything else. */
export function parseEnvPairs(pairs: readonly string[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = eq > 0 ? pair.slice(0, eq) : '';
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      throw new UsageError(`-e takes KEY=VALUE, not ${JSON.stringify(pair)}`);
    }
    env[key] = pair.slice(eq + 1);
  }
  return env;
}

/**
 * Whether to ask for a pty: `-t`/`-T` decide; otherwise a shell gets one when stdin is a
 * terminal, and a command only when stdout is one too (`exec -- cat f > f` must not get one: it
 * would merge stderr and turn \n into \r\n).
 */
function wantsPty(options: ExecOptions, io: Deps['io'], isShell: boolean): boolean {
  if (options.tty !== undefined) return options.tty;
  return isShell ? io.stdinIsTTY : io.stdinIsTTY && io.stdoutIsTTY;
}

export async function runExec(options: ExecOptions, deps: Deps): CommandResult {
  const { io } = deps;
  if (options.process !== undefined && options.pod !== undefined) {
    throw new UsageError('give --process or --pod, not both');
  }
  const env = parseEnvPairs(options.env ?? []);
  const { client } = await deps.api.session();
  const key = generatePrivateKey('ssh-ed25519');
  const issued = await withAppHint(client, options.app, () =>
    client.issueCertificate({
      app: options.app,
      publicKey: encodePublicKeyText(key.publicKey, 'neetodeploy-exec'),
      ...(options.process !== undefined ? { process: options.process } : {}),
    }),
  );
  const username = bastionUsername(options);
  const { host, port } = issued.bastion;
  const trusted = parseKnownHosts(issued.bastion.known_hosts);
  let hostProblem: string | undefined;

  const conn = new ssh2.Client();
  const ready = new Promise<void>((resolve, reject) => {
    conn.once('ready', resolve);
    conn.once('error', (err: Error & { level?: string }) => {
      if (hostProblem !== undefined) {
        reject(new CliError(`cannot trust the bastion ${host}:${port}: ${hostProblem}`));
      } else if (err.level === 'client-authentication') {
        reject(
          new CliError(
            `the bastion refused the certificate for ${options.app}: check \`neetodeploy apps\`, or run \`neetodeploy login\` again if you were revoked`,
          ),
        );
      } else {
        reject(new CliError(`cannot connect to the bastion ${host}:${port}: ${err.message}`));
      }
    });
  });
  const auth: PublicKeyAuthMethod = {
    type: 'publickey',
    username,
    key: certificateKey(key, issued.certificate),
  };
  const sock = net.connect({ host, port });
  // Nagle would hold back keystrokes and short replies (ssh2 never disables it).
  sock.setNoDelay(true);
  conn.connect({
    sock,
    host,
    port,
    username,
    authHandler: [auth],
    hostVerifier: (hostKey: Buffer) => {
      const check = checkHostKey(hostKey, trusted, { host, port, now: new Date() });
      if (!check.ok) hostProblem = check.reason;
      return check.ok;
    },
    readyTimeout: options.readyTimeoutMs ?? 20_000,
    keepaliveInterval: 15_000,
  });
  let connectionError: Error | undefined;
  try {
    await ready;
    // From here a broken connection shows as the channel closing without an exit status.
    conn.on('error', (err: Error) => (connectionError ??= err));
    const command = remoteCommand(options.command);
    const usePty = wantsPty(options, io, command === undefined);
    const size = io.terminalSize() ?? { cols: 80, rows: 24 };
    const pty: PseudoTtyOptions | undefined = usePty
      ? { term: io.term, cols: size.cols, rows: size.rows }
      : undefined;
    const session = await openSession(conn, { command, pty, env });
    return await pumpSession(
      session,
      { usePty: usePty && io.stdinIsTTY, connectionError: () => connectionError },
      deps,
    );
  } finally {
    conn.end();
  }
}
