// Streamed ListObjectsV2: an async iterator of objects that keeps one page request in flight
// ahead of the consumer, so downloads start with the first page and a 30k-object prefix is
// never held in memory whole (at most the page being consumed plus the one being fetched).
// The first page is short (FIRST_PAGE_KEYS): the store answers 100 keys sooner than 1,000, and
// the downloads wait for it; the pages after it are fetched while the downloads run.
// The pages come through the lean request (transport.ts), not S3Client.send, whose cold start
// delayed the first download (docs/download.md, "Why the code is as it is"). The answer is read by parsePage below.
import { formatS3Uri, type S3Location } from '../config/s3-uri.js';
import type { S3Http } from './transport.js';
import { withRetries, type RetryContext } from './retry.js';
import { ListingError } from './errors.js';
import { ListingOrder } from './list-order.js';

export interface ListedObject {
  key: string;
  size: number;
  etag?: string | undefined;
  lastModified?: Date | undefined;
  /** additional checksum algorithm(s) the object was uploaded with, if the store reports them */
  checksumAlgorithm?: string | undefined;
}

export interface ListOptions {
  /** list only keys directly below the prefix (a "/" delimiter): --max-depth 1 */
  shallow?: boolean;
  /** keys per page after the first (S3's maximum, 1,000, by default) */
  pageSize?: number;
  /** keys on the first page (FIRST_PAGE_KEYS by default) */
  firstPageSize?: number;
}

/**
 * The first page's size: a short page is answered sooner, so the first GET starts sooner; the
 * more so on AWS S3, where a page of 1,000 keys takes longer (docs/download.md, "Why the code is as it is").
 */
export const FIRST_PAGE_KEYS = 100;

/** A listing page's cap: its envelope, plus each entry at its largest (a 1,024-byte key escaped, its fields). */
const PAGE_BASE_BYTES = 64 * 1024;
const ENTRY_BYTES = 7 * 1024;

interface ListPage {
  objects: ListedObject[];
  /** set when there is a next page */
  nextToken: string | undefined;
}

export async function* listObjects(http: S3Http, loc: S3Location, retry: RetryContext, opts: ListOptions = {}): AsyncGenerator<ListedObject> {
  for await (const page of listPages(http, loc, retry, opts)) yield* page;
}

/** The listing page by page (each page's objects), one page request kept in flight ahead. */
export async function* listPages(http: S3Http, loc: S3Location, retry: RetryContext, opts: ListOptions = {}): AsyncGenerator<ListedObject[]> {
  const fetchPage = (token: string | undefined): Promise<ListPage> => {
    const size = token === undefined ? (opts.firstPageSize ?? FIRST_PAGE_KEYS) : (opts.pageSize ?? 1000);
    return withRetries(retry, `listing ${formatS3Uri(loc)}`, () => listPage(http, loc, token, size, opts.shallow, retry.signal));
  };

  const order = new ListingOrder(formatS3Uri(loc));
  let next: Promise<ListPage> | undefined = fetchPage(undefined);
  while (next) {
    const page: ListPage = await next;
    order.check(page);
    // ask for the following page before handing this one out
    next = page.nextToken ? fetchPage(page.nextToken) : undefined;
    // a rejected prefetch must not go unhandled while the consumer is busy; it rethrows on await
    next?.catch(() => {});
    yield page.objects;
  }
}

/** One ListObjectsV2 page. */
async function listPage(http: S3Http, loc: S3Location, token: string | undefined, maxKeys: number, shallow: boolean | undefined, signal: AbortSignal): Promise<ListPage> {
  const res = await http.fetch({
    method: 'GET',
    bucket: loc.bucket,
    key: '',
    query: {
      'list-type': '2',
      prefix: loc.prefix,
      'max-keys': String(maxKeys),
      ...(token ? { 'continuation-token': token } : {}),
      ...(shallow ? { delimiter: '/' } : {}),
    },
    // a page holds at most maxKeys entries of a key (1,024 bytes, up to 6 escaped per byte) and its fields
    collectLimit: PAGE_BASE_BYTES + maxKeys * ENTRY_BYTES,
  }, () => 'collect', signal);
  const xml = res.body?.toString('utf8') ?? '';
  return parsePage(xml);
}

/**
 * The parts of a ListBucketResult the download uses. Why not a general XML parser: the document is
 * flat and fixed (leaf elements of text under <Contents>, no attributes, no CDATA, "<" always
 * escaped), and regular expressions read a page several times faster than the SDK's own parser
 * (@aws-sdk/xml-builder) or fast-xml-parser, which for a 30k-image prefix adds up
 * (docs/download.md, "Why the code is as it is").
 */
export function parsePage(xml: string): ListPage {
  if (!/<ListBucketResult[\s>]/.test(xml)) throw new Error('the listing answer is not a ListBucketResult');
  const objects: ListedObject[] = [];
  for (const [, body] of xml.matchAll(/<Contents>([\s\S]*?)<\/Contents>/g)) {
    const fields = new Map<string, string>();
    const algorithms: string[] = [];
    for (const [, name, text] of body!.matchAll(/<(\w+)>([^<]*)<\/\1>/g)) {
      if (name === 'ChecksumAlgorithm') algorithms.push(text!);
      else fields.set(name!, decodeXmlText(text!));
    }
    const key = fields.get('Key');
    if (key === undefined) continue;
    const modified = fields.has('LastModified') ? new Date(fields.get('LastModified')!) : undefined;
    objects.push({
      key,
      size: Number(fields.get('Size') ?? 0),
      etag: fields.get('ETag'),
      lastModified: modified && !Number.isNaN(modified.getTime()) ? modified : undefined,
      checksumAlgorithm: algorithms.join(',') || undefined,
    });
  }
  const truncated = /<IsTruncated>true<\/IsTruncated>/.test(xml);
  const token = /<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(xml)?.[1];
  // a truncated page without a token would end the listing early, silently
  if (truncated && !token) throw new ListingError('a listing page says it is truncated but gives no continuation token');
  return { objects, nextToken: truncated ? decodeXmlText(token!) : undefined };
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** XML text: the five named entities and numeric character references. */
export function decodeXmlText(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (m, e: string) => {
    if (e[0] !== '#') return ENTITIES[e] ?? m;
    const code = e[1] === 'x' ? parseInt(e.slice(2), 16) : Number(e.slice(1));
    return code <= 0x10ffff ? String.fromCodePoint(code) : m;
  });
}
