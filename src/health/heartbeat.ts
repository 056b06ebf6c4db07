// Liveness: a timer that should fire every `intervalMs`. If it fires much later than planned,
// something held the event loop (a synchronous hash of a huge file, a busy loop): the process
// is alive but wedged, and /healthz says so. A loop that never comes back cannot answer at all;
// the kubelet's probe timeout covers that case.
import { performance } from 'node:perf_hooks';

export interface HeartbeatStatus {
  ok: boolean;
  /** how late the last beat fired */
  lagMs: number;
  /** time since the last beat */
  sinceBeatMs: number;
}

export interface Heartbeat {
  status(): HeartbeatStatus;
  stop(): void;
}

export function startHeartbeat({ intervalMs = 1000, wedgedAfterMs = 10_000 } = {}): Heartbeat {
  let lastBeat = performance.now();
  let lagMs = 0;
  let timer: NodeJS.Timeout;
  const schedule = () => {
    const planned = performance.now() + intervalMs;
    timer = setTimeout(() => {
      lastBeat = performance.now();
      lagMs = Math.max(0, lastBeat - planned);
      schedule();
    }, intervalMs);
    // the heartbeat watches the process; it must never be what keeps it running
    timer.unref();
  };
  schedule();
  return {
    status() {
      const sinceBeatMs = performance.now() - lastBeat;
      const ok = lagMs < wedgedAfterMs && sinceBeatMs < intervalMs + wedgedAfterMs;
      return { ok, lagMs: Math.round(lagMs), sinceBeatMs: Math.round(sinceBeatMs) };
    },
    stop: () => clearTimeout(timer),
  };
}
