// The lean listing (src/s3/list.ts) and HEAD (object-get.ts) against the real server:
// every key comes back exactly as the SDK lists it (XML entities, spaces, unicode), across
// pages (continuation tokens signed as query parameters), in shallow mode, with session
// credentials (x-amz-security-token signed), and errors shaped like the SDK's.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import type { Credentials } from '../../src/credentials/types.js';
import { decodeXmlText, listObjects, listPages, parsePage, type ListedObject } from '../../src/s3/list.js';
import { ServerWatch, type RetryContext } from '../../src/s3/retry.js';
import { errorCode, httpStatus } from '../../src/s3/errors.js';
import { assumedCredentials } from '../credentials/helpers/fixtures.js';
import { fixedHolder, staticHolder } from '../helpers/holders.js';
import { bytes, labBucket, labGetter, seed } from '../download/helpers.js';

function retryContext(): RetryContext {
  const watch = new ServerWatch('lab', 60_000, () => {});
  return { retries: 0, watch, signal: new AbortController().signal, onRetry: () => {} };
}

async function all(it: AsyncIterable<ListedObject>): Promise<ListedObject[]> {
  const out: ListedObject[] = [];
  for await (const o of it) out.push(o);
  return out;
}

const AWKWARD = [
  'job/a&b <c> "d" \'e\'.jpg',
  'job/ lead and trail .txt ',
  'job/sp ace+plus%25 ü (1)!*~=,;:@$.jpg',
  'job/日本/語.txt',
  'job/deep/er/x.bin',
  'job/zz.bin',
  'job/€uro&amp;.txt',
  'other/outside.txt',
];

test('lean listing: every key as the SDK lists it, across pages, shallow, with session credentials', async (t) => {
  const { lab, bucket, s3 } = await labBucket(t, 'dl-list');
  await seed(s3, bucket, Object.fromEntries(AWKWARD.map((k, i) => [k, bytes(100 + i, k)])));
  const sdk = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'job/' }));
  const expected = (sdk.Contents ?? []).map((o) => ({ key: o.Key, size: o.Size, etag: o.ETag, lastModified: o.LastModified?.getTime() }));
  assert.equal(expected.length, AWKWARD.length - 1);

  const session: Credentials = await assumedCredentials(t, lab, 'dl-list');
  assert.ok(session.sessionToken, 'AssumeRole gave a session token');
  for (const [what, holder] of [['static keys', staticHolder(lab)], ['session credentials', fixedHolder(session)]] as const) {
    const g = labGetter(t, lab, holder);
    // a first page of 1 key, then pages of 2: four pages, each asked for with the previous page's continuation token
    const listed = await all(listObjects(g.http, { bucket, prefix: 'job/' }, retryContext(), { firstPageSize: 1, pageSize: 2 }));
    assert.deepEqual(listed.map((o) => ({ key: o.key, size: o.size, etag: o.etag, lastModified: o.lastModified?.getTime() })), expected, what);
  }
  const g = labGetter(t, lab, staticHolder(lab));
  const pages: number[] = [];
  for await (const page of listPages(g.http, { bucket, prefix: 'job/' }, retryContext(), { firstPageSize: 1, pageSize: 2 })) pages.push(page.length);
  assert.deepEqual(pages, [1, 2, 2, 2], 'the first page is the short one');

  const shallow = await all(listObjects(g.http, { bucket, prefix: 'job/' }, retryContext(), { shallow: true }));
  assert.deepEqual(shallow.map((o) => o.key), expected.map((o) => o.key!).filter((k) => !k.slice(4).includes('/')), 'shallow: only keys directly below the prefix');

  const signal = new AbortController().signal;
  const head = await g.head(bucket, AWKWARD[0]!, signal);
  assert.equal(head.contentLength, 100);
  assert.equal(head.etag, expected.find((o) => o.key === AWKWARD[0])?.etag);
  assert.match(head.etag!, /^"[0-9a-f]{32}"$/);
  assert.ok(head.lastModified instanceof Date);
  await assert.rejects(g.head(bucket, 'job/missing', signal), (err) => httpStatus(err) === 404);
  await assert.rejects(all(listObjects(g.http, { bucket: `${bucket}-missing`, prefix: '' }, retryContext())), (err) => errorCode(err) === 'NoSuchBucket' && httpStatus(err) === 404);
});

test('parsePage: entities, repeated checksum algorithms, truncation and its token', () => {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix>p/</Prefix><KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>
<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=&amp;x</NextContinuationToken>
<Contents><Key>p/a &amp; b&lt;c&gt;&quot;d&apos; &#x41;&#66;</Key><LastModified>2026-11-23T04:13:25.374Z</LastModified><ETag>&quot;41430e15ac6d0045ce963b6233bd89de&quot;</ETag><ChecksumAlgorithm>CRC32</ChecksumAlgorithm><ChecksumAlgorithm>SHA256</ChecksumAlgorithm><Size>65536</Size><Owner><ID>o</ID><DisplayName>n</DisplayName></Owner><StorageClass>STANDARD</StorageClass></Contents>
<Contents><Key>  spaced  </Key><LastModified>not a date</LastModified><Size>0</Size></Contents>
</ListBucketResult>`;
  assert.deepEqual(parsePage(xml), {
    objects: [
      { key: 'p/a & b<c>"d\' AB', size: 65536, etag: '"41430e15ac6d0045ce963b6233bd89de"', lastModified: new Date('2026-11-23T04:13:25.374Z'), checksumAlgorithm: 'CRC32,SHA256' },
      { key: '  spaced  ', size: 0, etag: undefined, lastModified: undefined, checksumAlgorithm: undefined },
    ],
    nextToken: '1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=&x',
  });
  assert.equal(parsePage(xml.replace('<IsTruncated>true', '<IsTruncated>false')).nextToken, undefined, 'not truncated: no next page');
  assert.deepEqual(parsePage('<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>').objects, []);
  assert.throws(() => parsePage('<Error><Code>AccessDenied</Code></Error>'), /not a ListBucketResult/);
  assert.equal(decodeXmlText('&amp;lt; &unknown; &#128512; &#x110000;'), '&lt; &unknown; 😀 &#x110000;', 'decoded once; unknown entities and impossible code points left as they are');
});
