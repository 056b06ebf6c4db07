// Putting the newest committed checkpoint back into a project dir, with download's machinery:
// each object is fetched (verified, `.part`-then-rename, ranged when large) to a staging name,
// checked against its SHA-256 (its name), given its mode and mtime, and only then renamed into
// place. Any missing or corrupted object fails the restore, and what this restore had placed is
// removed again: a half-restored project could make ODM skip a stage whose outputs are partial.
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, mkdir, open, rename, rm, utimes } from 'node:fs/promises';
import pLimit from 'p-limit';
import type { Config } from '../config.js';
import type { S3Location } from '../config/s3-uri.js';
import { bigObjectSlots } from '../download/sockets.js';
import { fetchObject, isLarge, type FetchContext } from '../download/object.js';
import { log } from '../log.js';
import { listObjects } from '../s3/list.js';
import { describe } from '../s3/retry.js';
import type { ObjectGetter } from '../s3/object-get.js';
import { DirMaker, resolveInside } from '../util/keys.js';
import { pruneToManifest } from './prune.js';
import { CHECKPOINTS, MAX_MANIFEST_BYTES, objectKey, parseManifest, seqOf, type CheckpointFile, type CheckpointManifest } from './layout.js';

const STAGING = '.s3-sidecar-restore';

export class RestoreError extends Error {
  override name = 'RestoreError';
}

export interface RestoreSummary {
  /** the manifest restored, or undefined when there is no checkpoint */
  key?: string;
  stage?: string;
  seq?: number;
  files: number;
  bytes: number;
  seconds: number;
}

export interface RestoreInput {
  config: Config;
  root: string;
  loc: S3Location;
  getter: ObjectGetter;
  fetch: FetchContext;
}

export async function restoreNewest(input: RestoreInput): Promise<RestoreSummary> {
  const started = Date.now();
  const { loc, getter, fetch } = input;
  let newest: { key: string; seq: number } | undefined;
  for await (const o of listObjects(getter.http, { bucket: loc.bucket, prefix: loc.prefix + CHECKPOINTS }, fetch.retry)) {
    const seq = seqOf(loc.prefix, o.key);
    if (seq !== undefined && (!newest || seq > newest.seq)) newest = { key: o.key, seq };
  }
  if (!newest) return { files: 0, bytes: 0, seconds: (Date.now() - started) / 1000 };
  const manifest = await readManifest(getter, loc.bucket, newest.key, fetch.retry.signal);
  log.info({ checkpoint: newest.key, stage: manifest.stage, files: manifest.files.length }, `restoring checkpoint ${newest.seq} (after stage ${manifest.stage}) into ${input.root}`);
  const bytes = await restoreFiles(input, manifest);
  return { key: newest.key, stage: manifest.stage, seq: manifest.seq, files: manifest.files.length, bytes, seconds: (Date.now() - started) / 1000 };
}

async function readManifest(getter: ObjectGetter, bucket: string, key: string, signal: AbortSignal): Promise<CheckpointManifest> {
  const pieces: Buffer[] = [];
  let n = 0;
  await getter.get({ bucket, key }, () => (piece) => {
    n += piece.length;
    if (n > MAX_MANIFEST_BYTES) throw new RestoreError(`checkpoint manifest ${key} is larger than ${MAX_MANIFEST_BYTES} bytes`);
    pieces.push(Buffer.from(piece));
  }, signal);
  return parseManifest(Buffer.concat(pieces).toString('utf8'), key);
}

async function restoreFiles(input: RestoreInput, m: CheckpointManifest): Promise<number> {
  const { root, loc, fetch } = input;
  // the init container may be the first to touch the project dir
  await mkdir(root, { recursive: true });
  const dirs = new DirMaker(root);
  for (const d of m.dirs) await dirs.ensure(d.path.split('/'));
  const small = pLimit(input.config.downloadConcurrency);
  const large = pLimit(bigObjectSlots(input.config));
  const placed: string[] = [];
  const failures: string[] = [];
  let bytes = 0;
  const one = async (f: CheckpointFile) => {
    if (failures.length) return;
    const segments = f.path.split('/');
    const target = resolveInside(root, segments);
    const staged = target + STAGING;
    const key = objectKey(loc.prefix, f.sha256);
    try {
      await dirs.ensure(segments.slice(0, -1));
      const r = await fetchObject(fetch, { bucket: loc.bucket, key, size: f.size }, staged);
      const got = await sha256Of(staged);
      if (got !== f.sha256) throw new RestoreError(`content does not match its checksum (sha256 ${got})`);
      await chmod(staged, f.mode);
      const mtime = Number(BigInt(f.mtimeNs) / 1000n) / 1e6;
      await utimes(staged, mtime, mtime);
      await rename(staged, target);
      placed.push(target);
      bytes += r.bytes;
    } catch (err) {
      await rm(staged, { force: true }).catch(() => {});
      const status = (err as { status?: number; $metadata?: { httpStatusCode?: number } }).status;
      const why = status === 404 || /\b404\b|NoSuchKey/.test(describe(err)) ? 'the object is missing' : describe(err);
      failures.push(`${f.path} (s3://${loc.bucket}/${key}): ${why}`);
    }
  };
  await Promise.all(m.files.map((f) => (isLarge(fetch, f) ? large : small)(() => one(f))));
  if (failures.length) {
    // nothing of a failed restore stays: a partial project dir must not look like a resumable one
    await Promise.all(placed.map((p) => rm(p, { force: true })));
    throw new RestoreError(`checkpoint ${m.seq} (after stage ${m.stage}) could not be restored: ${failures.slice(0, 5).join('; ')}${failures.length > 5 ? `; and ${failures.length - 5} more` : ''}`);
  }
  const removed = await pruneToManifest(root, m);
  if (removed.length) log.info({ removed: removed.length, examples: removed.slice(0, 10) }, `removed ${removed.length} files and folders the checkpoint does not have (left by the interrupted run)`);
  // folder modes last: a read-only folder would have refused its files
  for (const d of [...m.dirs].reverse()) await chmod(resolveInside(root, d.path.split('/')), d.mode);
  return bytes;
}

async function sha256Of(path: string): Promise<string> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(1024 * 1024);
    for (let pos = 0; ;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    return h.digest('hex');
  } finally {
    await fh.close();
  }
}
