/**
 * A throwaway ssh2 Server for the key-exchange tests: accepts any client, answers `exec CMD`
 * with "ran CMD" and exit status N when CMD is `exit N`, and forwards `direct-tcpip` only to
 * itself (so `ssh -J` can hop through it to itself). Records the negotiated algorithms.
 */
import net, { type AddressInfo } from 'node:net';
import ssh2 from 'ssh2';

export interface Negotiated {
  readonly kex: string;
  readonly cs: { readonly cipher: string; readonly mac: string; readonly compress: string };
}

export interface KexTestServer {
  readonly port: number;
  readonly negotiated: Negotiated[];
  close(): Promise<void>;
}

export async function startKexServer(
  hostKey: Buffer,
  algorithms?: ssh2.Algorithms,
): Promise<KexTestServer> {
  const negotiated: Negotiated[] = [];
  const connections = new Set<ssh2.Connection>();
  let port = 0;
  const server = new ssh2.Server(
    { hostKeys: [hostKey], ...(algorithms ? { algorithms } : {}) },
    (conn) => {
      connections.add(conn);
      conn.on('close', () => connections.delete(conn));
      conn.on('handshake', (n) => negotiated.push(n));
      conn.on('authentication', (ctx) => ctx.accept());
      conn.on('error', () => undefined);
      conn.on('ready', () => {
        conn.on('tcpip', (accept, reject, info) => {
          if (info.destPort !== port) {
            reject();
            return;
          }
          const sock = net.connect(port, '127.0.0.1');
          sock.once('error', () => reject());
          sock.once('connect', () => {
            const ch = accept();
            sock.pipe(ch).pipe(sock);
          });
        });
        conn.on('session', (acceptSession) => {
          acceptSession().on('exec', (acceptExec, _reject, info) => {
            const ch = acceptExec();
            ch.write(`ran ${info.command}\n`);
            const m = /^exit (\d+)$/.exec(info.command);
            // exit-status must go out before the channel closes.
            ch.exit(m ? Number(m[1]) : 0);
            ch.end();
          });
        });
      });
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  return {
    port,
    negotiated,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const c of connections) c.end();
      }),
  };
}
