// --delete-removed: objects this sidecar uploaded whose files are gone (ODM renames
// intermediates) are deleted, so the prefix mirrors the dir. A deleted product cannot come back,
// so "gone" must be known, not guessed from a file that was merely not seen:
// - the file's lstat says ENOENT (any other error — EACCES, EIO, EMFILE — proves nothing),
// - no folder above it failed to read in the final scan,
// - the filter still wants it (an --output-exclude added since it was uploaded is no deletion).
import { lstat } from 'node:fs/promises';
import { DeleteObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { log } from '../log.js';
import { describe } from '../s3/retry.js';
import { errorCode } from '../s3/errors.js';
import type { Journal } from './journal.js';
import type { LocalFile, OutputTree } from './output-tree.js';

export interface DeleteRemovedInput {
  client: S3Client;
  bucket: string;
  prefix: string;
  tree: OutputTree;
  journal: Journal;
  /** the final scan */
  files: LocalFile[];
  /** folders the final scan could not read (relative path, '' = root) → error code */
  unreadable: Map<string, string>;
  signal: AbortSignal;
}

/** Under a folder that could not be read (or the folder itself)? */
function underUnreadable(rel: string, unreadable: Map<string, string>): string | undefined {
  if (unreadable.has('')) return '';
  const parts = rel.split('/');
  for (let i = 1; i < parts.length; i++) {
    const dir = parts.slice(0, i).join('/');
    if (unreadable.has(dir)) return dir;
  }
  return undefined;
}

/** Why `rel` may not count as gone, or undefined when it is known gone. */
async function notKnownGone(i: DeleteRemovedInput, rel: string): Promise<string | undefined> {
  if (!i.tree.filter.wantFile(rel)) return 'no longer selected by the filter (excluded now)';
  const dir = underUnreadable(rel, i.unreadable);
  if (dir !== undefined) return `the folder ${dir || '.'} could not be read (${i.unreadable.get(dir)})`;
  try {
    await lstat(i.tree.abs(rel));
    return 'it is still there (not an uploadable file now)';
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? undefined : `cannot tell whether it is gone (${code ?? (err as Error).message})`;
  }
}

export async function deleteRemoved(i: DeleteRemovedInput): Promise<void> {
  const present = new Set(i.files.map((f) => f.rel));
  const candidates = i.journal.all().filter(([rel]) => !present.has(rel)).map(([rel]) => rel);
  if (candidates.length === 0) return;
  if (i.files.length === 0) {
    log.warn({ journaled: i.journal.size }, 'the output dir has no files at all; not deleting anything from S3 (is the volume mounted?)');
    return;
  }
  const kept: { path: string; why: string }[] = [];
  for (const rel of candidates) {
    const why = await notKnownGone(i, rel);
    if (why) {
      kept.push({ path: rel, why });
      continue;
    }
    const key = i.prefix + rel;
    try {
      await i.client.send(new DeleteObjectCommand({ Bucket: i.bucket, Key: key }), { abortSignal: i.signal });
      await i.journal.remove(rel);
      log.info({ key }, 'deleted an object whose file is gone');
    } catch (err) {
      log.warn({ key, err: describe(err) }, 'could not delete an object whose file is gone (it stays, but is not in the manifest)');
      if (errorCode(err) === 'AccessDenied' || i.signal.aborted) return;
    }
  }
  if (kept.length) log.warn({ count: kept.length, files: kept.slice(0, 20) }, 'not deleting objects whose files were not seen but are not known to be gone');
}
