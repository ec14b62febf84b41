/**
 * Source-address pins (OpenSSH `source-address`: comma-separated addresses and CIDRs) and their
 * intersection. A certificate carries one `source-address` option, so when several matching
 * policy rules pin addresses, the pins are intersected: the client must satisfy every rule's
 * pin, as each rule granted its permissions only from its own addresses. CIDR blocks either nest
 * or are disjoint, so the intersection of two lists is the narrower block of each nesting pair.
 */
import net from 'node:net';

interface Block {
  readonly family: 'ipv4' | 'ipv6';
  /** The network address, as given (host bits are cleared by `contains`). */
  readonly address: string;
  readonly prefix: number;
  /** How it is written back: the entry as the policy wrote it. */
  readonly text: string;
}

function parseBlock(entry: string): Block | undefined {
  const [address = '', prefixText, extra] = entry.split('/');
  if (extra !== undefined) return undefined;
  const version = net.isIP(address);
  if (version === 0) return undefined;
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const max = version === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!/^\d{1,3}$/.test(prefixText ?? String(max)) || prefix > max) return undefined;
  return { family, address, prefix, text: entry };
}

/** The blocks of a pin; undefined when any entry is not an address or CIDR. */
export function parseSourceAddress(pin: string): Block[] | undefined {
  const blocks = pin.split(',').map((e) => parseBlock(e.trim()));
  return blocks.every((b): b is Block => b !== undefined) ? blocks : undefined;
}

/** Whether `inner` lies within `outer`. */
function contains(outer: Block, inner: Block): boolean {
  if (outer.family !== inner.family || inner.prefix < outer.prefix) return false;
  const list = new net.BlockList();
  list.addSubnet(outer.address, outer.prefix, outer.family);
  return list.check(inner.address, inner.family);
}

/**
 * The pin that admits exactly the addresses every pin admits; `''` when no address does.
 * Undefined pins (unpinned rules) restrict nothing; undefined when nothing is pinned.
 */
export function intersectSourceAddresses(pins: readonly string[]): string | undefined {
  let current: Block[] | undefined;
  for (const pin of pins) {
    const blocks = parseSourceAddress(pin);
    // The policy schema refuses such pins; an unreadable one admits nobody rather than anybody.
    if (!blocks) return '';
    if (!current) {
      current = blocks;
      continue;
    }
    const next: Block[] = [];
    for (const a of current) {
      for (const b of blocks) {
        if (contains(a, b)) next.push(b);
        else if (contains(b, a)) next.push(a);
      }
    }
    current = [...new Map(next.map((b) => [b.text, b])).values()];
  }
  return current?.map((b) => b.text).join(',');
}
