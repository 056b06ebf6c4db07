// One S3 request, lean: SigV4-signed (the SDK's own signer) over a keep-alive node:http(s) agent.
// Why not S3Client.send for object bodies: measured on this project's lab, the SDK's per-request
// work (middleware stack, schema serde, endpoint rules, user agent, logging filters) costs about
// 2 ms of CPU per request, more than the HTTP exchange itself. For 30k images, or 2,000 × 64 KiB
// behind a 20 ms link, that is what decides the speed. The GET of object bodies (object-get.ts)
// and the PUT of small files (object-put.ts) use this; everything else stays on the SDK.
// Kept from the SDK's behaviour: path-style for custom endpoints, virtual-hosted buckets on AWS,
// the key encoding S3 signs (each segment URI-encoded, "/" kept), a clock corrected from the
// server's Date after RequestTimeTooSkewed, and one refresh-and-retry when the session is
// rejected as expired (isExpiredSessionError, as in s3-client.ts).
import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { SignatureV4 } from '@smithy/signature-v4';
import type { Config } from '../config.js';
import type { CredentialHolder } from '../credentials/types.js';
import { log } from '../log.js';
import { errorCode, isExpiredSessionError } from './s3-client.js';

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

type SourceData = string | ArrayBuffer | ArrayBufferView;

function bytesOf(d: SourceData): string | Uint8Array {
  if (typeof d === 'string') return d;
  return d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** What SigV4 needs from a hash: node:crypto, no extra packages. */
class NodeSha256 {
  private h: Hash | Hmac;
  private readonly secret: string | Uint8Array | undefined;
  constructor(secret?: SourceData) {
    this.secret = secret === undefined ? undefined : bytesOf(secret);
    this.h = this.secret ? createHmac('sha256', this.secret) : createHash('sha256');
  }
  update(data: SourceData): void {
    this.h.update(bytesOf(data));
  }
  async digest(): Promise<Uint8Array> {
    return this.h.digest();
  }
  reset(): void {
    this.h = this.secret ? createHmac('sha256', this.secret) : createHash('sha256');
  }
}

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

/** encodeURIComponent plus the characters it leaves alone but S3's signing escapes. */
function encodeSegment(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function encodeKey(key: string): string {
  return key.split('/').map(encodeSegment).join('/');
}

export interface S3HttpOptions {
  maxSockets: number;
  /** fail a request (headers or body) after this long without a byte */
  socketTimeoutMs: number;
}

export interface S3Request {
  method: 'GET' | 'PUT';
  bucket: string;
  key: string;
  /** extra headers, lower-case names; x-amz-content-sha256 defaults to the empty body's hash */
  headers?: Record<string, string>;
  body?: Buffer;
}

export class S3Http {
  private readonly signer: SignatureV4;
  private readonly agent: HttpAgent | HttpsAgent;
  private readonly https: boolean;
  private readonly endpoint: URL | undefined;
  private readonly pathStyle: boolean;
  /** server clock minus ours, learnt from a RequestTimeTooSkewed answer (the SDK does the same) */
  private clockOffsetMs = 0;

  constructor(private readonly config: Config, private readonly holder: CredentialHolder, private readonly opts: S3HttpOptions) {
    this.endpoint = config.endpointUrl ? new URL(config.endpointUrl) : undefined;
    this.https = this.endpoint ? this.endpoint.protocol === 'https:' : true;
    this.pathStyle = config.forcePathStyle || this.endpoint !== undefined;
    const agentOpts = { keepAlive: true, maxSockets: opts.maxSockets, maxFreeSockets: opts.maxSockets };
    this.agent = this.https ? new HttpsAgent(agentOpts) : new HttpAgent(agentOpts);
    this.signer = new SignatureV4({
      service: 's3',
      region: config.region,
      // the path below is already encoded the way S3 signs it: no second escaping
      uriEscapePath: false,
      sha256: NodeSha256,
      credentials: async () => {
        const c = await holder.provider();
        return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken };
      },
    });
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
    if (this.endpoint) {
      const base = this.endpoint.pathname.replace(/\/+$/, '');
      const port = this.endpoint.port ? Number(this.endpoint.port) : undefined;
      return this.pathStyle
        ? { hostname: this.endpoint.hostname, port, path: `${base}/${bucket}/${encodeKey(key)}` }
        : { hostname: `${bucket}.${this.endpoint.hostname}`, port, path: `${base}/${encodeKey(key)}` };
    }
    const host = `s3.${this.config.region}.amazonaws.com`;
    // as the SDK: virtual-hosted when the bucket name is a plain DNS label, else path-style
    return !this.pathStyle && /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(bucket)
      ? { hostname: `${bucket}.${host}`, port: undefined, path: `/${encodeKey(key)}` }
      : { hostname: host, port: undefined, path: `/${bucket}/${encodeKey(key)}` };
  }

  private async once(req: S3Request, signal: AbortSignal | undefined): Promise<IncomingMessage> {
    const { hostname, port, path } = this.location(req.bucket, req.key);
    const headers: Record<string, string> = {
      host: port ? `${hostname}:${port}` : hostname,
      'x-amz-content-sha256': EMPTY_SHA256,
      ...req.headers,
    };
    const signed = await this.signer.sign(
      { method: req.method, protocol: this.https ? 'https:' : 'http:', hostname, port, path, headers, query: {} },
      { signingDate: new Date(Date.now() + this.clockOffsetMs) },
    );
    return new Promise<IncomingMessage>((resolve, reject) => {
      const send = this.https ? httpsRequest : httpRequest;
      const r = send({ method: req.method, hostname, port, path, headers: signed.headers as OutgoingHttpHeaders, agent: this.agent, signal }, (res) => {
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
