/**
 * Which loopback address a local instance listens on for a TCP port. Local instances share the
 * host's loopback with everything else on it (the bastion, the keys-service, other apps), so
 * "localhost:PORT inside web.1" must mean a socket web.1's own processes listen on, as it would
 * in a pod's network namespace; a port someone else holds is refused like a closed one.
 *
 * Linux only (`/proc/net/tcp{,6}` and `/proc/<pid>/fd`); elsewhere {@link listenAddress} answers
 * `undefined` and the caller falls back to the instance's `PORT`.
 */
import fsp from 'node:fs/promises';
import os from 'node:os';

/** `LISTEN` in the `st` column of /proc/net/tcp. */
const TCP_LISTEN = '0A';

interface Listener {
  readonly inode: string;
  /** Where a client on this host reaches it: a loopback address, or undefined (not on loopback). */
  readonly connectTo: string | undefined;
}

/** `0100007F` (host byte order) → `127.0.0.1`. */
function ipv4FromHex(hex: string): string {
  const bytes = Buffer.from(hex, 'hex');
  if (os.endianness() === 'LE') bytes.reverse();
  return [...bytes].join('.');
}

/** 32 hex digits, four host-order 32-bit words → 16 bytes in network order. */
function ipv6Bytes(hex: string): Buffer {
  const out = Buffer.alloc(16);
  for (let w = 0; w < 4; w++) {
    const word = Buffer.from(hex.slice(w * 8, w * 8 + 8), 'hex');
    if (os.endianness() === 'LE') word.reverse();
    word.copy(out, w * 4);
  }
  return out;
}

function loopbackFor(addressHex: string): string | undefined {
  if (addressHex.length === 8) {
    const ip = ipv4FromHex(addressHex);
    if (ip === '0.0.0.0') return '127.0.0.1';
    return ip.startsWith('127.') ? ip : undefined;
  }
  const b = ipv6Bytes(addressHex);
  const zeros = (from: number, to: number) => b.subarray(from, to).every((x) => x === 0);
  if (zeros(0, 16)) return '::1';
  if (zeros(0, 15) && b[15] === 1) return '::1';
  // IPv4-mapped (::ffff:a.b.c.d)
  if (zeros(0, 10) && b[10] === 0xff && b[11] === 0xff) {
    const ip = [...b.subarray(12)].join('.');
    if (ip === '0.0.0.0') return '127.0.0.1';
    return ip.startsWith('127.') ? ip : undefined;
  }
  return undefined;
}

/** Listening sockets on `port`, from one /proc/net table; undefined when it cannot be read. */
async function listenersIn(file: string, port: number): Promise<Listener[] | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  const found: Listener[] = [];
  for (const line of text.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    const [address, localPort] = (cols[1] ?? '').split(':');
    if (cols[3] !== TCP_LISTEN || localPort !== portHex || !address || !cols[9]) continue;
    found.push({ inode: cols[9], connectTo: loopbackFor(address) });
  }
  return found;
}

/** Pids of the processes in process group `pgid`. */
async function groupMembers(pgid: number): Promise<number[]> {
  const entries = await fsp.readdir('/proc').catch(() => [] as string[]);
  const members: number[] = [];
  await Promise.all(
    entries
      .filter((e) => /^\d+$/.test(e))
      .map(async (e) => {
        const stat = await fsp.readFile(`/proc/${e}/stat`, 'utf8').catch(() => '');
        // `pid (comm) state ppid pgrp ...`; comm may hold spaces and parentheses.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(fields[2]) === pgid) members.push(Number(e));
      }),
  );
  return members;
}

/** Socket inodes the process holds open. */
async function socketInodes(pid: number): Promise<Set<string>> {
  const inodes = new Set<string>();
  const fds = await fsp.readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  await Promise.all(
    fds.map(async (fd) => {
      const link = await fsp.readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
      const m = /^socket:\[(\d+)\]$/.exec(link);
      if (m?.[1]) inodes.add(m[1]);
    }),
  );
  return inodes;
}

/**
 * The loopback address to connect to for `port` of the instance whose process group is `pgid`:
 * `null` when none of its processes listens there on loopback (or on every address), `undefined`
 * when this host cannot tell (no /proc).
 */
export async function listenAddress(
  pgid: number,
  port: number,
): Promise<string | null | undefined> {
  const [v4, v6] = await Promise.all([
    listenersIn('/proc/net/tcp', port),
    listenersIn('/proc/net/tcp6', port),
  ]);
  if (v4 === undefined && v6 === undefined) return undefined;
  const candidates = [...(v4 ?? []), ...(v6 ?? [])].filter((l) => l.connectTo !== undefined);
  if (candidates.length === 0) return null;
  const heldBy = async (pid: number) => {
    const held = await socketInodes(pid);
    return candidates.find((l) => held.has(l.inode))?.connectTo;
  };
  // Usually the instance's main process listens itself; only else look through its group.
  const direct = await heldBy(pgid);
  if (direct !== undefined) return direct;
  for (const pid of await groupMembers(pgid)) {
    if (pid === pgid) continue;
    const found = await heldBy(pid);
    if (found !== undefined) return found;
  }
  return null;
}
