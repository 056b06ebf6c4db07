// AWS Signature Version 4 for the lean S3 requests (transport.ts), header-signed, written out.
// Why not @smithy/signature-v4: a CPU-bound many-small-objects download spent noticeably more
// on the SDK signer's import and per-request work than on this one
// (docs/download.md, "Why the code is as it is"). SigV4 is a fixed, documented algorithm; test/s3/sigv4.test.ts
// checks this module against AWS's published example and against the SDK's signer on random
// requests, and every lean GET, HEAD, PUT and listing in the test suite is verified by the real
// server.
// The signing key depends only on (secret, day, region, service): it is derived once a day, as
// the SDK does, and kept in memory only, in the SigningCache of the transport that signs, as a
// KeyObject: an HMAC keyed with a Buffer converts the key on every call, which cost more than the
// HMAC itself (docs/download.md, "Why the code is as it is").
// One-shot crypto.hash where it can: no Hash object per request.
import { createHmac, createSecretKey, hash, type KeyObject } from 'node:crypto';

export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

export interface SignInput {
  method: string;
  /** the path exactly as sent: already URI-encoded the way S3 signs it (see s3-http.ts) */
  path: string;
  /** query parameters, unencoded */
  query?: Record<string, string> | undefined;
  /** lower-case names; must include host. All of them are signed. */
  headers: Record<string, string>;
  /** hex SHA-256 of the body; default: the x-amz-content-sha256 header (S3 requires it), else the empty body's */
  payloadHash?: string | undefined;
  credentials: SigningCredentials;
  region: string;
  service: string;
  date: Date;
}

/** RFC 3986 unreserved characters stay; everything else is %XX (upper case), as SigV4 requires. */
export function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The canonical (and sent) query string: keys sorted, keys and values URI-encoded. */
export function canonicalQuery(query: Record<string, string> | undefined): string {
  if (!query) return '';
  return Object.keys(query).sort().map((k) => `${uriEncode(k)}=${uriEncode(query[k]!)}`).join('&');
}

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** What signing may reuse between requests: the day's signing key and the second's date string. Owned by one transport (S3Http). */
export class SigningCache {
  key: { id: string; key: KeyObject } | undefined;
  date = { second: Number.NaN, amzDate: '' };
}

function signingKey(cache: SigningCache, secret: string, day: string, region: string, service: string): KeyObject {
  const id = `${day}/${region}/${service}/${secret}`;
  if (cache.key?.id === id) return cache.key.key;
  let key = hmac(`AWS4${secret}`, day);
  for (const part of [region, service, 'aws4_request']) key = hmac(key, part);
  cache.key = { id, key: createSecretKey(key) };
  return cache.key.key;
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

// Signing runs once per request, often before V8 has optimized it: the date string is made once
// a second and header values skip the whitespace folding unless they need it
// (docs/download.md, "Why the code is as it is").

/** "20261123T084350Z" */
function amzDateOf(cache: SigningCache, date: Date): string {
  const second = Math.floor(date.getTime() / 1000);
  if (second !== cache.date.second) cache.date = { second, amzDate: date.toISOString().replace(/[-:]|\.\d{3}/g, '') };
  return cache.date.amzDate;
}

/**
 * SigV4's canonical header value, as the SDK's signer makes it (and S3 checks it): line breaks
 * become spaces, runs of spaces and tabs one space, and a space at either end goes.
 */
const NEEDS_FOLDING = /[\t\r\n]|^ | $| {2}/;
function canonicalValue(v: string): string {
  return NEEDS_FOLDING.test(v) ? v.replace(/[\r\n]/g, ' ').replace(/[ \t]+/g, ' ').replace(/^ | $/g, '') : v;
}

/** Returns the headers to send: the input's plus x-amz-date, x-amz-security-token and authorization. */
export function signRequest(input: SignInput, cache = new SigningCache()): Record<string, string> {
  const { credentials: c } = input;
  const amzDate = amzDateOf(cache, input.date);
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = { ...input.headers, 'x-amz-date': amzDate };
  if (c.sessionToken) headers['x-amz-security-token'] = c.sessionToken;
  const names = Object.keys(headers).sort();
  const signedHeaders = names.join(';');
  let canonicalHeaders = '';
  for (const n of names) canonicalHeaders += `${n}:${canonicalValue(headers[n]!)}\n`;
  const canonicalRequest = `${input.method}\n${input.path}\n${canonicalQuery(input.query)}\n${canonicalHeaders}\n${signedHeaders}\n${input.payloadHash ?? headers['x-amz-content-sha256'] ?? EMPTY_SHA256}`;
  const scope = `${day}/${input.region}/${input.service}/aws4_request`;
  const stringToSign = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${hash('sha256', canonicalRequest, 'hex')}`;
  const signature = createHmac('sha256', signingKey(cache, c.secretAccessKey, day, input.region, input.service)).update(stringToSign).digest('hex');
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${c.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
  return headers;
}
