// The transport and MD5 variants the benchmark compares (SIDECAR_HTTP_CLIENT=lean|undici,
// SIDECAR_MD5=simd|crypto; docs/benchmarks.md): each downloads the same prefix from the real
// server byte for byte, through every path a body takes (gathered in memory below 1 MiB, streamed
// into a file and hashed on the MD5 worker, fetched as byte ranges, empty, awkward keys), and says
// in its log which variant ran. A value outside the choices is a configuration error (exit 2).
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { bytes, download, explain, files, labBucket, seed, sha256, summary, tempDir } from './helpers.js';

const VARIANTS = [
  { SIDECAR_HTTP_CLIENT: 'lean', SIDECAR_MD5: 'simd' },
  { SIDECAR_HTTP_CLIENT: 'undici', SIDECAR_MD5: 'simd' },
  { SIDECAR_HTTP_CLIENT: 'lean', SIDECAR_MD5: 'crypto' },
  { SIDECAR_HTTP_CLIENT: 'undici', SIDECAR_MD5: 'crypto' },
];

test('every transport and MD5 variant downloads the same prefix byte for byte', async (t) => {
  const { lab, bucket, s3 } = await labBucket(t, 'dl-variants');
  const objects: Record<string, Buffer> = {
    'job/empty.bin': Buffer.alloc(0),
    'job/tiny.txt': bytes(1, 't'),
    'job/small.jpg': bytes(200_000, 's'),
    'job/dir with space/ü+é=.jpg': bytes(300_001, 'u'),
    'job/ranged.tif': bytes(5_000_000 + 17, 'r'),
  };
  // over 1 MiB: streamed into its file, its MD5 on the worker
  for (let i = 0; i < 6; i++) objects[`job/streamed/IMG_${i}.JPG`] = bytes(1_100_000 + i * 333_333, `m${i}`);
  await seed(s3, bucket, objects);
  const want = Object.fromEntries(Object.entries(objects).map(([k, v]) => [k.slice('job/'.length), sha256(v)]).sort(([a], [b]) => (a! < b! ? -1 : 1)));

  for (const variant of VARIANTS) {
    const name = `${variant.SIDECAR_HTTP_CLIENT}+${variant.SIDECAR_MD5}`;
    const dir = join(await tempDir(t), 'in');
    const r = await download(lab, ['--input-prefix', `s3://${bucket}/job/`, '--input-dir', dir,
      '--range-threshold', '4MiB', '--range-size', '1MiB', '--download-concurrency', '4'], variant);
    assert.equal(r.code, 0, `${name}: ${explain(r)}`);
    assert.deepEqual(await files(dir), want, name);
    const s = summary(r);
    assert.equal(s.failed, 0, name);
    const said = (re: RegExp) => r.logs.some((l) => typeof l.msg === 'string' && re.test(l.msg));
    assert.equal(said(/^SIDECAR_HTTP_CLIENT=undici: GET, HEAD and small PUTs go through undici/), variant.SIDECAR_HTTP_CLIENT === 'undici', `${name}: the client it says it used`);
    assert.equal(said(/^SIDECAR_MD5=simd: MD5 runs WebAssembly SIMD on the worker thread/), variant.SIDECAR_MD5 === 'simd', `${name}: the MD5 it says it used`);
    // a retry is a warn naming the object (`what`): none here, nor an error
    assert.ok(!r.logs.some((l) => l.level === 'error' || (l.level === 'warn' && l.what !== undefined)), `${name}: no retries or failures:\n${explain(r)}`);
  }
});

test('an unknown SIDECAR_HTTP_CLIENT or SIDECAR_MD5 is a configuration error that names the variable', async (t) => {
  const { lab, bucket } = await labBucket(t, 'dl-variants-bad');
  for (const [variable, value] of [['SIDECAR_HTTP_CLIENT', 'curl'], ['SIDECAR_MD5', 'sha1']] as const) {
    const dir = join(await tempDir(t), 'in');
    const r = await download(lab, ['--input-prefix', `s3://${bucket}/job/`, '--input-dir', dir], { [variable]: value });
    assert.equal(r.code, 2, explain(r));
    assert.match(r.stdout + r.stderr, new RegExp(`${variable}: must be .* \\(got "${value}"\\)`));
  }
});
