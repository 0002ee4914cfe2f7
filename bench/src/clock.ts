// One clock for every process of a run: CLOCK_MONOTONIC (process.hrtime) is the same counter
// in all processes on a machine, so a time stamped by a sender in one worker and read by a
// recipient in another gives an end-to-end latency without clock sync.

/** Now, in microseconds on the machine-wide monotonic clock. */
export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Polls a counter until it reaches `target`; gives up when it has not moved for `stallMs`
 * (whatever has not arrived by then is lost, not late) or after `maxMs`. Resolves with
 * whether the target was reached.
 */
export async function waitForCount(
  count: () => Promise<number>,
  target: number,
  stallMs: number,
  maxMs: number,
  everyMs = 50,
): Promise<boolean> {
  const deadline = Date.now() + maxMs;
  let last = -1;
  let movedAt = Date.now();
  for (;;) {
    const now = await count();
    if (now >= target) return true;
    if (now !== last) {
      last = now;
      movedAt = Date.now();
    }
    if (Date.now() - movedAt > stallMs || Date.now() > deadline) return false;
    await sleep(everyMs);
  }
}
