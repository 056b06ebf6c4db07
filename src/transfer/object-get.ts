// Object bodies (and HEAD), fetched lean: one signed request through s3-http.ts (see there why
// not S3Client.send). GETs that need the SDK's checksum validation (ChecksumMode) stay on the SDK.
import type { IncomingMessage } from 'node:http';
import type { Config } from '../config.js';
import type { CredentialHolder } from '../credentials/types.js';
import { S3Http, type S3HttpOptions } from './s3-http.js';

export interface GetRequest {
  bucket: string;
  key: string;
  /** "bytes=0-1023" */
  range?: string | undefined;
  ifMatch?: string | undefined;
}

export interface GetResponse {
  body: IncomingMessage;
  contentLength?: number | undefined;
  etag?: string | undefined;
  lastModified?: Date | undefined;
  contentRange?: string | undefined;
}

export type ObjectGetterOptions = S3HttpOptions;

export interface HeadResponse {
  contentLength?: number | undefined;
  etag?: string | undefined;
  lastModified?: Date | undefined;
}

export class ObjectGetter {
  /** shared with the listing (list.ts): one keep-alive pool */
  readonly http: S3Http;

  constructor(config: Config, holder: CredentialHolder, opts: ObjectGetterOptions) {
    this.http = new S3Http(config, holder, opts);
  }

  destroy(): void {
    this.http.destroy();
  }

  /** GET an object (or a range of it). Rejects with an S3HttpError for a non-2xx answer. */
  async get(req: GetRequest, signal: AbortSignal): Promise<GetResponse> {
    const res = await this.http.send({
      method: 'GET',
      bucket: req.bucket,
      key: req.key,
      headers: { ...(req.range ? { range: req.range } : {}), ...(req.ifMatch ? { 'if-match': req.ifMatch } : {}) },
    }, signal);
    return { body: res, ...described(res), contentRange: res.headers['content-range'] };
  }

  /** HEAD an object. Rejects with an S3HttpError (404: NotFound) for a non-2xx answer. */
  async head(bucket: string, key: string, signal: AbortSignal): Promise<HeadResponse> {
    const res = await this.http.send({ method: 'HEAD', bucket, key }, signal);
    res.resume();
    return described(res);
  }
}

function described(res: IncomingMessage): HeadResponse {
  const modified = res.headers['last-modified'] ? new Date(res.headers['last-modified']) : undefined;
  return {
    contentLength: res.headers['content-length'] === undefined ? undefined : Number(res.headers['content-length']),
    etag: res.headers.etag,
    lastModified: modified && !Number.isNaN(modified.getTime()) ? modified : undefined,
  };
}
