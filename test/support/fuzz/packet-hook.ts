/**
 * Taps an ssh2 client's packets in plaintext: after key exchange every packet is encrypted and
 * MAC'd, so mutating bytes on the socket only tests the MAC check. ssh2 hands each outgoing
 * packet (length, padding length, payload, padding) to its current cipher's `encrypt`, and a
 * new cipher object replaces the old one at every NEWKEYS; wrapping `encrypt` of each cipher the
 * protocol installs lets a payload be changed, dropped or injected before encryption, so the
 * bastion decrypts a valid packet whose content is hostile. Incoming payloads after key
 * exchange go through the protocol's `_onPayload`, which the decipher reads when it is built.
 * Test-only: nothing in the product reaches into ssh2 this way.
 */
import type { Client } from 'ssh2';

interface Cipher {
  allocPacket(payloadLength: number): Buffer;
  encrypt(packet: Buffer): void;
}

interface ProtocolInternals {
  _cipher: Cipher | undefined;
  _onPayload: (payload: Buffer) => unknown;
  _kex?: { sessionID?: Buffer };
}

/** What to do with one outgoing payload: a replacement, `null` to drop it, or leave it. */
export type SendHook = (payload: Buffer, index: number) => Buffer | null | undefined;

export interface PacketTap {
  onSend: SendHook | undefined;
  onReceive: ((payload: Buffer) => void) | undefined;
  /** Sends a payload as the next packet, encrypted with the current keys. */
  inject(payload: Buffer): void;
  /** The session id once the first key exchange is done (for re-signing userauth requests). */
  sessionId(): Buffer | undefined;
  /** Outgoing packets seen so far. */
  readonly sent: number;
}

function payloadOf(packet: Buffer): Buffer {
  const length = packet.readUInt32BE(0);
  const padding = packet[4]!;
  return packet.subarray(5, 4 + length - padding);
}

/** Installs the tap; call right after `client.connect()` (which creates the protocol). */
export function tapClient(client: Client): PacketTap {
  const proto = (client as unknown as { _protocol: ProtocolInternals })._protocol;
  let sent = 0;
  const tap: PacketTap = {
    onSend: undefined,
    onReceive: undefined,
    inject(payload) {
      const cipher = current;
      if (!cipher) return;
      const packet = cipher.allocPacket(payload.length);
      payload.copy(packet, 5);
      originals.get(cipher)!.call(cipher, packet);
    },
    sessionId: () => proto._kex?.sessionID,
    get sent() {
      return sent;
    },
  };
  const originals = new WeakMap<Cipher, (packet: Buffer) => void>();
  const wrap = (cipher: Cipher | undefined): void => {
    if (!cipher || originals.has(cipher)) return;
    // eslint-disable-next-line @typescript-eslint/unbound-method
    const encrypt = cipher.encrypt;
    originals.set(cipher, encrypt);
    cipher.encrypt = (packet: Buffer) => {
      const index = sent++;
      const replacement = tap.onSend?.(payloadOf(packet), index);
      if (replacement === null) return;
      if (replacement === undefined) return encrypt.call(cipher, packet);
      const out = cipher.allocPacket(replacement.length);
      replacement.copy(out, 5);
      encrypt.call(cipher, out);
    };
  };
  let current = proto._cipher;
  wrap(current);
  Object.defineProperty(proto, '_cipher', {
    configurable: true,
    enumerable: true,
    get: () => current,
    set: (c: Cipher | undefined) => {
      current = c;
      wrap(c);
    },
  });
  const onPayload = proto._onPayload;
  proto._onPayload = (payload: Buffer) => {
    tap.onReceive?.(payload);
    return onPayload(payload);
  };
  return tap;
}
