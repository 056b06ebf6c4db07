// The per-store settings (src/config/stores.ts): which store an endpoint names, explicit options
// over the store's defaults, and on the wire against the real server: a when_required store gets
// no checksum header on any request (and still correct objects), path-style addressing, and a
// part limit that makes the uploader choose larger parts. A recording proxy sits in front of the
// lab only to see the requests; the lab answers them.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { loadConfig } from '../../src/config.js';
import { recognise, storeOf } from '../../src/config/stores.js';
import { S3Http } from '../../src/s3/transport.js';
import { partSizeFor } from '../../src/upload/file-upload.js';
import { runCli } from '../helpers/cli.js';
import { fixedHolder } from '../helpers/holders.js';
import { labEnv } from '../helpers/lab.js';
import { startRecordProxy, type Recorded } from '../helpers/record-proxy.js';
import { getBytes, labFixture } from '../upload/helpers/s3-check.js';

const MiB = 1024 * 1024;
const CHECKSUM_HEADER = /^x-amz-(checksum-|sdk-checksum-algorithm$|trailer$)/;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('the store is recognised from the endpoint host; AWS without one, generic when unknown', () => {
  assert.equal(recognise(undefined), 'aws');
  assert.equal(recognise('https://s3.eu-west-1.amazonaws.com'), 'aws');
  assert.equal(recognise('https://s3.fr-par.scw.cloud'), 'scaleway');
  assert.equal(recognise('https://0123abcd.r2.cloudflarestorage.com'), 'r2');
  assert.equal(recognise('https://s3.eu-central-003.backblazeb2.com'), 'b2');
  assert.equal(recognise('http://garage.storage.svc:3900'), 'generic');
  assert.equal(recognise('not a url'), 'generic');
});

test("each store's defaults, and explicit options over them", () => {
  const load = (argv: string[], env: NodeJS.ProcessEnv = {}) => storeOf(loadConfig('upload', argv, env));
  const scw = load([], { AWS_ENDPOINT_URL_S3: 'https://s3.nl-ams.scw.cloud' });
  assert.deepEqual([scw.provider, scw.auto, scw.maxParts, scw.checksums, scw.sts, scw.pathStyle], ['scaleway', true, 1_000, 'when_required', false, true]);
  const aws = load([]);
  assert.deepEqual([aws.provider, aws.pathStyle, aws.maxParts, aws.checksums], ['aws', false, 10_000, 'when_supported']);
  assert.equal(load(['--endpoint-url', 'https://s3.eu-west-1.amazonaws.com']).pathStyle, false, 'AWS endpoints: virtual-hosted');
  assert.equal(load(['--endpoint-url', 'http://10.0.0.1:7480']).pathStyle, true, 'an unknown endpoint: path-style, as before');
  const garage = load(['--s3-provider', 'garage', '--endpoint-url', 'http://garage:3900']);
  assert.deepEqual([garage.checksums, garage.sts, garage.maxParts], ['when_required', false, 10_000]);
  // explicit options win, whichever name they come by
  assert.equal(load(['--s3-provider', 'scaleway', '--max-parts', '5000']).maxParts, 5_000);
  assert.equal(load(['--s3-provider', 'garage', '--no-force-path-style']).pathStyle, false);
  assert.equal(load(['--s3-provider', 'aws', '--force-path-style']).pathStyle, true);
  assert.equal(load(['--s3-provider', 'b2'], { AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_SUPPORTED' }).checksums, 'when_supported');
  assert.equal(load(['--s3-provider', 'minio', '--request-checksum-calculation', 'when_required']).checksums, 'when_required');
});

test("Scaleway's 1,000 parts: a large file gets parts large enough to stay within it", () => {
  const maxParts = storeOf(loadConfig('upload', ['--s3-provider', 'scaleway'], {})).maxParts;
  for (const size of [8 * MiB * 1_000 + 1, 50 * 1024 * MiB, 1024 ** 4]) {
    const part = partSizeFor(size, 8 * MiB, maxParts);
    assert.ok(Math.ceil(size / part) <= 1_000, `${size} bytes: ${Math.ceil(size / part)} parts of ${part}`);
    assert.ok(part > 8 * MiB, 'larger than --part-size');
  }
});

test('the lean transport addresses buckets as the store wants: path-style, or in the host name', () => {
  const lean = (argv: string[]) => new S3Http(loadConfig('upload', argv, {}), fixedHolder({ accessKeyId: 'A', secretAccessKey: 'S', source: 'test' }), { maxSockets: 1, socketTimeoutMs: 1000 });
  const where = (h: S3Http, bucket: string) => h['location'](bucket, 'k/x.tif');
  assert.deepEqual(where(lean(['--endpoint-url', 'http://ceph:7480']), 'bk1'), { hostname: 'ceph', port: 7480, path: '/bk1/k/x.tif' });
  assert.deepEqual(where(lean(['--endpoint-url', 'https://s3.fr-par.scw.cloud', '--no-force-path-style']), 'bk1'), { hostname: 'bk1.s3.fr-par.scw.cloud', port: undefined, path: '/k/x.tif' });
  // a bucket name with a dot cannot lead a TLS host name: path-style for it, as the SDK does
  assert.deepEqual(where(lean(['--endpoint-url', 'https://s3.eu-west-1.amazonaws.com']), 'a.b'), { hostname: 's3.eu-west-1.amazonaws.com', port: undefined, path: '/a.b/k/x.tif' });
});

/** Upload a small file, a multipart file and the manifest through the recording proxy with `argv`. */
async function uploadThroughProxy(t: TestContext, argv: string[]) {
  const { lab, s3, bucket, dir } = await labFixture(t, 'stores');
  const proxy = await startRecordProxy(lab.endpoint);
  t.after(() => proxy.close());
  const out = join(dir, 'out');
  mkdirSync(join(out, 'odm_orthophoto'), { recursive: true });
  const small = randomBytes(100 * 1024);
  const big = randomBytes(12 * MiB + 77);
  writeFileSync(join(out, 'small.json'), small);
  writeFileSync(join(out, 'odm_orthophoto', 'big.tif'), big);
  const env = labEnv(lab, { AWS_ENDPOINT_URL: proxy.url, AWS_ACCESS_KEY_ID: lab.accessKey, AWS_SECRET_ACCESS_KEY: lab.secretKey });
  const res = await runCli(['upload', '--output-dir', out, '--output-prefix', `s3://${bucket}/job/`, '--part-size', '5MiB', '--multipart-threshold', '6MiB', '--verify-uploads', 'all', ...argv], env);
  assert.equal(res.code, 0, `upload exits 0\n${res.stdout.slice(-3000)}\n${res.stderr}`);
  // the objects are right, whatever was (not) sent with them
  assert.equal(sha(await getBytes(s3, bucket, 'job/small.json')), sha(small));
  assert.equal(sha(await getBytes(s3, bucket, 'job/odm_orthophoto/big.tif')), sha(big));
  const manifest = JSON.parse((await getBytes(s3, bucket, 'job/_manifest.json')).toString('utf8')) as { files: unknown[]; complete: boolean };
  assert.equal(manifest.files.length, 2);
  assert.equal(manifest.complete, true);
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'job/odm_orthophoto/big.tif', PartNumber: 1 }));
  return { requests: proxy.requests, bucket, bigParts: head.PartsCount ?? Number(/-(\d+)"$/.exec(head.ETag ?? '')?.[1]), logs: res.logs };
}

const checksumHeaders = (requests: Recorded[]) => requests.flatMap((r) => Object.keys(r.headers).filter((h) => CHECKSUM_HEADER.test(h)).map((h) => `${r.method} ${r.url}: ${h}`));

test('when_required (Garage): no request carries a checksum header, bodies are signed instead, and the objects are right', async (t) => {
  const { requests, bucket, logs } = await uploadThroughProxy(t, ['--s3-provider', 'garage']);
  assert.ok(requests.length >= 8, `the proxy saw the run (${requests.length} requests)`);
  assert.deepEqual(checksumHeaders(requests), [], 'no x-amz-checksum-*, x-amz-sdk-checksum-algorithm or x-amz-trailer');
  const puts = requests.filter((r) => r.method === 'PUT' && Number(r.headers['content-length'] ?? 0) > 0);
  assert.ok(puts.length >= 4, 'small file, parts, manifest');
  for (const p of puts) assert.match(String(p.headers['x-amz-content-sha256']), /^[0-9a-f]{64}$/, `${p.url}: body signed with its SHA-256`);
  // path-style: the bucket is the first path segment, the host is the endpoint's
  for (const r of requests) assert.ok(r.url.startsWith(`/${bucket}`), `${r.method} ${r.url} is path-style`);
  assert.ok(logs.some((l) => l.msg === 'S3 store: Garage' && l.checksums === 'when_required'), 'the store is logged');
});

test('when_supported (Ceph RGW): the same run sends CRC32 checksum headers (what the proxy would have seen)', async (t) => {
  const { requests } = await uploadThroughProxy(t, ['--s3-provider', 'ceph']);
  const crc = requests.filter((r) => r.headers['x-amz-checksum-crc32'] !== undefined);
  assert.ok(crc.length >= 2, `small file and parts carry x-amz-checksum-crc32 (${crc.length} requests did)`);
});

test('a part limit makes the uploader choose larger parts: 12 MiB in 2 parts (7 MiB and the rest), not 3 of 5 MiB', async (t) => {
  const { requests, bigParts } = await uploadThroughProxy(t, ['--s3-provider', 'ceph', '--max-parts', '2']);
  const parts = requests.filter((r) => r.method === 'PUT' && /[?&]partNumber=/.test(r.url)).map((r) => Number(r.headers['content-length'])).sort((a, b) => b - a);
  // --part-size 5MiB would give 3 parts; the limit of 2 raises the part size to 12 MiB / 2, rounded up to whole MiB
  assert.deepEqual(parts, [7 * MiB, 12 * MiB + 77 - 7 * MiB], 'two UploadPart requests: 7 MiB and the rest');
  assert.equal(bigParts, 2, 'the object in S3 has 2 parts');
});

test('a store without STS and a source that needs it: exit 2, naming what the user set', async () => {
  const env = { PATH: process.env.PATH, HOME: process.env.HOME, AWS_EC2_METADATA_DISABLED: 'true' };
  const garage = await runCli(['credentials', '--once'], { ...env, SIDECAR_S3_PROVIDER: 'garage', AWS_ENDPOINT_URL: 'http://127.0.0.1:9', SIDECAR_ASSUME_ROLE_ARN: 'arn:aws:iam:::role/x' });
  assert.equal(garage.code, 2, garage.stderr);
  assert.match(garage.stderr, /^s3-sidecar: SIDECAR_S3_PROVIDER: is garage: Garage has no STS, so the assume-role source cannot get credentials there\./);
  assert.match(garage.stderr, /docs\/stores\.md/);
  const r2 = await runCli(['credentials', '--once'], { ...env, AWS_ENDPOINT_URL_S3: 'https://acc.r2.cloudflarestorage.com', AWS_ROLE_ARN: 'arn:aws:iam::1:role/x', AWS_WEB_IDENTITY_TOKEN_FILE: '/nonexistent/token' });
  assert.equal(r2.code, 2, r2.stderr);
  assert.match(r2.stderr, /^s3-sidecar: AWS_ENDPOINT_URL_S3: names Cloudflare R2 \(--s3-provider auto\), which has no STS, so the web-identity source/);
  assert.equal(r2.stderr.trim().split('\n').length, 1, 'one line');
});
