// Small files, put lean: one signed PUT through transport.ts instead of S3Client.send(PutObject),
// whose per-request CPU (docs/upload.md, "Why the code is as it is") sets the pace for thousands of small products
// behind a slow link. Multipart uploads go through the SDK client (upload/multipart.ts).
// Kept from the SDK's PutObject: the CRC32 checksum header (the server verifies it where it
// can), the body sent as UNSIGNED-PAYLOAD unless --sign-payload, and quick retries of one
// request (RETRY_POLICIES.request, as the SDK client's) before the uploader's own per-file
// retries take over.
import { createHash } from 'node:crypto';
import type { Config } from '../config.js';
import type { CredentialHolder } from '../credentials/types.js';
import { storeOf } from '../config/stores.js';
import { RETRY_POLICIES, withRetries } from './retry.js';
import { S3Http, type S3HttpOptions } from './transport.js';

export interface PutRequest {
  bucket: string;
  key: string;
  body: Buffer;
  contentType: string;
  /** the body's CRC32, base64 (x-amz-checksum-crc32) */
  crc32: string;
}

export interface PutResponse {
  etag?: string | undefined;
  /** the server's CRC32 of what it stored, when it reports one */
  crc32?: string | undefined;
}

export interface ObjectPutterOptions extends S3HttpOptions {
  /** also sign the body's SHA-256 (--sign-payload) */
  signPayload: boolean;
  /** tries of one request (network errors, 5xx, throttling), as the SDK's maxAttempts */
  maxAttempts?: number;
}

export class ObjectPutter {
  private readonly http: S3Http;
  /** false for stores that reject checksum headers: the body's SHA-256 is signed instead */
  private readonly crcHeader: boolean;

  constructor(config: Config, holder: CredentialHolder, private readonly opts: ObjectPutterOptions) {
    this.http = new S3Http(config, holder, opts);
    this.crcHeader = storeOf(config).checksums === 'when_supported';
  }

  destroy(): void {
    this.http.destroy();
  }

  /** PUT one object from memory. Rejects with an S3HttpError for a non-2xx answer. */
  async put(req: PutRequest, signal?: AbortSignal): Promise<PutResponse> {
    const headers: Record<string, string> = {
      'content-length': String(req.body.length),
      'content-type': req.contentType,
      ...(this.crcHeader ? { 'x-amz-checksum-crc32': req.crc32 } : {}),
      'x-amz-content-sha256': this.opts.signPayload || !this.crcHeader ? createHash('sha256').update(req.body).digest('hex') : 'UNSIGNED-PAYLOAD',
    };
    const policy = { ...RETRY_POLICIES.request(this.opts.maxAttempts ?? 3), signal: signal ?? new AbortController().signal };
    return withRetries(policy, req.key, async () => {
      const res = await this.http.send({ method: 'PUT', bucket: req.bucket, key: req.key, headers, body: req.body }, signal);
      res.resume(); // an empty body: drain it so the socket goes back to the pool
      const crc = res.headers['x-amz-checksum-crc32'];
      return { etag: res.headers.etag, crc32: typeof crc === 'string' ? crc : undefined };
    });
  }
}
