// What a downloaded body can be checked against, and the cheap ways to check it.
// - Size: always (a short body is the common failure).
// - MD5: only when the ETag is a plain MD5 (single PUT, no SSE-KMS/SSE-C). A multipart ETag
//   ("<md5 of part md5s>-N") cannot be recomputed without the part sizes, so it is not tried.
// - Additional checksums (CRC32/CRC32C/SHA): when the store reports them, the SDK validates the
//   body itself with ChecksumMode: ENABLED; the client otherwise validates nothing, so no body is
//   ever hashed twice.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';

/** The hex MD5 an ETag stands for, or undefined when it is not a plain MD5. */
export function plainMd5(etag: string | undefined): string | undefined {
  const m = etag ? /^"?([0-9a-f]{32})"?$/i.exec(etag) : null;
  return m ? m[1]!.toLowerCase() : undefined;
}

/** MD5 of a whole file (for objects fetched as parallel ranges, whose bytes arrive out of order). */
export async function md5File(path: string): Promise<string> {
  const hash = createHash('md5');
  await pipeline(createReadStream(path, { highWaterMark: 1024 * 1024 }), async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) hash.update(chunk);
  });
  return hash.digest('hex');
}
