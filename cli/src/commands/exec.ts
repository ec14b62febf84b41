/**
 * `neetodeploy exec -a APP [--process web | --pod NAME] [-- CMD ARGS...]`: a fresh ed25519 key
 * pair in memory, a certificate for it from the keys-service, and an ssh2 connection to the
 * bastion presenting that certificate (ssh2 needs patches/ssh2 for that: see cli/src/ssh).
 * A shell on a pty when stdin is a terminal (a command: when stdout is one too), else pipes (stdin streamed then
 * closed, stdout and stderr apart). Resolves with the remote exit code.
 */
import net from 'node:net';
import { constants as osConstants } from 'node:os';
import { ContractError, encodeSshUser } from '@neetodeploy/contract';
import { encodePublicKeyText, generatePrivateKey } from '@neetodeploy/sshcert';
import ssh2 from 'ssh2';
import type { ClientChannel, PseudoTtyOptions, PublicKeyAuthMethod } from 'ssh2';
import { withAppHint } from '../app-errors.js';
import type { Deps, CommandResult } from '../deps.js';
import { CliError, UsageError } from '../errors.js';
import { checkHostKey, parseKnownHosts } from '../known-hosts.js';
import { certificateKey } from '../ssh/index.js';

export interface ExecOptions {
  readonly app: string;
  readonly process?: string;
  readonly pod?: string;
  readonly command: readonly string[];
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

function signalExitCode(signal: string): number {
  const name = `SIG${signal.replace(/^SIG/, '')}` as keyof typeof osConstants.signals;
  const num = osConstants.signals[name] as number | undefined;
  return 128 + (num ?? 1);
}

export async function runExec(options: ExecOptions, deps: Deps): CommandResult {
  const { io } = deps;
  if (options.process !== undefined && options.pod !== undefined) {
    throw new UsageError('give --process or --pod, not both');
  }
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
  try {
    await ready;
    // From here a broken connection shows as the channel closing without an exit status.
    conn.on('error', () => undefined);
    const command = options.command.join(' ');
    // A command whose output is redirected (`exec -- cat f > f`) must not get a pty: it would
    // merge stderr and turn \n into \r\n. A shell gets one whenever the user types into it.
    const usePty = command === '' ? io.stdinIsTTY : io.stdinIsTTY && io.stdoutIsTTY;
    const size = io.terminalSize() ?? { cols: 80, rows: 24 };
    const pty: PseudoTtyOptions = { term: io.term, cols: size.cols, rows: size.rows };
    const channel = await new Promise<ClientChannel>((resolve, reject) => {
      const done = (err: Error | undefined, ch: ClientChannel): void => {
        if (err) reject(new CliError(`the bastion refused the session: ${err.message}`));
        else resolve(ch);
      };
      if (command === '') {
        if (usePty) conn.shell(pty, done);
        else conn.shell(false, done);
      } else if (usePty) {
        conn.exec(command, { pty }, done);
      } else {
        conn.exec(command, done);
      }
    });
    return await pumpChannel(channel, usePty, deps);
  } finally {
    conn.end();
  }
}

/** Connects the channel to the terminal or pipes; restores the terminal on every path. */
function pumpChannel(channel: ClientChannel, usePty: boolean, deps: Deps): Promise<number> {
  const { io } = deps;
  return new Promise<number>((resolve, reject) => {
    let exitCode: number | undefined;
    let cleanedUp = false;
    const offResize = usePty
      ? io.onResize(() => {
          const s = io.terminalSize();
          if (s) channel.setWindow(s.rows, s.cols, 0, 0);
        })
      : () => undefined;
    // In raw mode Ctrl-C reaches the remote as a byte; without a pty, forward it as a signal,
    // and let a second Ctrl-C give up on a console that ignores it.
    let interrupts = 0;
    const offInterrupt = io.onInterrupt(() => {
      interrupts += 1;
      if (interrupts === 1) channel.signal('INT');
      else {
        exitCode ??= 130;
        channel.close();
      }
    });
    const onStdinData = (chunk: Buffer): void => {
      if (!channel.write(chunk)) {
        io.stdin.pause();
        channel.once('drain', () => io.stdin.resume());
      }
    };
    const onStdinEnd = (): void => {
      channel.end();
    };
    const cleanup = (): void => {
      if (cleanedUp) return;
      cleanedUp = true;
      offResize();
      offInterrupt();
      io.stdin.off('data', onStdinData);
      io.stdin.off('end', onStdinEnd);
      io.stdin.pause();
      if (usePty) io.setRawMode(false);
    };

    if (usePty) io.setRawMode(true);
    io.stdin.on('data', onStdinData);
    io.stdin.once('end', onStdinEnd);
    io.stdin.resume();

    channel.pipe(io.stdout, { end: false });
    channel.stderr.pipe(io.stderr, { end: false });
    channel.once('exit', (code: number | null, signal?: string) => {
      if (typeof code === 'number') exitCode = code;
      else if (signal) exitCode = signalExitCode(signal);
    });
    channel.once('close', () => {
      cleanup();
      channel.unpipe(io.stdout);
      channel.stderr.unpipe(io.stderr);
      if (exitCode === undefined) {
        reject(new CliError('the connection to the console closed without an exit status'));
        return;
      }
      // Only after what we wrote to stdout is flushed.
      io.stdout.write('', () => resolve(exitCode ?? 1));
    });
    channel.once('error', (err: Error) => {
      cleanup();
      reject(new CliError(`console session failed: ${err.message}`));
    });
  });
}
