/**
 * `pods/portforward` as a kubelet serves it over a websocket (the `v4.channel.k8s.io` channel
 * protocol, or the unnamed binary one older clients use): for the i-th port of `?ports=`, data on
 * channel 2i and errors on channel 2i+1, each channel's first frame carrying the port as a
 * little-endian uint16. Each port is one TCP connection inside the pod, dialled as soon as the
 * websocket opens; a failed dial is reported as text on the error channel, then the socket
 * closes. The protocol has no half-close: the connection ends when the pod's side ends (after a
 * linger, as containerd waits for the other direction) or when the websocket closes.
 *
 * A fake pod listens on nothing: tests map `pod, containerPort` to a real 127.0.0.1 listener.
 */
import { createHash } from 'node:crypto';
import net from 'node:net';
import type { RawData, WebSocket } from 'ws';
import { badRequest } from './status.js';

/** The subprotocols a kubelet's websocket port-forward accepts (binary; base64 is not served). */
export const PORT_FORWARD_PROTOCOLS = ['v4.channel.k8s.io', ''] as const;

/** Unsent websocket bytes above which reads from the pod's socket pause, and below which they resume. */
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;
/** containerd gives the other direction this long once one direction of a forward ended. */
const LINGER_MS = 1000;

/** Where a fake pod's container port really listens. */
export interface PortTarget {
  readonly host: string;
  readonly port: number;
}

/** What a test can see of an open forward. */
export interface PortForwardInfo {
  readonly namespace: string;
  readonly pod: string;
  readonly ports: readonly number[];
  readonly protocol: string;
  readonly user: string;
}

interface ForwardSession {
  readonly info: PortForwardInfo;
  readonly close: () => void;
}

/** `?ports=` as the kubelet parses it: repeated or comma-separated, each 1-65535. */
export function parsePorts(values: readonly string[]): number[] {
  const parts = values.flatMap((v) => v.split(',')).map((s) => s.trim());
  if (parts.length === 0 || parts.every((p) => p === '')) {
    throw badRequest('query parameter "port" is required');
  }
  return parts.map((p) => {
    const n = Number(p);
    if (!/^[0-9]+$/.test(p) || n > 65535) {
      throw badRequest(
        `unable to parse "${p}" as a port: strconv.ParseUint: parsing "${p}": invalid syntax`,
      );
    }
    if (n === 0) throw badRequest(`port "${p}" must be > 0`);
    return n;
  });
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

function portPrefix(port: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(port, 0);
  return b;
}

/** The pods' port maps and the forwards running over them. */
export class PortForwardManager {
  private readonly ports = new Map<string, Map<number, PortTarget>>();
  private readonly sessions = new Set<ForwardSession>();

  /** Makes `containerPort` of the pod reach `target` (a real listener); `undefined` unmaps it. */
  setPodPort(namespace: string, pod: string, containerPort: number, target?: PortTarget): void {
    const key = `${namespace}/${pod}`;
    const map = this.ports.get(key) ?? new Map<number, PortTarget>();
    if (target) map.set(containerPort, target);
    else map.delete(containerPort);
    if (map.size > 0) this.ports.set(key, map);
    else this.ports.delete(key);
  }

  /** The pod went away or stopped: its forwards end, and its ports listen no more. */
  killPod(namespace: string, pod: string, forget: boolean): void {
    for (const s of this.sessions) {
      if (s.info.namespace === namespace && s.info.pod === pod) s.close();
    }
    if (forget) this.ports.delete(`${namespace}/${pod}`);
  }

  active(): number {
    return this.sessions.size;
  }

  list(): PortForwardInfo[] {
    return [...this.sessions].map((s) => structuredClone(s.info));
  }

  closeAll(): void {
    for (const s of this.sessions) s.close();
  }

  /** Serves one upgraded websocket: one connection per requested port. */
  start(ws: WebSocket, info: PortForwardInfo, sandboxOf: string): void {
    const sandbox = createHash('sha256').update(sandboxOf).digest('hex');
    const sockets: net.Socket[] = [];
    let open = info.ports.length;
    const session: ForwardSession = {
      info,
      close: () => {
        for (const s of sockets) s.destroy();
        if (ws.readyState === ws.OPEN) ws.close(1000);
      },
    };
    this.sessions.add(session);
    const portDone = (): void => {
      open -= 1;
      if (open === 0) session.close();
    };
    ws.on('close', () => {
      this.sessions.delete(session);
      for (const s of sockets) s.destroy();
    });
    ws.on('error', () => undefined);
    const send = (channel: number, data: Buffer): void => {
      if (ws.readyState === ws.OPEN) ws.send(Buffer.concat([Buffer.from([channel]), data]));
    };
    info.ports.forEach((port, i) => {
      send(2 * i, portPrefix(port));
      send(2 * i + 1, portPrefix(port));
    });
    info.ports.forEach((port, i) => {
      const target = this.ports.get(`${info.namespace}/${info.pod}`)?.get(port);
      const fail = (why: string): void => {
        send(
          2 * i + 1,
          Buffer.from(
            `error forwarding port ${port} to pod ${sandbox}, uid : failed to execute portforward in network namespace "/var/run/netns/cni-${sandbox.slice(0, 8)}": ${why}`,
          ),
        );
        portDone();
      };
      const refused = `failed to connect to localhost:${port} inside namespace "${sandbox}", IPv4: dial tcp4 127.0.0.1:${port}: connect: connection refused IPv6 dial tcp6 [::1]:${port}: connect: connection refused `;
      if (!target) {
        fail(refused);
        return;
      }
      const socket = net.connect({ host: target.host, port: target.port });
      sockets.push(socket);
      this.pipe(ws, socket, 2 * i, send, fail, refused, portDone);
    });
  }

  /** Both directions of one port, with backpressure each way. */
  private pipe(
    ws: WebSocket,
    socket: net.Socket,
    channel: number,
    send: (channel: number, data: Buffer) => void,
    fail: (why: string) => void,
    refused: string,
    done: () => void,
  ): void {
    let connected = false;
    let finished = false;
    const finish = (): void => {
      if (finished) return;
      finished = true;
      done();
    };
    let drainPoll: NodeJS.Timeout | undefined;
    socket.on('connect', () => {
      connected = true;
    });
    socket.on('data', (chunk: Buffer) => {
      send(channel, chunk);
      if (drainPoll || ws.bufferedAmount <= HIGH_WATER) return;
      socket.pause();
      drainPoll = setInterval(() => {
        if (ws.readyState === ws.OPEN && ws.bufferedAmount > LOW_WATER) return;
        clearInterval(drainPoll);
        drainPoll = undefined;
        socket.resume();
      }, 5);
    });
    socket.on('end', () => {
      // The pod's side is done; the client's direction cannot end on its own (no half-close
      // in this protocol), so the kubelet gives up on it after a linger.
      setTimeout(finish, LINGER_MS).unref();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (finished) return;
      finished = true;
      if (!connected) fail(refused);
      else {
        fail(
          `read tcp4 127.0.0.1->127.0.0.1:${socket.remotePort ?? 0}: ${err.code === 'ECONNRESET' ? 'read: connection reset by peer' : err.message}`,
        );
      }
    });
    socket.on('close', () => {
      clearInterval(drainPoll);
    });
    ws.on('message', (data: RawData) => {
      const buf = toBuffer(data);
      if (buf.length === 0 || buf[0] !== channel) return;
      const payload = buf.subarray(1);
      if (payload.length === 0 || socket.destroyed) return;
      if (!socket.write(payload)) {
        ws.pause();
        socket.once('drain', () => ws.resume());
      }
    });
  }
}
