/**
 * Opening the session channel so that no event of it can be missed. ssh2 calls back on the
 * exec/shell request's success while parsing a read from the socket; when that same read also
 * holds the command's output, exit-status, EOF and close (a fast command, a busy client), ssh2
 * emits `exit` before an `await` after the callback could attach a listener, and the status is
 * lost. So the exit listener is attached inside the callback, synchronously.
 */
import type { Client, ClientChannel, PseudoTtyOptions } from 'ssh2';
import { BastionConnectionError, CliError } from '../errors.js';
import type { RemoteExit } from './exit-code.js';

export interface SessionRequest {
  /** Undefined: an interactive shell. */
  readonly command: string | undefined;
  readonly pty: PseudoTtyOptions | undefined;
  /** Sent as SSH `env` requests; the bastion passes the names its allow-list accepts. */
  readonly env: Readonly<Record<string, string>>;
}

export interface OpenSession {
  readonly channel: ClientChannel;
  /** The remote exit, once the server sent exit-status or exit-signal. */
  exit(): RemoteExit | undefined;
}

export function openSession(conn: Client, request: SessionRequest): Promise<OpenSession> {
  return new Promise<OpenSession>((resolve, reject) => {
    // ssh2 emits the connection's close before it fails the pending request with a vaguer error.
    const onClose = (): void =>
      reject(
        new BastionConnectionError(
          'the connection to the bastion was lost before the session opened',
        ),
      );
    conn.once('close', onClose);
    const done = (err: Error | undefined, channel: ClientChannel): void => {
      conn.off('close', onClose);
      if (err) {
        reject(new CliError(`the bastion refused the session: ${err.message}`));
        return;
      }
      let exit: RemoteExit | undefined;
      channel.once('exit', (code: number | null, signal?: string) => {
        if (typeof code === 'number') exit = { code };
        else if (signal) exit = { signal };
      });
      resolve({ channel, exit: () => exit });
    };
    const env = { ...request.env };
    const { command, pty } = request;
    if (command === undefined) {
      conn.shell(pty ?? false, { env }, done);
    } else {
      conn.exec(command, pty ? { pty, env } : { env }, done);
    }
  });
}
