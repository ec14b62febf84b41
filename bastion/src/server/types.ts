import type { AddressInfo } from 'node:net';
import type { HostKeyMaterial } from '../host-keys.js';
import type { Transport } from '../connection/index.js';

/**
 * The SSH listener: accepts TCP, admits or refuses each socket, starts SSH on it and hands the
 * connection to the registry. It knows no authentication, channel or session.
 */
export interface SshServer {
  /** Called once by `start()`: listens with these host keys; resolves with the bound address. */
  listen(hostKeys: readonly HostKeyMaterial[]): Promise<AddressInfo>;
  /** Starts SSH on a transport that did not come through the listener (a virtual host). */
  serve(transport: Transport): void;
  /** True from the start of a drain or stop: new sockets and channels are refused. */
  readonly draining: boolean;
  /**
   * Stops accepting, hangs up unauthenticated connections, tells every session on stderr that
   * the bastion is restarting and waits up to `timeoutMs` for them to end. Resolves (never
   * rejects) when they ended or the time ran out; the caller then stops. Idempotent.
   */
  drain(timeoutMs: number): Promise<void>;
  /** Closes every session and connection, then the listener. Idempotent; never rejects. */
  stop(): Promise<void>;
}
