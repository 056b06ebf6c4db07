// Incomplete multipart uploads below the output prefix cost storage until someone aborts them.
// A kill -9 mid-upload leaves one; so can an abort that failed because the server was
// unreachable. But the prefix is not ours alone: a retried or replacement pod runs a second
// sidecar on it during the old one's grace period, and aborting the old one's upload in flight
// would lose its product. So an incomplete upload is aborted only when it is stranded:
// - its journal entry names this process (own, and nothing of ours is in flight at the sweeps),
// - or it names a process that is known dead: same host, and that pid is ours now (a restarted
//   container) or gone (kill(pid, 0) says ESRCH),
// - or it was initiated longer ago than --stranded-upload-age (nobody's journal vouches for it).
// A bucket lifecycle rule AbortIncompleteMultipartUpload stays the backstop (docs/upload.md).
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { AbortMultipartUploadCommand, ListMultipartUploadsCommand, type MultipartUpload, type S3Client } from '@aws-sdk/client-s3';
import { log } from '../log.js';
import { describe } from '../s3/retry.js';
import { errorCode } from '../s3/errors.js';
import type { OpenUpload } from './journal.js';

/** This process, as its journal records it. */
export const SELF = `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;

/** Whether the process named by a journal's owner field is gone for sure. */
export function ownerGone(owner: string, self = SELF, alive: (pid: number) => boolean = pidAlive): boolean {
  if (owner === self) return true; // ours: the sweeps run when nothing of ours is in flight
  const [host, pidText] = owner.split('/');
  const [myHost, myPid] = self.split('/');
  const pid = Number(pidText);
  if (host !== myHost || !Number.isInteger(pid) || pid <= 0) return false;
  return pidText === myPid || !alive(pid);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH'; // EPERM: alive, someone else's
  }
}

export interface StrandedPolicy {
  /** uploads this journal recorded as started and not ended */
  journaled: Map<string, OpenUpload>;
  /** an upload initiated longer ago than this is stranded whoever started it */
  maxAgeMs: number;
  /** an upload was found gone (aborted here, or already): forget it */
  onGone?: (uploadId: string) => void;
  now?: number;
}

/** Why `u` is stranded, or undefined when it may be a live peer's. */
export function strandedReason(u: MultipartUpload, p: StrandedPolicy): string | undefined {
  const mine = p.journaled.get(u.UploadId ?? '');
  if (mine && ownerGone(mine.owner)) return mine.owner === SELF ? 'own' : 'its sidecar is gone';
  const initiated = u.Initiated?.getTime();
  if (initiated !== undefined && (p.now ?? Date.now()) - initiated > p.maxAgeMs) return 'older than --stranded-upload-age';
  return undefined;
}

export async function abortStrandedUploads(client: S3Client, bucket: string, prefix: string, policy: StrandedPolicy, signal?: AbortSignal): Promise<number> {
  let aborted = 0;
  let kept = 0;
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  const listed = new Set<string>();
  try {
    for (;;) {
      const page = await client.send(new ListMultipartUploadsCommand({
        Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker,
      }), { abortSignal: signal });
      for (const u of page.Uploads ?? []) {
        if (!u.Key || !u.UploadId) continue;
        listed.add(u.UploadId);
        const why = strandedReason(u, policy);
        if (!why) {
          kept++;
          continue;
        }
        try {
          await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }), { abortSignal: signal });
          aborted++;
          log.info({ key: u.Key, initiated: u.Initiated?.toISOString(), why }, 'aborted an incomplete multipart upload');
        } catch (err) {
          if (errorCode(err) !== 'NoSuchUpload') throw err;
        }
        policy.onGone?.(u.UploadId);
      }
      if (!page.IsTruncated || (!page.NextKeyMarker && !page.NextUploadIdMarker)) break;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
    // journaled uploads the store no longer lists have ended somehow: nothing to keep track of
    for (const id of policy.journaled.keys()) if (!listed.has(id)) policy.onGone?.(id);
    if (kept) log.info({ kept }, 'left incomplete multipart uploads alone that may be a live sidecar\'s (see --stranded-upload-age)');
  } catch (err) {
    log.warn({ err: describe(err) }, 'could not clean up incomplete multipart uploads (needs s3:ListBucketMultipartUploads and s3:AbortMultipartUpload)');
  }
  return aborted;
}
