// Taking checkpoints, one at a time. A trigger (stage line, signal file) records the boundary:
// the stage's name and the time of the mark (benchmark.txt's mtime). The scan that follows must
// find no file modified after that mark, every file is captured from one descriptor, and all of
// them are re-checked afterwards: any change since the scan and the checkpoint is not committed
// (logged and counted; the previous one still stands). Triggers that arrive while one is taken
// coalesce into the newest.
import type { S3Client } from '@aws-sdk/client-s3';
import pLimit from 'p-limit';
import { setMaxListeners } from 'node:events';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { log } from '../log.js';
import { metrics } from '../metrics.js';
import { describe } from '../s3/retry.js';
import { abortStrandedUploads } from '../upload/stranded.js';
import { captureFile, ChangedError, SMALL_FILE_BYTES, type How, type ProductSource, type Store } from './capture.js';
import { manifestKey, type CheckpointManifest } from './layout.js';
import { scanProject, unchanged, type ScanFilter, type ScannedFile } from './scan.js';
import { collectGarbage, inventory, putManifest } from './store.js';

export interface CheckpointerOptions {
  client: S3Client;
  bucket: string;
  /** below the bucket, ending in "/" (or empty) */
  prefix: string;
  root: string;
  filter: ScanFilter;
  product?: ProductSource | undefined;
  concurrency: number;
  partSize: number;
  partConcurrency: number;
  /** a multipart upload older than this is stranded (--stranded-upload-age); younger ones may be a live peer's */
  strandedUploadAgeMs: number;
  /** called after each file is captured (tests use it to change a file mid-checkpoint) */
  onCaptured?: ((rel: string) => void | Promise<void>) | undefined;
}

export interface CheckpointResult {
  committed: boolean;
  seq: number;
  stage: string;
  files: number;
  bytesSent: number;
  bytesCopied: number;
  bytesReused: number;
  seconds: number;
  reason?: string;
}

interface Trigger {
  stage: string;
  /** no file of the checkpoint may be modified after this (ns since the epoch) */
  boundaryNs: bigint | undefined;
  at: number;
}

export class Checkpointer {
  private pending: Trigger | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private readonly abort = new AbortController();
  /** last capture of each path that was stored: a file that kept its inode, size and times is not read again */
  private readonly captured = new Map<string, { file: ScannedFile; sha256: string }>();
  readonly results: CheckpointResult[] = [];

  /** stored objects (sha256 -> size); listed before the first checkpoint */
  private known = new Map<string, number>();
  private seq = 0;

  private constructor(private readonly o: CheckpointerOptions) {
    setMaxListeners(0, this.abort.signal);
  }

  /** Ready to take checkpoints; what is stored already is listed now, or (if S3 fails now) at the first boundary. */
  static async open(o: CheckpointerOptions): Promise<Checkpointer> {
    const c = new Checkpointer(o);
    await c.load().catch((err: unknown) => log.warn({ err: describe(err) }, 'cannot list the checkpoint prefix yet; trying again at the first boundary'));
    return c;
  }

  private async load(): Promise<void> {
    if (this.seq > 0) return;
    const { known, manifests } = await inventory(this.o.client, this.o.bucket, this.o.prefix);
    const last = manifests.at(-1);
    this.known = known;
    this.seq = (last?.seq ?? 0) + 1;
    // multipart uploads of a sidecar killed mid-checkpoint; a replacement pod's peer may still be
    // checkpointing, and checkpoints keep no journal of upload ids, so only the age bound decides
    await abortStrandedUploads(this.o.client, this.o.bucket, this.o.prefix, { journaled: new Map(), maxAgeMs: this.o.strandedUploadAgeMs });
    log.info({ checkpointPrefix: `s3://${this.o.bucket}/${this.o.prefix}`, storedObjects: known.size, newest: last?.key }, 'checkpoints enabled');
  }

  /** A boundary: take a checkpoint now, or as soon as the one being taken is over. */
  trigger(stage: string, boundaryNs: bigint | undefined): void {
    if (this.stopped) return;
    this.pending = { stage, boundaryNs, at: Date.now() };
    this.running ??= this.loop().finally(() => (this.running = undefined));
  }

  /** Resolves when no checkpoint is being taken or waiting. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** No more checkpoints; the one being taken is abandoned at `deadlineMs` (Date.now() ms). */
  async stop(deadlineMs?: number): Promise<void> {
    this.stopped = true;
    this.pending = undefined;
    if (!this.running) return;
    const timer = deadlineMs === undefined ? undefined : setTimeout(() => this.abort.abort(new Error('stopped')), Math.max(0, deadlineMs - Date.now()));
    await this.running.catch(() => {});
    clearTimeout(timer);
  }

  private async loop(): Promise<void> {
    while (this.pending && !this.stopped) {
      const t = this.pending;
      this.pending = undefined;
      const r = await this.take(t);
      this.results.push(r);
    }
  }

  private async take(t: Trigger): Promise<CheckpointResult> {
    const r: CheckpointResult = { committed: false, seq: 0, stage: t.stage, files: 0, bytesSent: 0, bytesCopied: 0, bytesReused: 0, seconds: 0 };
    // from the stage line itself when its time is known: that is what "prompt" is measured against
    const since = t.boundaryNs === undefined ? t.at : Math.min(t.at, Number(t.boundaryNs / 1_000_000n));
    try {
      await this.load();
      const seq = r.seq = this.seq++;
      const store: Store = {
        client: this.o.client, bucket: this.o.bucket, prefix: this.o.prefix, known: this.known,
        partSize: this.o.partSize, partConcurrency: this.o.partConcurrency, signal: this.abort.signal,
      };
      const scan = await scanProject(this.o.root, this.o.filter);
      r.files = scan.files.length;
      const late = t.boundaryNs === undefined ? undefined : scan.files.find((f) => f.mtimeNs > t.boundaryNs!);
      if (late) throw new ChangedError(late.rel, 'was modified after the boundary (the next stage had started)');
      const shas = await this.captureAll(scan.files, store, r);
      // every file must still be what the scan saw: then what was stored is the boundary's state
      for (const f of scan.files) {
        const st = await lstat(join(this.o.root, ...f.rel.split('/')), { bigint: true }).catch(() => undefined);
        if (!st || !unchanged(f, st)) throw new ChangedError(f.rel, st ? 'changed while the checkpoint was taken' : 'was removed while the checkpoint was taken');
      }
      const manifest: CheckpointManifest = {
        version: 1, generator: 's3-sidecar', seq, stage: t.stage,
        boundaryAt: new Date(since).toISOString(), committedAt: new Date().toISOString(),
        exclude: [...this.o.filter.exclude], ownFiles: [...this.o.filter.ownFiles],
        dirs: scan.dirs.map((d) => ({ path: d.rel, mode: d.mode })),
        files: scan.files.map((f, i) => ({ path: f.rel, size: f.size, mode: f.mode, mtimeNs: f.mtimeNs.toString(), sha256: shas[i]! })),
      };
      const key = manifestKey(this.o.prefix, seq, t.stage);
      await putManifest(this.o.client, this.o.bucket, key, manifest, this.abort.signal);
      r.committed = true;
      r.seconds = (Date.now() - since) / 1000;
      metrics.checkpointsTotal.inc();
      metrics.checkpointFiles.set(r.files);
      metrics.checkpointSeconds.set(r.seconds);
      metrics.lastCheckpointTime.set(Date.now() / 1000);
      log.info({ checkpoint: key, stage: t.stage, seq, files: r.files, bytesSent: r.bytesSent, bytesCopied: r.bytesCopied, bytesReused: r.bytesReused, seconds: Math.round(r.seconds * 100) / 100 },
        `checkpoint committed after stage ${t.stage}`);
      const deleted = await collectGarbage(this.o.client, this.o.bucket, this.o.prefix, manifest, this.known)
        .catch((err: unknown) => { log.warn({ err: describe(err) }, 'checkpoint clean-up of older objects failed (retried after the next commit)'); return 0; });
      if (deleted) log.debug({ deleted }, 'objects no longer referenced by the newest checkpoint deleted');
    } catch (err) {
      r.seconds = (Date.now() - since) / 1000;
      const changed = err instanceof ChangedError;
      r.reason = changed ? 'changed' : 'error';
      metrics.checkpointFailures.inc({ reason: r.reason });
      log.warn({ stage: t.stage, seq: r.seq, reason: r.reason, detail: changed ? err.message : describe(err), seconds: Math.round(r.seconds * 100) / 100 },
        `checkpoint after stage ${t.stage} NOT committed (${changed ? err.message : describe(err)}); the previous checkpoint still stands`);
    }
    return r;
  }

  /** Capture every file (small ones many at a time, large ones a few at a time); returns their hashes in order. */
  private async captureAll(files: ScannedFile[], store: Store, r: CheckpointResult): Promise<string[]> {
    const small = pLimit(this.o.concurrency);
    const large = pLimit(Math.max(1, Math.min(4, Math.floor(this.o.concurrency / 16))));
    const local = new AbortController();
    setMaxListeners(0, local.signal); // one listener per request in flight
    const onAbort = () => local.abort(this.abort.signal.reason);
    this.abort.signal.addEventListener('abort', onAbort, { once: true });
    const mine: Store = { ...store, signal: local.signal };
    const count = (how: How, n: number) => {
      if (how === 'sent') r.bytesSent += n;
      else if (how === 'copied') r.bytesCopied += n;
      else r.bytesReused += n;
      metrics.checkpointBytes.inc({ how }, n);
    };
    try {
      // allSettled: nothing of this checkpoint may still run when the next one (or its clean-up) starts
      const settled = await Promise.allSettled(files.map((f) => (f.size < SMALL_FILE_BYTES ? small : large)(async () => {
        if (local.signal.aborted) throw local.signal.reason;
        const before = this.captured.get(f.rel);
        let sha: string;
        if (before && sameFile(before.file, f) && this.known.has(before.sha256)) {
          sha = before.sha256;
          count('reused', f.size);
        } else {
          const c = await captureFile(mine, this.o.root, f, this.o.product);
          sha = c.sha256;
          count(c.how, f.size);
          this.captured.set(f.rel, { file: f, sha256: sha });
        }
        await this.o.onCaptured?.(f.rel);
        return sha;
      }).catch((err: unknown) => {
        // the first failure spoils the checkpoint: stop the rest
        if (!local.signal.aborted) local.abort(err);
        throw err;
      })));
      if (local.signal.aborted) throw local.signal.reason;
      return settled.map((s) => (s as PromiseFulfilledResult<string>).value);
    } finally {
      this.abort.signal.removeEventListener('abort', onAbort);
    }
  }
}

function sameFile(a: ScannedFile, b: ScannedFile): boolean {
  return a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs && a.ino === b.ino && a.dev === b.dev;
}
