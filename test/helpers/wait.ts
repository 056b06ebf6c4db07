// Polling instead of fixed sleeps: tests stay correct on a loaded 2-core machine.

/**
 * Poll `check` until it returns true; a string (or a thrown error) is the reason it is not there
 * yet, quoted when the wait times out.
 */
export async function until(
  what: string,
  check: () => boolean | string | Promise<boolean | string>,
  timeoutMs = 120_000,
  everyMs = 100,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last: boolean | string = false;
  for (;;) {
    last = await Promise.resolve().then(check).catch((err: unknown) => `error: ${(err as Error).message}`);
    if (last === true) return;
    if (Date.now() > end) break;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${typeof last === 'string' ? `: ${last}` : ''}`);
}
