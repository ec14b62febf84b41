/**
 * The longest SSH user name looked at. Ours are `APP[:PROCESS|:pod=NAME]` (well under 256
 * bytes); anything longer is an attack on whatever parses, verifies or logs it, and is refused
 * before any of that.
 */
export const MAX_USERNAME_BYTES = 256;

/** Whether `username` is short enough to be looked at. */
export function usernameFits(username: string): boolean {
  // UTF-8 is at most 3 bytes per UTF-16 unit: short strings skip the byte count.
  if (username.length * 3 <= MAX_USERNAME_BYTES) return true;
  return username.length <= MAX_USERNAME_BYTES && Buffer.byteLength(username) <= MAX_USERNAME_BYTES;
}
