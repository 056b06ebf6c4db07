// Incomplete multipart uploads below the output prefix cost storage until someone aborts them.
// A kill -9 mid-upload leaves one; so can an abort that failed because the server was
// unreachable. The sidecar is the only writer of its prefix, so it aborts every incomplete
// upload there at moments when none of its own is in flight: before its first upload, and
// after its last.
// (A bucket lifecycle rule AbortIncompleteMultipartUpload is the backstop; see docs/upload.md.)
import { AbortMultipartUploadCommand, ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3';
import { log } from '../log.js';
import { describe } from '../s3/retry.js';
import { errorCode } from '../s3/errors.js';

export async function abortStrandedUploads(client: S3Client, bucket: string, prefix: string, signal?: AbortSignal): Promise<number> {
  let aborted = 0;
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  try {
    for (;;) {
      const page = await client.send(new ListMultipartUploadsCommand({
        Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker,
      }), { abortSignal: signal });
      for (const u of page.Uploads ?? []) {
        if (!u.Key || !u.UploadId) continue;
        try {
          await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }), { abortSignal: signal });
          aborted++;
          log.info({ key: u.Key, initiated: u.Initiated?.toISOString() }, 'aborted an incomplete multipart upload');
        } catch (err) {
          if (errorCode(err) !== 'NoSuchUpload') throw err;
        }
      }
      if (!page.IsTruncated || (!page.NextKeyMarker && !page.NextUploadIdMarker)) break;
      keyMarker = page.NextKeyMarker;
      uploadIdMarker = page.NextUploadIdMarker;
    }
  } catch (err) {
    log.warn({ err: describe(err) }, 'could not clean up incomplete multipart uploads (needs s3:ListBucketMultipartUploads and s3:AbortMultipartUpload)');
  }
  return aborted;
}
