// Streaming while the job runs: watcher events restart a file's stability window and cut short
// an upload whose file changed; a settled file is queued; ODM's stage lines skip the window;
// log.json ends the job. A scan when the watcher is ready picks up what existed before (a
// restarted sidecar re-uploads only what changed since its journal says it landed).
import { log } from '../log.js';
import type { OutputSession } from './session.js';
import { sameSig } from './output-tree.js';
import { OdmSignals } from '../odm/signals.js';
import { StabilityTracker } from './stability.js';
import { watchOutput, type OutputWatcher, type WatchEvent } from './watcher.js';

export interface LiveUpload {
  /** resolves with ODM's success flag when its log.json appears (never without the ODM preset) */
  jobEnded: Promise<boolean>;
  readonly running: boolean;
  /** stop watching (uploads in flight continue; the final pass takes over) */
  stop(): Promise<void>;
}

export async function startLiveUpload(session: OutputSession, opts: { stableWindowMs: number; notBefore: Date; onStageDone?: ((stage: string) => void) | undefined }): Promise<LiveUpload> {
  const { tree, uploader, journal } = session;
  const tracker = new StabilityTracker({
    windowMs: opts.stableWindowMs,
    stat: (rel) => tree.stat(rel),
    onStable: (rel) => uploader.enqueue(rel),
  });
  session.onChanged = (rel) => void tracker.touch(rel);

  let endJob!: (success: boolean) => void;
  const jobEnded = new Promise<boolean>((resolve) => (endJob = resolve));
  const odm = session.config.preset === 'odm'
    ? new OdmSignals({
      tree,
      notBefore: opts.notBefore,
      onStageDone: (stage, _seconds, products) => {
        tracker.settleNow(products);
        opts.onStageDone?.(stage);
      },
      onJobEnd: endJob,
    })
    : undefined;

  const onEvent = (kind: WatchEvent, rel: string): void => {
    if (odm && rel === 'benchmark.txt' && kind !== 'unlink') void odm.benchmarkChanged();
    if (odm && rel === 'log.json' && kind !== 'unlink') void odm.logJsonChanged();
    void (async () => {
      const f = kind === 'unlink' ? undefined : await tree.stat(rel);
      if (!f) {
        tracker.forget(rel);
        uploader.cancel(rel);
        return;
      }
      uploader.cancel(rel, f.sig);
      await tracker.touch(rel);
    })().catch((err: unknown) => log.warn({ path: rel, err: (err as Error).message }, 'cannot handle a file event'));
  };

  let watcher: OutputWatcher | undefined = await watchOutput(session.root, tree.filter, onEvent);
  // What is already there: anything the journal does not vouch for waits out its window as usual.
  const existing = await tree.scan();
  let known = 0;
  for (const f of existing) {
    if (sameSig(journal.get(f.rel), f.sig)) known++;
    else void tracker.touch(f.rel);
  }
  log.info({ files: existing.length, alreadyUploaded: known, stableWindowMs: opts.stableWindowMs }, `watching ${session.root}`);
  if (odm) {
    await odm.benchmarkChanged();
    void odm.logJsonChanged();
  }

  return {
    jobEnded,
    get running() {
      return watcher !== undefined;
    },
    async stop() {
      const w = watcher;
      watcher = undefined;
      tracker.stop();
      await w?.close();
    },
  };
}
