// Streamed ListObjectsV2: an async iterator of objects that keeps one page request in flight
// ahead of the consumer, so downloads start with the first page and a 30k-object prefix is
// never held in memory whole (at most the page being consumed plus the one being fetched).
import { ListObjectsV2Command, type ListObjectsV2CommandOutput, type S3Client } from '@aws-sdk/client-s3';
import { formatS3Uri, type S3Location } from './s3-uri.js';
import { withRetries, type RetryContext } from './retry.js';

export interface ListedObject {
  key: string;
  size: number;
  etag?: string | undefined;
  lastModified?: Date | undefined;
  /** additional checksum algorithm(s) the object was uploaded with, if the store reports them */
  checksumAlgorithm?: string | undefined;
}

export interface ListOptions {
  /** list only keys directly below the prefix (a "/" delimiter): --max-depth 1 */
  shallow?: boolean;
  pageSize?: number;
}

export async function* listObjects(client: S3Client, loc: S3Location, retry: RetryContext, opts: ListOptions = {}): AsyncGenerator<ListedObject> {
  const fetchPage = (token: string | undefined): Promise<ListObjectsV2CommandOutput> =>
    withRetries(retry, `listing ${formatS3Uri(loc)}`, () => client.send(new ListObjectsV2Command({
      Bucket: loc.bucket,
      Prefix: loc.prefix,
      ContinuationToken: token,
      MaxKeys: opts.pageSize ?? 1000,
      ...(opts.shallow ? { Delimiter: '/' } : {}),
    }), { abortSignal: retry.signal }));

  let next: Promise<ListObjectsV2CommandOutput> | undefined = fetchPage(undefined);
  while (next) {
    const page: ListObjectsV2CommandOutput = await next;
    // ask for the following page before handing this one out
    next = page.IsTruncated && page.NextContinuationToken ? fetchPage(page.NextContinuationToken) : undefined;
    // a rejected prefetch must not go unhandled while the consumer is busy; it rethrows on await
    next?.catch(() => {});
    for (const o of page.Contents ?? []) {
      if (o.Key === undefined) continue;
      yield { key: o.Key, size: o.Size ?? 0, etag: o.ETag, lastModified: o.LastModified, checksumAlgorithm: o.ChecksumAlgorithm?.join(',') || undefined };
    }
  }
}
