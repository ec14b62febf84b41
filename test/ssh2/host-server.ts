/** A throwaway ssh2 Server for the host certificate tests: accepts any client, answers `exec`. */
import type { AddressInfo } from 'node:net';
import ssh2 from 'ssh2';
import type { PrivateKeys } from 'ssh2';

declare module 'ssh2' {
  interface EncryptedPrivateKey {
    /** OpenSSH host certificate for `key` (`*-cert.pub` line or blob); needs patches/ssh2. */
    certificate?: Buffer | string;
  }
}

export interface TestHostServer {
  readonly port: number;
  /** Host key algorithms negotiated by each connection, in order. */
  readonly negotiated: string[];
  close(): Promise<void>;
}

export async function startHostServer(hostKeys: PrivateKeys): Promise<TestHostServer> {
  const negotiated: string[] = [];
  const connections = new Set<ssh2.Connection>();
  const server = new ssh2.Server({ hostKeys }, (conn) => {
    connections.add(conn);
    conn.on('close', () => connections.delete(conn));
    conn.on('handshake', (n) => negotiated.push(n.serverHostKey));
    conn.on('authentication', (ctx) => ctx.accept());
    conn.on('error', () => undefined);
    conn.on('ready', () => {
      conn.on('session', (accept) => {
        accept().on('exec', (acceptExec, _reject, info) => {
          const ch = acceptExec();
          ch.write(`ran ${info.command}\n`);
          // exit-status must go out before the channel closes.
          ch.exit(0);
          ch.end();
        });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    port,
    negotiated,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // close() waits for open connections.
        for (const c of connections) c.end();
      }),
  };
}
