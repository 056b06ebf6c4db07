// When to refresh, as pure functions so the arithmetic can be unit-tested without clocks.
//
// Consumers refresh on their own schedule (botocore: advisory at 15 min left, blocking at 10;
// Java: up to 60 min early), so what we hand out should keep a comfortable margin. We refresh
// at half the remaining lifetime, and earlier when that would leave less than `minRemainingMs`
// — unless the lifetime is too short to honour that margin without refreshing almost at once
// (then half the lifetime is the sensible compromise: 15 min sessions refresh at 7.5 min,
// 60 s test sessions at ~30 s).

export interface RefreshDelayInput {
  /** how long the credentials are still valid, measured when they arrived */
  remainingMs: number;
  /** the margin handed-out credentials should keep (--refresh-min-remaining) */
  minRemainingMs: number;
  /** a number in [0, 1) (Math.random) that spreads refreshes across many sidecars */
  random: number;
}

/** Never refresh sooner than this after a success, whatever the server says. */
export const MIN_REFRESH_DELAY_MS = 1_000;
/** Jitter only ever moves a refresh earlier, by up to this fraction, so margins still hold. */
export const JITTER_FRACTION = 0.1;

export function refreshDelay({ remainingMs, minRemainingMs, random }: RefreshDelayInput): number {
  const half = remainingMs / 2;
  let target = half;
  if (remainingMs - half < minRemainingMs) {
    const keepMargin = remainingMs - minRemainingMs;
    // Honour the margin only if that does not mean refreshing in the first quarter of the lifetime.
    if (keepMargin >= remainingMs / 4) target = keepMargin;
  }
  const jittered = target * (1 - JITTER_FRACTION * random);
  return Math.max(MIN_REFRESH_DELAY_MS, Math.round(jittered));
}
