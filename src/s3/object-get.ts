// Object bodies (and HEAD), fetched lean: one signed request through s3-http.ts and its HTTP/1.1
// client (see there and http1/pool.ts for why not S3Client.send or node:http). The body reaches the
// caller piece by piece, synchronously, to be written and hashed on the spot. GETs that need the
// SDK's checksum validation (ChecksumMode) stay on the SDK.
import type { Config } from '../config.js';
import type { CredentialHolder } from '../credentials/types.js';
import type { BodyHandler, Http1Head } from './http1/index.js';
import { S3Http, type S3HttpOptions } from './transport.js';

export interface GetRequest {
  bucket: string;
  key: string;
  /** "bytes=0-1023" */
  range?: string | undefined;
  ifMatch?: string | undefined;
}

export interface ObjectHead {
  contentLength?: number | undefined;
  etag?: string | undefined;
  lastModified?: Date | undefined;
  contentRange?: string | undefined;
}

export type ObjectGetterOptions = S3HttpOptions;

export class ObjectGetter {
  /** shared with the listing (list.ts): one keep-alive pool */
  readonly http: S3Http;

  constructor(config: Config, holder: CredentialHolder, opts: ObjectGetterOptions) {
    this.http = new S3Http(config, holder, opts);
  }

  destroy(): void {
    this.http.destroy();
  }

  /**
   * GET an object (or a range of it): `onHead` sees the answer's headers and says what to do with
   * the body. Resolves once the body is complete (with it, for 'collect'); rejects with an
   * S3HttpError for a non-2xx answer.
   */
  async get(req: GetRequest, onHead: (head: ObjectHead) => BodyHandler, signal: AbortSignal): Promise<ObjectHead & { body?: Buffer | undefined }> {
    const res = await this.http.fetch({
      method: 'GET',
      bucket: req.bucket,
      key: req.key,
      headers: { ...(req.range ? { range: req.range } : {}), ...(req.ifMatch ? { 'if-match': req.ifMatch } : {}) },
    }, (head) => onHead(described(head)), signal);
    return { ...described(res), body: res.body };
  }

  /** HEAD an object. Rejects with an S3HttpError (404: NotFound) for a non-2xx answer. */
  async head(bucket: string, key: string, signal: AbortSignal): Promise<ObjectHead> {
    return described(await this.http.fetch({ method: 'HEAD', bucket, key }, () => 'collect', signal));
  }
}

function described({ headers: h }: Http1Head): ObjectHead {
  const modified = h['last-modified'] ? new Date(h['last-modified']) : undefined;
  return {
    contentLength: h['content-length'] === undefined ? undefined : Number(h['content-length']),
    etag: h.etag,
    lastModified: modified && !Number.isNaN(modified.getTime()) ? modified : undefined,
    contentRange: h['content-range'],
  };
}
