import ssh2 from 'ssh2';
import type { Connection, PrivateKeys, ServerChannel } from 'ssh2';

/** An ssh2 client connected and authenticated to 127.0.0.1:`port`; rejects on its first error. */
export function connectSsh2(port: number, config: ssh2.ConnectConfig): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.on('error', reject);
    c.once('ready', () => resolve(c)).connect({ host: '127.0.0.1', port, ...config });
  });
}

/**
 * An ssh2 server (not yet listening) that lets any client in and hands each `exec` channel to
 * `onExec`, with the connection it came on.
 */
export function execServer(
  hostKeys: PrivateKeys,
  onExec: (ch: ServerChannel, conn: Connection) => void,
): ssh2.Server {
  return new ssh2.Server({ hostKeys }, (conn: Connection) => {
    conn.on('error', () => undefined);
    conn.on('authentication', (ctx) => ctx.accept());
    conn.on('session', (accept) => accept().on('exec', (acceptExec) => onExec(acceptExec(), conn)));
  });
}
