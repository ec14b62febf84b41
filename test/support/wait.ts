const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Tests wait on asynchronous effects by polling, and a timeout names what never happened. */
export async function waitUntil(
  what: string,
  check: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
  everyMs = 25,
): Promise<void> {
  await waitForValue(what, async () => (await check()) || undefined, timeoutMs, everyMs);
}

/** Returns what it waited for, so a test need not read it again after the wait (a race). */
export async function waitForValue<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
  everyMs = 25,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}
