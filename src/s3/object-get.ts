// Object bodies (and HEAD), fetched lean: one signed request through transport.ts and its HTTP/1.1
// client (see there and http1/pool.ts for why not S3Client.send or node:http). The body reaches the
// caller piece by piece, synchronously, to be written and hashed on the spot. GETs that need the
// SDK's checksum validation (ChecksumMode) stay on the SDK.
// The body must be exactly as long as expected (the answer's Content-Length, else the listed size;
// a range's length): a piece that would go past it is refused before the caller sees it, and a
// body that ends short fails. Both are VerifyErrors: the object is fetched again.
import type { Config } from '../config.js';
import type { CredentialHolder } from '../credentials/types.js';
import { BodyTooLargeError, DEFAULT_COLLECT_LIMIT, DEFAULT_DEADLINE_MS, type BodyHandler, type Http1Head } from './http1/index.js';
import { Md5Engine } from './md5/offload.js';
import { InvalidEtagError, VerifyError } from './errors.js';
import { S3Http, type S3HttpOptions } from './transport.js';

export interface GetRequest {
  bucket: string;
  key: string;
  /** "bytes=0-1023" */
  range?: string | undefined;
  /** an ETag from the listing: checked (checkEtag) before it is sent back */
  ifMatch?: string | undefined;
  /** the listed size: the body's length when the answer gives no Content-Length, and what scales the deadline */
  size?: number | undefined;
}

export interface ObjectHead {
  contentLength?: number | undefined;
  etag?: string | undefined;
  lastModified?: Date | undefined;
  contentRange?: string | undefined;
}

export type ObjectGetterOptions = S3HttpOptions;

/** The request deadline covers this many bytes; a larger body gets proportionally longer. */
const DEADLINE_BYTES = 64 * 1024 ** 2;

/** An entity-tag as RFC 9110 §8.8.3 has it, printable ASCII only, at most 256 characters. */
export function checkEtag(etag: string, key: string): string {
  if (etag.length > 256 || !/^(W\/)?"[\x21\x23-\x7e]*"$/.test(etag)) {
    throw new InvalidEtagError(`the listing gave ${key} the ETag ${JSON.stringify(etag.slice(0, 80))}, which is not a valid entity-tag; refusing to send it back`);
  }
  return etag;
}

export class ObjectGetter {
  /** shared with the listing (list.ts): one keep-alive pool */
  readonly http: S3Http;
  /** hashes the bodies this getter reads (object.ts asks it for each object's MD5) */
  readonly md5: Md5Engine;

  constructor(config: Config, holder: CredentialHolder, private readonly opts: ObjectGetterOptions) {
    this.md5 = opts.md5 ?? new Md5Engine();
    this.http = new S3Http(config, holder, { ...opts, md5: this.md5 });
  }

  destroy(): void {
    this.http.destroy();
  }

  /**
   * GET an object (or a range of it): `onHead` sees the answer's headers and says what to do with
   * the body. Resolves once the body is complete (with it, for 'collect'); rejects with an
   * S3HttpError for a non-2xx answer, a VerifyError for a body longer or shorter than expected.
   */
  async get(req: GetRequest, onHead: (head: ObjectHead) => BodyHandler, signal: AbortSignal): Promise<ObjectHead & { body?: Buffer | undefined }> {
    const ifMatch = req.ifMatch === undefined ? undefined : checkEtag(req.ifMatch, req.key);
    const rangeBytes = req.range === undefined ? undefined : rangeLength(req.range);
    const deadline = this.opts.requestDeadlineMs ?? DEFAULT_DEADLINE_MS;
    const sized = rangeBytes ?? req.size ?? 0;
    let expected: number | undefined;
    let got = 0;
    /** a collected body, gathered here where its expected length is known */
    let pieces: Buffer[] | undefined;
    const res = await this.http.fetch({
      method: 'GET',
      bucket: req.bucket,
      key: req.key,
      headers: { ...(req.range ? { range: req.range } : {}), ...(ifMatch ? { 'if-match': ifMatch } : {}) },
      deadlineMs: Math.round(deadline * Math.max(1, sized / DEADLINE_BYTES)),
    }, (head) => {
      const h = described(head);
      expected = rangeBytes ?? h.contentLength ?? req.size;
      if (rangeBytes !== undefined && h.contentLength !== undefined && h.contentLength !== rangeBytes) {
        throw new VerifyError(`asked for ${rangeBytes} bytes (${req.range}), the answer announces ${h.contentLength}`);
      }
      const handler = onHead(h);
      // no length to hold the body to: the client's own cap on collected bodies applies
      if (expected === undefined) return handler;
      const limit = expected;
      let sink: (piece: Buffer) => void;
      if (handler === 'collect') {
        const cap = req.size ?? DEFAULT_COLLECT_LIMIT;
        if (limit > cap) throw new BodyTooLargeError(`${req.key}: the answer announces ${limit} bytes, more than the ${cap} expected`);
        const into: Buffer[] = pieces = [];
        sink = (piece) => { into.push(Buffer.from(piece)); };
      } else sink = handler;
      return (piece) => {
        if (got + piece.length > limit) throw new VerifyError(`long body: more than the ${limit} bytes expected`);
        got += piece.length;
        sink(piece);
      };
    }, signal);
    if (expected !== undefined && got !== expected) throw new VerifyError(`short body: got ${got} of ${expected} bytes`);
    return { ...described(res), body: pieces ? Buffer.concat(pieces) : res.body };
  }

  /** HEAD an object. Rejects with an S3HttpError (404: NotFound) for a non-2xx answer. */
  async head(bucket: string, key: string, signal: AbortSignal): Promise<ObjectHead> {
    return described(await this.http.fetch({ method: 'HEAD', bucket, key }, () => 'collect', signal));
  }
}

/** The length of a single "bytes=a-b" range. */
function rangeLength(range: string): number {
  const m = /^bytes=(\d+)-(\d+)$/.exec(range);
  if (!m || Number(m[2]) < Number(m[1])) throw new Error(`unsupported range ${JSON.stringify(range)}: only bytes=first-last`);
  return Number(m[2]) - Number(m[1]) + 1;
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
