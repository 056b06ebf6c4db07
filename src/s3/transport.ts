// One S3 request, lean: SigV4-signed (sigv4.ts); GET and HEAD over the lean HTTP/1.1 client
// (http1/, or undici: http-client.ts), the PUT of small files over a keep-alive node:http(s) agent.
// Why not S3Client.send: the SDK's per-request work (middleware stack, schema serde, endpoint
// rules, user agent, logging filters) costs more CPU than the HTTP exchange itself, and loading
// the S3 client delays the first request; for many small objects that decides the speed
// (docs/download.md, "Why the code is as it is"). The GET of object bodies (object-get.ts), HEAD, the listing (list.ts) and
// the PUT of small files (object-put.ts) use this; everything else stays on the SDK.
// Kept from the SDK's behaviour: path-style for custom endpoints, virtual-hosted buckets on AWS,
// the key encoding S3 signs (each segment URI-encoded, "/" kept), a clock corrected from the
// server's Date after RequestTimeTooSkewed, and one refresh-and-retry when the session is
// rejected as expired (withSession in classify.ts, the path the SDK client takes too).
import * as http from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
// node:https (and TLS) is loaded only for an https endpoint: its start-up cost is paid only there
import type { Config } from '../config.js';
import type { CredentialHolder } from '../credentials/types.js';
import { log } from '../log.js';
import { storeOf } from '../config/stores.js';
import { DeadlineError, DEFAULT_COLLECT_LIMIT, DEFAULT_DEADLINE_MS, type BodyHandler, type Http1Head, type Http1Response } from './http1/index.js';
import { createHttpClient, httpClientKind, type HttpClient, type HttpClientKind } from './http-client.js';
import { md5Kind } from './md5/choice.js';
import type { Md5Engine } from './md5/offload.js';
import { withSession } from './classify.js';
import { canonicalQuery, EMPTY_SHA256, signRequest, SigningCache, uriEncode } from './sigv4.js';

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

/** a bucket name that can lead a host name (no dots: TLS wildcards cover one label) */
const DNS_LABEL = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

function encodeKey(key: string): string {
  return key.split('/').map(uriEncode).join('/');
}

export interface S3HttpOptions {
  maxSockets: number;
  /** fail a request (headers or body) after this long without a byte */
  socketTimeoutMs: number;
  /** GET and HEAD bodies are read into this engine's memory, where its worker hashes them in place */
  md5?: Md5Engine | undefined;
  /** fail a request that has not ended this long after it was sent (--request-deadline; the client's default otherwise) */
  requestDeadlineMs?: number | undefined;
}

/** A 2xx answer to `send`, its body unread: node:http's IncomingMessage, or undici's answer. */
export interface SentResponse {
  statusCode?: number | undefined;
  headers: IncomingHttpHeaders;
  /** drain the body, so the connection is reused */
  resume(): unknown;
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
  /** this request's own deadline (a large body's), instead of requestDeadlineMs */
  deadlineMs?: number | undefined;
  /** the most a collected answer may hold (the client's 1 MiB by default) */
  collectLimit?: number | undefined;
}

export class S3Http {
  /** node:http(s) and its agent, for the PUT of small files (object-put.ts); created on first use */
  private node: { transport: Pick<typeof http, 'Agent' | 'request'>; agent: http.Agent } | undefined;
  /** the HTTP/1.1 client for GET and HEAD (http-client.ts); created on first use */
  private pool: HttpClient | undefined;
  private readonly client: HttpClientKind;
  private readonly https: boolean;
  private readonly endpoint: URL | undefined;
  private readonly pathStyle: boolean;
  /** server clock minus ours, learnt from a RequestTimeTooSkewed answer (the SDK does the same) */
  private clockOffsetMs = 0;
  private readonly signing = new SigningCache();

  constructor(private readonly config: Config, private readonly holder: CredentialHolder, private readonly opts: S3HttpOptions) {
    this.endpoint = config.endpointUrl ? new URL(config.endpointUrl) : undefined;
    this.https = this.endpoint ? this.endpoint.protocol === 'https:' : true;
    this.pathStyle = storeOf(config).pathStyle;
    this.client = httpClientKind();
    md5Kind(); // a bad SIDECAR_MD5 fails here, at the start (exit 2), not at the first object
  }

  destroy(): void {
    this.node?.agent.destroy();
    this.pool?.destroy();
  }

  /**
   * Send one request through node:http(s) (through undici with SIDECAR_HTTP_CLIENT=undici); resolves with the response of a 2xx answer (its body
   * unread), rejects with an S3HttpError otherwise.
   */
  send(req: S3Request, signal?: AbortSignal): Promise<SentResponse> {
    return this.corrected(() => this.sendOnce(req, signal));
  }

  /**
   * GET or HEAD through the lean HTTP/1.1 client: `onHead` sees a 2xx answer's status and headers
   * and says what to do with the body (see BodyHandler). Resolves once the body is complete;
   * rejects with an S3HttpError for a non-2xx answer.
   */
  fetch(req: S3Request & { method: 'GET' | 'HEAD' }, onHead: (head: Http1Head) => BodyHandler, signal?: AbortSignal): Promise<Http1Response> {
    return this.corrected(() => this.fetchOnce(req, onHead, signal));
  }

  /** A skewed clock or an expired session is corrected once and the request retried. */
  private corrected<T>(attempt: () => Promise<T>): Promise<T> {
    return withSession(this.holder, async () => {
      try {
        return await attempt();
      } catch (err) {
        if (!(err instanceof S3HttpError && err.serverDate && /RequestTimeTooSkewed|RequestExpired/.test(err.Code))) throw err;
        this.clockOffsetMs = err.serverDate.getTime() - Date.now();
        log.warn({ offsetMs: this.clockOffsetMs }, `the S3 server's clock is ${Math.round(this.clockOffsetMs / 1000)}s off ours; signing with its time`);
        return attempt();
      }
    });
  }

  private location(bucket: string, key: string): { hostname: string; port: number | undefined; path: string } {
    // a bucket-level request (the listing) names no object: "/bucket" path-style, "/" virtual-hosted
    const object = key === '' ? '' : `/${encodeKey(key)}`;
    if (this.endpoint) {
      const base = this.endpoint.pathname.replace(/\/+$/, '');
      const port = this.endpoint.port ? Number(this.endpoint.port) : undefined;
      return this.pathStyle || !DNS_LABEL.test(bucket)
        ? { hostname: this.endpoint.hostname, port, path: `${base}/${bucket}${object}` }
        : { hostname: `${bucket}.${this.endpoint.hostname}`, port, path: `${base}${object || '/'}` };
    }
    const host = `s3.${this.config.region}.amazonaws.com`;
    // as the SDK: virtual-hosted when the bucket name is a plain DNS label, else path-style
    return !this.pathStyle && DNS_LABEL.test(bucket)
      ? { hostname: `${bucket}.${host}`, port: undefined, path: object || '/' }
      : { hostname: host, port: undefined, path: `/${bucket}${object}` };
  }

  /**
   * Where to send `req` and its signed headers. `hostname` is the address to connect to: an IPv6
   * literal without the brackets a URL (and the Host header) puts around it.
   */
  private async signed(req: S3Request): Promise<{ hostname: string; port: number | undefined; path: string; headers: Record<string, string> }> {
    const { hostname, port, path } = this.location(req.bucket, req.key);
    const headers = signRequest({
      method: req.method,
      path,
      query: req.query,
      headers: { host: port ? `${hostname}:${port}` : hostname, 'x-amz-content-sha256': EMPTY_SHA256, ...req.headers },
      credentials: await this.holder.provider(),
      region: this.config.region,
      service: 's3',
      date: new Date(Date.now() + this.clockOffsetMs),
    }, this.signing);
    const query = canonicalQuery(req.query);
    return { hostname: hostname.replace(/^\[(.*)\]$/, '$1'), port, path: query ? `${path}?${query}` : path, headers };
  }

  private async fetchOnce(req: S3Request & { method: 'GET' | 'HEAD' }, onHead: (head: Http1Head) => BodyHandler, signal: AbortSignal | undefined): Promise<Http1Response> {
    const { hostname, port, path, headers } = await this.signed(req);
    const ok = (status: number) => status >= 200 && status < 300;
    const res = await this.httpClient().request(
      { method: req.method, hostname, port: port ?? (this.https ? 443 : 80), tls: this.https, path, headers, deadlineMs: req.deadlineMs, collectLimit: req.collectLimit },
      (head) => (ok(head.status) ? onHead(head) : 'collect'),
      signal,
    );
    if (!ok(res.status)) throw s3Error(res.status, res.headers, res.body?.toString('utf8') ?? '');
    return res;
  }

  private httpClient(): HttpClient {
    if (this.pool) return this.pool;
    // the hand-written client reads bodies into memory the MD5 worker hashes in place (md5/offload.ts)
    const readBuffers = this.client === 'lean' ? this.opts.md5?.readBuffers() : undefined;
    return this.pool = createHttpClient(this.client, { maxSockets: this.opts.maxSockets, timeoutMs: this.opts.socketTimeoutMs, deadlineMs: this.opts.requestDeadlineMs, readBuffers });
  }

  private async sendOnce(req: S3Request, signal: AbortSignal | undefined): Promise<SentResponse> {
    const { hostname, port, path, headers } = await this.signed(req);
    const client = this.client === 'undici' ? this.httpClient() : undefined;
    if (client?.put) {
      const res = await client.put({ method: 'PUT', hostname, port: port ?? (this.https ? 443 : 80), tls: this.https, path, headers, body: req.body ?? Buffer.alloc(0) }, signal);
      if (res.status < 200 || res.status >= 300) throw s3Error(res.status, res.headers, res.body?.toString('utf8') ?? '');
      return { statusCode: res.status, headers: res.headers, resume: () => {} };
    }
    if (!this.node) {
      const transport: Pick<typeof http, 'Agent' | 'request'> = this.https ? process.getBuiltinModule('node:https') : http;
      this.node = { transport, agent: new transport.Agent({ keepAlive: true, maxSockets: this.opts.maxSockets, maxFreeSockets: this.opts.maxSockets }) };
    }
    const { transport, agent } = this.node;
    return new Promise<IncomingMessage>((resolve, reject) => {
      const r = transport.request({ method: req.method, hostname, port, path, headers, agent, signal }, (res) => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) return resolve(res);
        readError(res).then(reject, reject);
      });
      r.setTimeout(this.opts.socketTimeoutMs, () => {
        r.destroy(Object.assign(new Error(`no data from ${hostname} for ${this.opts.socketTimeoutMs} ms`), { name: 'TimeoutError', code: 'ETIMEDOUT' }));
      });
      const deadlineMs = req.deadlineMs ?? this.opts.requestDeadlineMs ?? DEFAULT_DEADLINE_MS;
      const deadline = setTimeout(() => r.destroy(new DeadlineError(`the answer did not end within the request deadline of ${Math.round(deadlineMs / 1000)} s`)), deadlineMs);
      deadline.unref();
      r.on('close', () => clearTimeout(deadline));
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
      text += chunk;
      // the code and message come first; past the cap the rest is not worth reading
      if (text.length >= DEFAULT_COLLECT_LIMIT) {
        res.destroy();
        break;
      }
    }
  } catch {
    // the status is what matters; a cut-off body still leaves it
  }
  return s3Error(res.statusCode ?? 0, res.headers as Record<string, string | undefined>, text);
}

function s3Error(status: number, headers: Record<string, string | string[] | undefined>, text: string): S3HttpError {
  const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] || (status === 404 ? 'NotFound' : status === 412 ? 'PreconditionFailed' : `Http${status}`);
  const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? '';
  const date = typeof headers.date === 'string' ? new Date(headers.date) : undefined;
  return new S3HttpError(status, code, message ? `${code}: ${message}` : `${status} ${code}`, date && !Number.isNaN(date.getTime()) ? date : undefined);
}
