/**
 * A TCP relay in front of a server, so a test can drop connections through it without touching
 * either end: all at once (a laptop losing its network, a load balancer resetting), or the next
 * few right after the server's first bytes, as an overloaded SSH server does (sshd's
 * MaxStartups, the bastion's admission limits).
 */
import net from 'node:net';

export interface Relay {
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Destroys every relayed connection, both sides. */
  dropAll(): void;
  /**
   * The next `n` connections are closed (or reset) once the server's first bytes (an SSH
   * server's banner) have reached the client.
   */
  closeNext(n: number, how?: 'close' | 'reset'): void;
  close(): Promise<void>;
}

/** `listenPort` 0 (the default) picks a free port. */
export async function startRelay(targetPort: number, listenPort = 0): Promise<Relay> {
  const pairs = new Set<[net.Socket, net.Socket]>();
  let accepted = 0;
  let toClose = 0;
  let closeHow: 'close' | 'reset' = 'close';
  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort });
    const pair: [net.Socket, net.Socket] = [client, upstream];
    pairs.add(pair);
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    if (toClose > 0) {
      toClose--;
      const how = closeHow;
      upstream.once('data', (first: Buffer) => {
        upstream.removeListener('close', end);
        upstream.destroy();
        if (how === 'close') client.end(first);
        else client.write(first, () => setTimeout(() => client.resetAndDestroy(), 20));
      });
      return;
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(listenPort, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    get accepted() {
      return accepted;
    },
    dropAll() {
      for (const [a, b] of [...pairs]) {
        a.resetAndDestroy();
        b.resetAndDestroy();
      }
    },
    closeNext(n, how = 'close') {
      toClose = n;
      closeHow = how;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const [a, b] of pairs) {
          a.destroy();
          b.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
