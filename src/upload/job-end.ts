// The other two ways a job's end reaches the sidecar: a done-marker file, and SIGTERM/SIGINT
// (Argo sends SIGTERM to the remaining containers once the main one exits, and SIGKILL after
// terminationGracePeriodSeconds; --grace-period is our share of that window).
import { readFile } from 'node:fs/promises';
import { log } from '../log.js';

export interface JobEnd {
  endedBy: 'log.json' | 'done-file' | 'signal' | 'upload';
  jobSuccess: boolean | null;
}

/** The done file's verdict: an exit code ("0" = success), "success"/"failed", or JSON with "success". */
export function parseDoneFile(text: string): boolean | null {
  const t = text.trim();
  if (/^-?\d+$/.test(t)) return Number(t) === 0;
  if (/^(success|succeeded|ok|true)$/i.test(t)) return true;
  if (/^(fail|failed|failure|error|false)$/i.test(t)) return false;
  try {
    const v = JSON.parse(t) as { success?: unknown; exitCode?: unknown };
    if (typeof v.success === 'boolean') return v.success;
    if (typeof v.exitCode === 'number') return v.exitCode === 0;
  } catch {
    // an empty or free-form marker: the job ended, verdict unknown
  }
  return null;
}

/** Poll for the done file (it may live outside the output dir, on any volume). */
export function waitForDoneFile(path: string, signal: AbortSignal, intervalMs = 1000): Promise<JobEnd> {
  return new Promise((resolve) => {
    const check = async () => {
      if (signal.aborted) return;
      const text = await readFile(path, 'utf8').catch(() => undefined);
      if (text === undefined) {
        setTimeout(() => void check(), intervalMs).unref();
        return;
      }
      const jobSuccess = parseDoneFile(text);
      log.info({ doneFile: path, jobSuccess }, 'done file found: the job has ended');
      resolve({ endedBy: 'done-file', jobSuccess });
    };
    void check();
  });
}

/**
 * SIGTERM / SIGINT: resolves `ended` at the first one and fixes the deadline (now + grace);
 * later signals only log. `deadline` is undefined until a signal came.
 */
export class Shutdown {
  deadline: number | undefined;
  readonly ended: Promise<JobEnd>;
  private onSignal!: (s: NodeJS.Signals) => void;

  constructor(readonly graceMs: number) {
    this.ended = new Promise((resolve) => {
      this.onSignal = (s) => {
        if (this.deadline !== undefined) {
          log.warn({ signal: s, secondsLeft: Math.round((this.deadline - Date.now()) / 1000) }, `${s} again: still finishing within the grace period`);
          return;
        }
        this.deadline = Date.now() + graceMs;
        log.info({ signal: s, graceSeconds: graceMs / 1000 }, `${s}: final pass, then exit (at most ${graceMs / 1000} s)`);
        resolve({ endedBy: 'signal', jobSuccess: null });
      };
    });
    process.on('SIGTERM', this.onSignal);
    process.on('SIGINT', this.onSignal);
  }

  dispose(): void {
    process.off('SIGTERM', this.onSignal);
    process.off('SIGINT', this.onSignal);
  }
}
