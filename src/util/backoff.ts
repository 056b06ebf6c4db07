// Retry delays, in one place so every retry loop draws from the same two curves:
// - backoffDelay, "equal jitter" (never shorter than half the step): credential refreshes and
//   whole-file upload retries, where waiting too little only repeats a failure;
// - backoffMs, "full jitter": per-request retries, where spreading many clients matters most.

export interface BackoffInput {
  /** 1 for the first failure in a row */
  failures: number;
  /** --refresh-max-backoff */
  maxMs: number;
  random: number;
  /** first retry delay */
  baseMs?: number;
}

/**
 * Exponential backoff with "equal jitter": 1 s, 2 s, 4 s ... capped at maxMs, each drawn from
 * [half, full] of the step so many sidecars retrying a shared outage do not move in lockstep.
 */
export function backoffDelay({ failures, maxMs, random, baseMs = 1_000 }: BackoffInput): number {
  const step = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
  return Math.round(step / 2 + (step / 2) * random);
}

/** Full-jitter exponential backoff: 0..min(cap, base·2^attempt). */
export function backoffMs(attempt: number, baseMs = 250, capMs = 10_000): number {
  return Math.random() * Math.min(capMs, baseMs * 2 ** attempt);
}
