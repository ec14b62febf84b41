/**
 * The one place the CLI reaches past ssh2's public API. ssh2's `ClientChannel.signal()` sends
 * nothing once our side sent EOF (it checks that the channel is still writable), yet RFC 4254
 * allows channel requests after EOF and OpenSSH sends them: without this, Ctrl-C is lost when
 * the command's stdin is already at EOF (`exec -- sleep 100 < /dev/null`).
 */
import type { ClientChannel } from 'ssh2';

interface ChannelInternals {
  readonly outgoing?: { readonly id?: number; readonly state?: string };
  readonly _client?: { readonly _protocol?: { signal(id: number, name: string): void } };
}

/** Sends a `signal` request if the channel is not closing; false when it could not. */
export function sendSignal(channel: ClientChannel, name: string): boolean {
  const ch = channel as unknown as ChannelInternals;
  const out = ch.outgoing;
  const protocol = ch._client?._protocol;
  if (!out || out.id === undefined || !protocol) return false;
  if (out.state !== 'open' && out.state !== 'eof') return false;
  protocol.signal(out.id, name);
  return true;
}
