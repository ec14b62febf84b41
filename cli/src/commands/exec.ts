/**
 * `neetodeploy exec -a APP [--process web | --pod NAME] [-- CMD ARGS...]`: an ssh2 connection
 * to the bastion presenting the app's certificate (cached, or issued now: exec/connect-app.ts;
 * ssh2 needs patches/ssh2 for certificates: see cli/src/ssh).
 * A shell on a pty when stdin is a terminal (a command: when stdout is one too; `-t`/`-T`
 * force it), else pipes (stdin streamed then closed, stdout and stderr apart). Resolves with the
 * remote exit code, 128+N for a signal, 255 when the connection was lost (as `ssh`).
 */
// The contract's modules one by one: its index also loads the API schemas, hence zod (~150 ms).
import { ContractError } from '@neetodeploy/contract/errors';
import { encodeSshUser } from '@neetodeploy/contract/user-name';
import type ssh2 from 'ssh2';
import type { PseudoTtyOptions } from 'ssh2';
import type { Deps, CommandResult } from '../deps.js';
import { UsageError } from '../errors.js';
import { remoteCommand } from '../exec/command-line.js';
import { connectToApp } from '../exec/connect-app.js';
import { openSession } from '../exec/open-channel.js';
import { pumpSession } from '../exec/pump.js';
import { startSpinner } from '../terminal.js';

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
  const username = bastionUsername(options);
  // A console pod takes seconds to start on a cluster: say what we wait for.
  const spinner = startSpinner(io, `starting a console on ${options.app}...`);
  let conn: ssh2.Client | undefined;
  try {
    conn = await connectToApp(
      {
        app: options.app,
        username,
        ...(options.process !== undefined ? { process: options.process } : {}),
        ...(options.readyTimeoutMs !== undefined ? { readyTimeoutMs: options.readyTimeoutMs } : {}),
      },
      deps,
    );
    // From here a broken connection shows as the channel closing without an exit status.
    let connectionError: Error | undefined;
    conn.on('error', (err: Error) => (connectionError ??= err));
    const command = remoteCommand(options.command);
    const usePty = wantsPty(options, io, command === undefined);
    const size = io.terminalSize() ?? { cols: 80, rows: 24 };
    const pty: PseudoTtyOptions | undefined = usePty
      ? { term: io.term, cols: size.cols, rows: size.rows }
      : undefined;
    const session = await openSession(conn, { command, pty, env });
    spinner.stop();
    return await pumpSession(
      session,
      { usePty: usePty && io.stdinIsTTY, connectionError: () => connectionError },
      deps,
    );
  } finally {
    spinner.stop();
    conn?.end();
  }
}
