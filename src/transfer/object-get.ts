// Object bodies, fetched lean: one signed GET through s3-http.ts (see there why not S3Client.send).
// Listing and HEAD stay on the SDK; so do GETs that need the SDK's checksum validation (ChecksumMode).
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

export class ObjectGetter {
  private readonly http: S3Http;

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
    return {
      body: res,
      contentLength: res.headers['content-length'] === undefined ? undefined : Number(res.headers['content-length']),
      etag: res.headers.etag,
      lastModified: res.headers['last-modified'] ? new Date(res.headers['last-modified']) : undefined,
      contentRange: res.headers['content-range'],
    };
  }
}
