// The one backoff curve and the one sleep every retry loop uses (credential refreshes, S3
// requests, whole-file uploads). Two jitters, chosen per use by the caller's RetryPolicy:
// - "equal" (never shorter than half the step): credential refreshes and whole-file upload
//   retries, where waiting too little only repeats a failure;
// - "full" (anywhere from 0 to the step): per-request retries, where spreading many clients
//   matters most.

export interface BackoffInput {
  /** 1 for the first failure in a row */
  failures: number;
  /** longest step (e.g. --refresh-max-backoff) */
  maxMs: number;
  /** 0..1; Math.random() unless a test pins it */
  random?: number;
  /** first step */
  baseMs?: number;
  jitter?: 'equal' | 'full';
}

/** Exponential steps (base, 2·base, 4·base ... capped at maxMs), jittered so sidecars retrying a shared outage do not move in lockstep. */
export function backoffDelay({ failures, maxMs, random = Math.random(), baseMs = 1_000, jitter = 'equal' }: BackoffInput): number {
  const step = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(failures - 1, 0), 30));
  return jitter === 'full' ? step * random : Math.round(step / 2 + (step / 2) * random);
}

/** Wait `ms`; true when the time passed, false as soon as `signal` aborts (never rejects). */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = () => {
      clearTimeout(t);
      resolve(false);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
