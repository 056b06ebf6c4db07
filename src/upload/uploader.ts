// The upload queue: files in flight (p-limit), memory held (ByteBudget), retries of a whole file
// through the one retry policy (RETRY_POLICIES.uploadFile in s3/retry.ts), cancellation when a file changes
// mid-upload, and the journal entry once a file has landed unchanged.
import type { S3Client } from '@aws-sdk/client-s3';
import pLimit, { type LimitFunction } from 'p-limit';
import { log } from '../log.js';
import { metrics } from '../metrics.js';
import { describe, RETRY_POLICIES, withRetries, type RetryContext } from '../s3/retry.js';
import { sleep } from '../util/backoff.js';
import { BufferPool } from '../util/buffer-pool.js';
import type { ObjectPutter } from '../s3/object-put.js';
import { ByteBudget } from './byte-budget.js';
import type { Journal } from './journal.js';
import { keyFor, sameSig, type FileSig, type LocalFile, type OutputTree } from './output-tree.js';
import { FileChangedError, isMultipart, LocalFileError, partSizeFor, uploadFile, type UploadSettings } from './file-upload.js';
import { SELF } from './stranded.js';
import { multipartMemory } from './multipart.js';

export interface UploaderOptions {
  client: S3Client;
  /** small files' PUTs */
  putter: ObjectPutter;
  bucket: string;
  prefix: string;
  tree: OutputTree;
  journal: Journal;
  settings: UploadSettings;
  /** files in flight */
  concurrency: number;
  /** bytes of file data held in memory by uploads in flight */
  memory: number;
  /** retries of one file after transient errors */
  retries: number;
  /** longest wait between retries */
  maxBackoffMs?: number;
  /** a file changed while it was uploading: wait for it to settle, then enqueue it again */
  onChanged: (rel: string) => void;
}

/** Why an in-flight upload was cut short (the abort reason). */
export class Cancelled extends Error {
  constructor(readonly why: 'changed' | 'shutdown') {
    super(`upload cancelled (${why})`);
    this.name = 'AbortError';
  }
}

interface Active {
  ac: AbortController;
  done: Promise<void>;
  /** the signature being uploaded (set once the attempt has stat'ed the file) */
  sig?: FileSig;
}

export class Uploader {
  private readonly limit: LimitFunction;
  private readonly budget: ByteBudget;
  private readonly buffers: BufferPool;
  /** queued paths, with what the caller saw when it queued them (a fresh scan saves a stat) */
  private readonly queued = new Map<string, { seen?: LocalFile; at: number }>();
  private readonly active = new Map<string, Active>();
  /** enqueued again while active: run once more when the current attempt ends */
  private readonly again = new Set<string>();
  private readonly idleWaiters: (() => void)[] = [];
  private stopped = false;
  /** rel → last error, for files that failed for good */
  readonly failed = new Map<string, string>();
  readonly totals = { files: 0, bytes: 0, unchanged: 0 };

  constructor(private readonly o: UploaderOptions) {
    this.limit = pLimit(o.concurrency);
    this.budget = new ByteBudget(o.memory);
    this.buffers = new BufferPool(o.memory);
  }

  /**
   * Upload `rel` if it is new or changed since its journal entry. `seen`: the caller's stat of it
   * just now (a scan), used instead of a second stat if the upload starts within a second.
   */
  enqueue(rel: string, seen?: LocalFile): void {
    if (this.stopped) return;
    if (this.active.has(rel)) {
      this.again.add(rel);
      return;
    }
    if (this.queued.has(rel)) return;
    this.queued.set(rel, { seen, at: Date.now() });
    this.failed.delete(rel);
    this.gauge();
    void this.limit(() => this.run(rel));
  }

  /**
   * The file changed (or is gone: no sig): cut its upload short; it is enqueued again once it
   * settles. An event that leaves the signature as it was being uploaded changes nothing.
   */
  cancel(rel: string, sig?: FileSig): void {
    const a = this.active.get(rel);
    if (!a || (sig && a.sig && sameSig(a.sig, sig))) return;
    this.again.delete(rel);
    if (a.ac.signal.aborted) return;
    log.info({ path: rel }, sig ? 'file changed during its upload: upload cancelled, it goes again once stable' : 'file removed during its upload: upload cancelled');
    a.ac.abort(new Cancelled('changed'));
  }

  isBusy(rel: string): boolean {
    return this.queued.has(rel) || this.active.has(rel);
  }

  /** Paths waiting or in flight (for "still pending" logs and the manifest). */
  pending(): string[] {
    return [...new Set([...this.active.keys(), ...this.queued.keys()])].sort();
  }

  /** Resolves once nothing is queued or in flight. */
  /** Resolves once `rel` is neither queued nor being uploaded, or after `maxMs`, whichever comes first. */
  async settled(rel: string, maxMs: number): Promise<void> {
    for (const end = Date.now() + maxMs; this.isBusy(rel) && Date.now() < end;) await sleep(SETTLED_POLL_MS);
  }

  idle(): Promise<void> {
    if (this.queued.size === 0 && this.active.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stop taking work, cancel what is in flight (multipart uploads are aborted) and wait for that. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.limit.clearQueue();
    this.queued.clear();
    this.again.clear();
    const running = [...this.active.values()];
    for (const a of running) a.ac.abort(new Cancelled('shutdown'));
    await Promise.all(running.map((a) => a.done));
    this.checkIdle();
  }

  private gauge(): void {
    metrics.queueDepth.set({ direction: 'upload' }, this.queued.size);
    metrics.uploadsInFlight.set(this.active.size);
  }

  private checkIdle(): void {
    this.gauge();
    if (this.queued.size || this.active.size) return;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  private async run(rel: string): Promise<void> {
    const q = this.queued.get(rel);
    if (!q || !this.queued.delete(rel) || this.stopped) return this.checkIdle();
    const ac = new AbortController();
    let finish!: () => void;
    this.active.set(rel, { ac, done: new Promise((r) => (finish = r)) });
    this.gauge();
    try {
      await this.attempts(rel, ac.signal, this.trusted(q));
    } catch (err) {
      log.error({ err, path: rel }, 'internal error while uploading');
      this.failed.set(rel, (err as Error).message);
    } finally {
      this.active.delete(rel);
      finish();
      if (this.again.delete(rel)) this.enqueue(rel);
      this.checkIdle();
    }
  }

  /**
   * The caller's stat, if it may stand in for the uploader's own: when fresh, or at any age for a
   * single-request upload, whose read is checked against it (a change costs no upload at all).
   */
  private trusted(q: { seen?: LocalFile; at: number }): LocalFile | undefined {
    if (!q.seen) return undefined;
    return Date.now() - q.at < FRESH_MS || !isMultipart(q.seen.sig.size, this.o.settings) ? q.seen : undefined;
  }

  private async attempts(rel: string, signal: AbortSignal, seen: LocalFile | undefined): Promise<void> {
    const { journal, tree } = this.o;
    let key = rel;
    let tries = 1;
    const policy: RetryContext = {
      ...RETRY_POLICIES.uploadFile(this.o.retries, this.o.maxBackoffMs),
      signal,
      // not the store's doing: handled below, never sent again as they are
      isFinal: (err) => err instanceof FileChangedError || err instanceof LocalFileError,
      onRetry: (err, attempt, delay) => (tries = attempt + 1, log.warn({ key, err: describe(err), attempt, retryInMs: Math.round(delay) }, 'upload failed; retrying')),
    };
    try {
      await withRetries(policy, rel, async (attempt) => {
        // (a stale `seen` costs nothing worse than one more upload: the check after it compares)
        const file = attempt === 0 && seen ? seen : await tree.stat(rel);
        if (!file) return; // gone, or no longer wanted
        if (sameSig(journal.get(rel), file.sig)) {
          this.totals.unchanged++;
          return;
        }
        const active = this.active.get(rel);
        if (active) active.sig = file.sig;
        const k = keyFor(this.o.prefix, rel);
        if (!k.key) {
          log.error({ path: rel }, `cannot upload: ${k.problem}`);
          this.fail(rel, k.problem!);
          return;
        }
        key = k.key;
        await this.once(file, key, attempt, signal);
      });
    } catch (err) {
      if (signal.aborted) return; // cancelled: changed (re-enqueued when stable) or shutting down
      if (err instanceof FileChangedError) {
        log.info({ path: rel }, 'file changed during its upload; will upload it again once it is stable');
        this.o.onChanged(rel);
        return;
      }
      if (err instanceof LocalFileError) {
        if (err.code === 'ENOENT') return; // deleted (or renamed away) between stat and open
        // not a regular file inside the output dir any more: not uploaded, not a failure
        if (err.swapped) return void log.warn({ path: rel, err: err.message }, 'not uploading: a symlink, FIFO or device is in the way now');
        log.error({ path: rel, err: err.message }, 'cannot read the file');
        this.fail(rel, err.message);
        return;
      }
      log.error({ key, err: describe(err), attempts: tries }, 'upload failed');
      this.fail(rel, describe(err));
    }
  }

  private async once(file: LocalFile, key: string, retries: number, signal: AbortSignal): Promise<void> {
    const { settings: s } = this.o;
    const memory = isMultipart(file.sig.size, s) ? multipartMemory(file.sig.size, partSizeFor(file.sig.size, s.partSize, s.maxParts), s.partConcurrency) : BufferPool.capacityFor(file.sig.size);
    const release = await this.budget.acquire(memory);
    const started = performance.now();
    try {
      if (signal.aborted) throw signal.reason;
      const open = () => this.o.tree.open(file);
      const out = await uploadFile(this.o, { bucket: this.o.bucket, key, path: file.path, size: file.sig.size, sig: file.sig, open }, s, {
        signal,
        buffers: this.buffers,
        onStarted: (id, k) => this.o.journal.uploadStarted(id, { key: k, owner: SELF }),
        onEnded: (id) => void this.o.journal.uploadEnded(id),
        onPart: (part, loaded, total) => log.debug({ key, part, loaded, total }, 'part uploaded'),
      });
      // Landed; but if the file moved on while we read it, S3 holds a mix: upload again.
      // (A single request's read was already checked; a later change is the watcher's to see.)
      if (!out.sigChecked) {
        const now = await this.o.tree.stat(file.rel);
        if (!now || !sameSig(now.sig, file.sig)) throw new FileChangedError(file.rel, 'size or mtime moved on');
      }
      await this.o.journal.record(file.rel, { ...file.sig, crc32: out.crc32, etag: out.etag, at: new Date().toISOString() });
      const secs = (performance.now() - started) / 1000;
      this.totals.files++;
      this.totals.bytes += file.sig.size;
      metrics.bytesTotal.inc({ direction: 'upload' }, file.sig.size);
      metrics.objectsTotal.inc({ direction: 'upload' });
      metrics.lastUploadTime.set(Date.now() / 1000);
      log.info({ key, bytes: file.sig.size, seconds: round(secs), mbps: round(file.sig.size / 1e6 / Math.max(secs, 1e-3)), parts: out.parts, retries }, 'uploaded');
    } finally {
      release();
    }
  }

  private fail(rel: string, why: string): void {
    this.failed.set(rel, why);
    metrics.failuresTotal.inc({ direction: 'upload' });
  }
}

/** How long a caller's stat stands in for the uploader's own before a multipart upload (see trusted()). */
const FRESH_MS = 1000;
const SETTLED_POLL_MS = 50;

const round = (n: number) => Math.round(n * 100) / 100;
