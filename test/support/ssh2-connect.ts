import ssh2 from 'ssh2';

/** An ssh2 client connected and authenticated to 127.0.0.1:`port`; rejects on its first error. */
export function connectSsh2(port: number, config: ssh2.ConnectConfig): Promise<ssh2.Client> {
  return new Promise((resolve, reject) => {
    const c = new ssh2.Client();
    c.on('error', reject);
    c.once('ready', () => resolve(c)).connect({ host: '127.0.0.1', port, ...config });
  });
}
