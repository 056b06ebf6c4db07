// The HTTP/1.1 client behind S3Http's GET and HEAD, behind one narrow interface so that its
// implementation can be swapped and measured in place: the hand-written one (http1/) or
// undici's Pool#dispatch (undici-client.ts). SIDECAR_HTTP_CLIENT picks one; it is a hidden
// switch for the benchmark (docs/benchmarks.md, "Transport and MD5 variants"), not an option.
import { ConfigError } from '../config.js';
import { log } from '../log.js';
import { Http1Pool, type BodyHandler, type Http1Head, type Http1PoolOptions, type Http1Request, type Http1Response } from './http1/index.js';
import { UndiciClient } from './undici-client.js';

/** A PUT with its body in memory (the upload of small files). */
export interface PutRequest extends Omit<Http1Request, 'method'> {
  method: 'PUT';
  body: Buffer;
}

export interface HttpClient {
  /**
   * Send one request. `onHead` sees the status and headers and says what to do with the body;
   * resolves once the body is complete.
   */
  request(req: Http1Request, onHead: (head: Http1Head) => BodyHandler, signal?: AbortSignal): Promise<Http1Response>;
  /** A PUT, its answer's body collected. Only undici's has it: the hand-written client leaves PUT to node:http. */
  put?(req: PutRequest, signal?: AbortSignal): Promise<Http1Response>;
  destroy(): void;
}

export const HTTP_CLIENTS = ['lean', 'undici'] as const;
export type HttpClientKind = (typeof HTTP_CLIENTS)[number];
export const HTTP_CLIENT_VARIABLE = 'SIDECAR_HTTP_CLIENT';

/** The client SIDECAR_HTTP_CLIENT asks for (lean when unset); a ConfigError (exit 2) for anything else. */
export function httpClientKind(env: NodeJS.ProcessEnv = process.env): HttpClientKind {
  const v = env[HTTP_CLIENT_VARIABLE]?.trim() || 'lean';
  if (!(HTTP_CLIENTS as readonly string[]).includes(v)) throw new ConfigError(HTTP_CLIENT_VARIABLE, `must be ${HTTP_CLIENTS.join(' or ')} (got "${v}")`);
  return v as HttpClientKind;
}

export function createHttpClient(kind: HttpClientKind, opts: Http1PoolOptions): HttpClient {
  if (kind === 'lean') return new Http1Pool(opts);
  log.info({ httpClient: kind }, `${HTTP_CLIENT_VARIABLE}=${kind}: GET, HEAD and small PUTs go through undici's Pool#dispatch`);
  return new UndiciClient(opts);
}
