// One S3 request, lean: SigV4-signed (sigv4.ts) over a keep-alive node:http(s) agent.
// Why not S3Client.send: measured on this project's lab, the SDK's per-request work (middleware
// stack, schema serde, endpoint rules, user agent, logging filters) costs about 2 ms of CPU per
// request, more than the HTTP exchange itself, and loading the S3 client costs 0.25 s of CPU
// before the first request. For 30k images, or 2,000 × 64 KiB behind a 20 ms link, that is what
// decides the speed. The GET of object bodies (object-get.ts), HEAD, the listing (list.ts) and
// the PUT of small files (object-put.ts) use this; everything else stays on the SDK.
// Kept from the SDK's behaviour: path-style for custom endpoints, virtual-hosted buckets on AWS,
// the key encoding S3 signs (each segment URI-encoded, "/" kept), a clock corrected from the
// server's Date after RequestTimeTooSkewed, and one refresh-and-retry when the session is
// rejected as expired (isExpiredSessionError, as in s3-client.ts).
import * as http from 'node:http';
import type { IncomingMessage } from 'node:http';
import type { Config } from '../config.js';
import type { CredentialHolder } from '../credentials/types.js';
import { log } from '../log.js';
import { errorCode, isExpiredSessionError } from './s3-errors.js';
import { canonicalQuery, EMPTY_SHA256, signRequest, uriEncode } from './sigv4.js';

export { EMPTY_SHA256 };

/** Errors shaped like the SDK's, so errorCode() / httpStatus() / classify() read them the same way. */
export class S3HttpError extends Error {
  readonly Code: string;
  readonly $metadata: { httpStatusCode: number };
  constructor(status: number, code: string, message: string, readonly serverDate?: Date) {
    super(message || `${status} ${code}`);
    this.name = code;
    this.Code = code;
    this.$metadata = { httpStatusCode: status };
  }
}

function encodeKey(key: string): string {
  return key.split('/').map(uriEncode).join('/');
}

export interface S3HttpOptions {
  maxSockets: number;
  /** fail a request (headers or body) after this long without a byte */
  socketTimeoutMs: number;
}

export interface S3Request {
  method: 'GET' | 'HEAD' | 'PUT';
  bucket: string;
  /** '' for a bucket-level request (the listing) */
  key: string;
  /** query parameters, unencoded */
  query?: Record<string, string>;
  /** extra headers, lower-case names; x-amz-content-sha256 defaults to the empty body's hash */
  headers?: Record<string, string>;
  body?: Buffer;
}

export class S3Http {
  private readonly agent: http.Agent;
  /** node:http or node:https: the latter (and TLS) is loaded only for an https endpoint, about 0.1 s of CPU saved otherwise */
  private readonly transport: Pick<typeof http, 'Agent' | 'request'>;
  private readonly endpoint: URL | undefined;
  private readonly pathStyle: boolean;
  /** server clock minus ours, learnt from a RequestTimeTooSkewed answer (the SDK does the same) */
  private clockOffsetMs = 0;

  constructor(private readonly config: Config, private readonly holder: CredentialHolder, private readonly opts: S3HttpOptions) {
    this.endpoint = config.endpointUrl ? new URL(config.endpointUrl) : undefined;
    const https = this.endpoint ? this.endpoint.protocol === 'https:' : true;
    this.pathStyle = config.forcePathStyle || this.endpoint !== undefined;
    const agentOpts = { keepAlive: true, maxSockets: opts.maxSockets, maxFreeSockets: opts.maxSockets };
    this.transport = https ? process.getBuiltinModule('node:https') : http;
    this.agent = new this.transport.Agent(agentOpts);
  }

  destroy(): void {
    this.agent.destroy();
  }

  /**
   * Send one request; resolves with the response of a 2xx answer (its body unread), rejects with
   * an S3HttpError otherwise. A skewed clock or an expired session is corrected once and retried.
   */
  async send(req: S3Request, signal?: AbortSignal): Promise<IncomingMessage> {
    const used = this.holder.current();
    try {
      return await this.once(req, signal);
    } catch (err) {
      if (err instanceof S3HttpError && err.serverDate && /RequestTimeTooSkewed|RequestExpired/.test(err.Code)) {
        this.clockOffsetMs = err.serverDate.getTime() - Date.now();
        log.warn({ offsetMs: this.clockOffsetMs }, `the S3 server's clock is ${Math.round(this.clockOffsetMs / 1000)}s off ours; signing with its time`);
        return this.once(req, signal);
      }
      if (!(err instanceof S3HttpError) || !isExpiredSessionError(err, this.holder, used)) throw err;
      log.info({ reason: errorCode(err) }, 'S3 rejected the session as expired; refreshing credentials and retrying once');
      if (this.holder.current() === used) await this.holder.refreshNow('expired-token');
      return this.once(req, signal);
    }
  }

  private location(bucket: string, key: string): { hostname: string; port: number | undefined; path: string } {
    // a bucket-level request (the listing) names no object: "/bucket" path-style, "/" virtual-hosted
    const object = key === '' ? '' : `/${encodeKey(key)}`;
    if (this.endpoint) {
      const base = this.endpoint.pathname.replace(/\/+$/, '');
      const port = this.endpoint.port ? Number(this.endpoint.port) : undefined;
      return this.pathStyle
        ? { hostname: this.endpoint.hostname, port, path: `${base}/${bucket}${object}` }
        : { hostname: `${bucket}.${this.endpoint.hostname}`, port, path: `${base}${object || '/'}` };
    }
    const host = `s3.${this.config.region}.amazonaws.com`;
    // as the SDK: virtual-hosted when the bucket name is a plain DNS label, else path-style
    return !this.pathStyle && /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(bucket)
      ? { hostname: `${bucket}.${host}`, port: undefined, path: object || '/' }
      : { hostname: host, port: undefined, path: `/${bucket}${object}` };
  }

  private async once(req: S3Request, signal: AbortSignal | undefined): Promise<IncomingMessage> {
    const { hostname, port, path } = this.location(req.bucket, req.key);
    const headers: Record<string, string> = {
      host: port ? `${hostname}:${port}` : hostname,
      'x-amz-content-sha256': EMPTY_SHA256,
      ...req.headers,
    };
    const signed = signRequest({
      method: req.method, path, query: req.query, headers, credentials: await this.holder.provider(),
      region: this.config.region, service: 's3', date: new Date(Date.now() + this.clockOffsetMs),
    });
    const query = canonicalQuery(req.query);
    return new Promise<IncomingMessage>((resolve, reject) => {
      const r = this.transport.request({ method: req.method, hostname, port, path: query ? `${path}?${query}` : path, headers: signed, agent: this.agent, signal }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) return resolve(res);
        readError(res).then(reject, reject);
      });
      r.setTimeout(this.opts.socketTimeoutMs, () => {
        r.destroy(Object.assign(new Error(`no data from ${hostname} for ${this.opts.socketTimeoutMs} ms`), { name: 'TimeoutError', code: 'ETIMEDOUT' }));
      });
      r.on('error', reject);
      r.end(req.body);
    });
  }
}

/** S3's XML error body: <Error><Code>NoSuchKey</Code><Message>...</Message></Error> (RGW leaves Message empty). */
async function readError(res: IncomingMessage): Promise<S3HttpError> {
  let text = '';
  res.setEncoding('utf8');
  try {
    for await (const chunk of res) {
      if (text.length < 64 * 1024) text += chunk;
    }
  } catch {
    // the status is what matters; a cut-off body still leaves it
  }
  const status = res.statusCode ?? 0;
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] || (status === 404 ? 'NotFound' : status === 412 ? 'PreconditionFailed' : `Http${status}`);
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? '';
  const date = res.headers.date ? new Date(res.headers.date) : undefined;
  return new S3HttpError(status, code, message ? `${code}: ${message}` : `${status} ${code}`, date && !Number.isNaN(date.getTime()) ? date : undefined);
}
