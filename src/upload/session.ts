// Everything `run` and `upload` share: the client, the local tree and its filter, the journal,
// the upload queue, and the end of a job — final reconcile scan, wait (within a deadline),
// clean up, manifest last, exit code.
import { mkdir } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { OPTIONS, optionName, required, type Config, type OptionKey } from '../config.js';
import type { CredentialHolder } from '../credentials/types.js';
import { EXIT } from '../exit-codes.js';
import { log } from '../log.js';
import { storeOf } from '../config/stores.js';
import { OutputFilter } from './filter.js';
import { Journal } from './journal.js';
import { mtimeIso, putInProgress, putManifest, type Manifest } from './manifest.js';
import { ObjectPutter } from '../s3/object-put.js';
import { OutputTree, sameSig, type LocalFile } from './output-tree.js';
import { createS3Client } from '../s3/sdk-client.js';
import { parseS3Uri, type S3Location } from '../config/s3-uri.js';
import { abortStrandedUploads, type StrandedPolicy } from './stranded.js';
import { deleteRemoved } from './delete-removed.js';
import { sendBodiesUnsigned } from '../s3/unsigned-payload.js';
import { describe, RETRY_POLICIES, withRetries } from '../s3/retry.js';
import { Uploader } from './uploader.js';
import { sleep } from '../util/backoff.js';

export interface FinishOptions {
  /** absolute time (Date.now() ms) by which everything must be over, re-read while waiting (SIGTERM may arrive late) */
  deadline: () => number | undefined;
  endedBy: string;
  jobSuccess: boolean | null;
}

/** Every file of the tree, and each folder that could not be read with the reason (kept out of deletes, named in the manifest). */
interface WholeScan { files: LocalFile[]; unreadable: Map<string, string> }

/** Final-pass rounds: a file that keeps changing after the job ended does not hold the exit forever. */
const MAX_ROUNDS = 5;

export class OutputSession {
  /** called when a file changed during its upload (run mode: wait for it to settle again) */
  onChanged: (rel: string) => void = () => {};
  readonly uploader: Uploader;

  private constructor(
    readonly config: Config,
    readonly root: string,
    readonly dest: S3Location,
    readonly client: S3Client,
    readonly putter: ObjectPutter,
    readonly tree: OutputTree,
    readonly journal: Journal,
  ) {
    this.uploader = new Uploader({
      client, putter, bucket: dest.bucket, prefix: dest.prefix, tree, journal,
      settings: {
        partSize: config.partSize, maxParts: storeOf(config).maxParts, multipartThreshold: config.multipartThreshold,
        partConcurrency: config.partConcurrency, verify: config.verifyUploads,
      },
      concurrency: config.uploadConcurrency,
      memory: config.uploadMemory,
      retries: config.uploadRetries,
      onChanged: (rel) => this.onChanged(rel),
    });
  }

  static async open(config: Config, holder: CredentialHolder): Promise<OutputSession> {
    const root = resolve(required(config, 'outputDir'));
    const dest = parseS3Uri(required(config, 'outputPrefix'), optionName('outputPrefix', config));
    const journalPath = journalPathOf(config, root);
    await mkdir(join(journalPath, '..'), { recursive: true, mode: 0o700 });
    const journal = await Journal.open(journalPath, dest.bucket, dest.prefix, ownFiles(config, root));
    const filter = new OutputFilter({
      preset: config.preset,
      include: config.outputInclude,
      exclude: config.outputExclude,
      ownFiles: journal.header.ownFiles ?? [],
    });
    const client = createS3Client(config, holder, {
      maxSockets: config.uploadConcurrency * config.partConcurrency,
      maxAttempts: 3,
      socketTimeoutMs: 120_000,
    });
    if (!config.signPayload) sendBodiesUnsigned(client);
    const putter = new ObjectPutter(config, holder, {
      maxSockets: config.uploadConcurrency, socketTimeoutMs: 120_000, requestDeadlineMs: config.requestDeadline, maxAttempts: 3, signPayload: config.signPayload,
    });
    log.info({ outputDir: root, destination: `s3://${dest.bucket}/${dest.prefix}`, preset: config.preset, journal: journalPath, alreadyUploaded: journal.size }, 'output session started');
    const tree = new OutputTree(root, filter);
    // what the root is now: a root swapped for a symlink later is never read through (BeneathOpener)
    await tree.rootReal();
    const session = new OutputSession(config, root, dest, client, putter, tree, journal);
    await session.markInProgress();
    // Nothing of ours is in flight yet: what is incomplete and stranded was left by an earlier run.
    await abortStrandedUploads(client, dest.bucket, dest.prefix, session.strandedPolicy());
    return session;
  }

  /** Incomplete uploads that are ours or a dead sidecar's, or older than --stranded-upload-age. */
  private strandedPolicy(): StrandedPolicy {
    return {
      journaled: this.journal.openUploads(),
      maxAgeMs: this.config.strandedUploadAge,
      onGone: (id) => void this.journal.uploadEnded(id),
    };
  }

  /**
   * Replace the manifest with an in-progress marker before the first upload: an earlier run's
   * manifest must not vouch for a prefix being rewritten. (The final manifest replaces it.)
   */
  private async markInProgress(): Promise<void> {
    const key = this.dest.prefix + this.config.manifestKey;
    try {
      await putInProgress(this.client, this.dest.bucket, key, { bucket: this.dest.bucket, prefix: this.dest.prefix, startedAt: this.journal.header.startedAt, markedAt: new Date().toISOString() });
      log.info({ key }, 'manifest marked in progress');
    } catch (err) {
      log.error({ key, err: describe(err) }, 'could not mark the manifest in progress (an earlier manifest stays until the final one)');
    }
  }

  /** Scan the whole tree and queue every file that is new or changed since its journal entry. */
  async reconcile(opts: { retryFailed: boolean }): Promise<LocalFile[]> {
    const files = await this.tree.scan();
    let queued = 0;
    for (const f of files) {
      if (sameSig(this.journal.get(f.rel), f.sig)) continue;
      if (!opts.retryFailed && this.uploader.failed.has(f.rel)) continue;
      this.uploader.enqueue(f.rel, f);
      queued++;
    }
    log.info({ files: files.length, queued }, 'reconcile scan');
    return files;
  }

  /** The job ended: final pass, clean-up, manifest; returns the exit code. */
  async finish(o: FinishOptions): Promise<number> {
    let incomplete = false;
    // the scan that found nothing left to upload is the manifest's: the job is over, nothing moves
    let settled: WholeScan | undefined;
    for (let round = 0; round < MAX_ROUNDS; round++) {
      await this.reconcile({ retryFailed: round === 0 });
      // kept back from the deadline for aborting, the manifest and the journal
      const reserveMs = Math.min(3000, this.config.gracePeriod / 4);
      if (!(await this.waitIdle(o.deadline, reserveMs))) {
        incomplete = true;
        break;
      }
      const scan = await this.scanWhole();
      if (scan.files.every((f) => this.uploader.failed.has(f.rel) || sameSig(this.journal.get(f.rel), f.sig))) {
        settled = scan;
        break;
      }
    }
    const left = this.uploader.pending();
    if (incomplete) {
      log.warn({ pending: left.length, files: left.slice(0, 20) }, 'deadline reached: aborting the uploads still in flight');
      const stopped = this.uploader.stop();
      const cut = deadlineSignal(o.deadline, 0);
      await Promise.race([stopped, new Promise((r) => cut.signal.addEventListener('abort', r))]);
      cut.dispose();
    }
    const cleanup = deadlineSignal(o.deadline, 0);
    await abortStrandedUploads(this.client, this.dest.bucket, this.dest.prefix, this.strandedPolicy(), cleanup.signal);
    const { files, unreadable } = settled ?? (await this.scanWhole());
    if (!incomplete && this.config.deleteRemoved) {
      await deleteRemoved({ client: this.client, bucket: this.dest.bucket, prefix: this.dest.prefix, tree: this.tree, journal: this.journal, files, unreadable, signal: cleanup.signal });
    }
    const manifest = this.manifest(files, o, incomplete ? left : [], unreadable);
    const manifestOk = await this.putManifestWithRetries(manifest, cleanup.signal);
    cleanup.dispose();
    await this.journal.close();
    const { files: n, bytes } = this.uploader.totals;
    log.info({ uploaded: n, bytes, failed: manifest.failed.length, pending: manifest.pending.length }, 'final pass done');
    if (incomplete) return EXIT.INCOMPLETE;
    return manifest.complete && manifestOk ? EXIT.OK : EXIT.TRANSFER_FAILED;
  }

  private async scanWhole(): Promise<WholeScan> {
    const unreadable = new Map<string, string>();
    return { files: await this.tree.scan('', unreadable), unreadable };
  }

  close(): void {
    this.client.destroy();
    this.putter.destroy();
    void this.tree.close();
  }

  /** The manifest is the last word: a transient failure is retried (RETRY_POLICIES.manifest) while the deadline allows. */
  private async putManifestWithRetries(manifest: Manifest, signal: AbortSignal): Promise<boolean> {
    const key = this.dest.prefix + this.config.manifestKey;
    const policy = {
      ...RETRY_POLICIES.manifest(), signal,
      onRetry: (err: unknown, attempt: number) => log.warn({ key, err: describe(err), attempt }, 'manifest upload failed; retrying'),
    };
    try {
      await withRetries(policy, key, () => putManifest(this.client, this.dest.bucket, key, manifest, signal));
      log.info({ key, files: manifest.files.length, complete: manifest.complete, jobSuccess: manifest.jobSuccess }, 'manifest uploaded');
      return true;
    } catch (err) {
      log.error({ key, err: describe(err) }, 'could not upload the manifest');
      return false;
    }
  }

  /** Wait until the queue is empty (true) or the deadline minus the reserve has come (false); say what is pending meanwhile. */
  private async waitIdle(deadline: () => number | undefined, reserveMs: number): Promise<boolean> {
    let idle = false;
    void this.uploader.idle().then(() => (idle = true));
    let lastReport = Date.now();
    let warned = false;
    while (!idle) {
      await sleep(200);
      const end = deadline();
      const now = Date.now();
      if (end !== undefined && now >= end - reserveMs) return idle;
      const nearing = end !== undefined && end - now < 10_000;
      if (now - lastReport >= 5000 || (nearing && !warned)) {
        const p = this.uploader.pending();
        const msg = nearing ? 'deadline near: still uploading' : 'final pass: still uploading';
        (nearing ? log.warn : log.info).call(log, { pending: p.length, files: p.slice(0, 10), secondsLeft: end === undefined ? undefined : Math.round((end - now) / 1000) }, msg);
        lastReport = now;
        warned ||= nearing;
      }
    }
    return true;
  }

  /** `unreadable`: folders the final scan could not read; the output is not known complete. */
  private manifest(files: LocalFile[], o: FinishOptions, pendingAtStop: string[], unreadable: Map<string, string>): Manifest {
    const landed: Manifest['files'] = [];
    const notLanded: string[] = [];
    for (const f of files) {
      const j = this.journal.get(f.rel);
      if (j && sameSig(j, f.sig)) {
        landed.push({ key: this.dest.prefix + f.rel, path: f.rel, size: j.size, crc32: j.crc32, etag: j.etag, mtime: mtimeIso(j.mtimeNs) });
      } else {
        notLanded.push(f.rel);
      }
    }
    const failed = notLanded.filter((rel) => this.uploader.failed.has(rel)).map((rel) => ({ path: rel, error: this.uploader.failed.get(rel)! }));
    for (const [dir, code] of unreadable) failed.push({ path: `${dir || '.'}/`, error: `cannot read the folder (${code})` });
    const complete = notLanded.length === 0 && pendingAtStop.length === 0 && unreadable.size === 0;
    const pending = [...new Set([...pendingAtStop, ...notLanded.filter((rel) => !this.uploader.failed.has(rel))])].sort();
    return {
      version: 1,
      generator: 's3-sidecar',
      bucket: this.dest.bucket,
      prefix: this.dest.prefix,
      startedAt: this.journal.header.startedAt,
      endedAt: new Date().toISOString(),
      status: complete ? 'complete' : 'incomplete',
      complete,
      jobSuccess: o.jobSuccess,
      endedBy: o.endedBy,
      files: landed,
      pending,
      failed,
    };
  }
}

export function journalPathOf(config: Config, root: string): string {
  return config.journalFile ? resolve(config.journalFile) : join(root, '.s3-sidecar', 'journal.json');
}

/**
 * The sidecar's own files that may sit inside the output dir, as relative paths: they are never
 * uploaded. That is every option naming a file (journal, credential hand-offs, tokens, CA,
 * markers: all their flags end in "-file"), from the config or, for options this mode does not
 * take, from the environment (`upload` beside a `credentials` container sharing one env), and
 * the manifest's name.
 */
export function ownFiles(config: Config, root: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const paths = [journalPathOf(config, root)];
  for (const [key, def] of Object.entries(OPTIONS)) {
    if (!def.flag.endsWith('-file')) continue;
    const v = config[key as OptionKey];
    if (typeof v === 'string') paths.push(v);
    for (const name of def.env) if (env[name]?.trim()) paths.push(env[name]!.trim());
  }
  const rels = paths.flatMap((p) => {
    const rel = relative(root, resolve(p));
    return rel && !rel.startsWith('..') && !isAbsolute(rel) ? [rel.split(sep).join('/')] : [];
  });
  return [...new Set([...rels, config.manifestKey])];
}

/** An AbortSignal that fires at the deadline (minus `reserveMs`), for the clean-up requests. */
function deadlineSignal(deadline: () => number | undefined, reserveMs: number): { signal: AbortSignal; dispose(): void } {
  const ac = new AbortController();
  const timer = setInterval(() => {
    const end = deadline();
    if (end !== undefined && Date.now() >= end - reserveMs) ac.abort(new Error('deadline reached'));
  }, 100);
  return { signal: ac.signal, dispose: () => clearInterval(timer) };
}
