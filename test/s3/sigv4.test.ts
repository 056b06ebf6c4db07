// The hand-written SigV4 signer (src/s3/sigv4.ts): AWS's published example, and the same
// signature as the SDK's own signer (@smithy/signature-v4, as a reference only) for requests of
// every shape the lean paths send. The real server checks it in every lean request of the suite.
import assert from 'node:assert/strict';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { SignatureV4 } from '@smithy/signature-v4';
import { signRequest, uriEncode, type SigningCredentials } from '../../src/s3/sigv4.js';

test("AWS's example request (IAM ListUsers, 2015-08-30) gets AWS's signature", () => {
  const headers = signRequest({
    method: 'GET',
    path: '/',
    query: { Action: 'ListUsers', Version: '2010-05-08' },
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', host: 'iam.amazonaws.com' },
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
    region: 'us-east-1',
    service: 'iam',
    date: new Date('2015-08-30T12:36:00Z'),
  });
  assert.equal(headers['x-amz-date'], '20150830T123600Z');
  assert.equal(headers.authorization,
    'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, ' +
    'Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7');
});

type Data = string | ArrayBuffer | ArrayBufferView;
const raw = (d: Data): string | Uint8Array =>
  typeof d === 'string' ? d : d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);

class NodeSha256 {
  private readonly h;
  constructor(secret?: Data) {
    this.h = secret ? createHmac('sha256', raw(secret)) : createHash('sha256');
  }
  update(d: Data): void {
    this.h.update(raw(d));
  }
  async digest(): Promise<Uint8Array> {
    return this.h.digest();
  }
}

test('the same signature as the SDK signer for GET/HEAD/PUT, awkward keys, queries, ranges and session tokens', async () => {
  const keys = ['plain.jpg', "a b+c%25d ü (1)!'*.jpg", '日本/語.txt', 'x'.repeat(300), 'q?=&#.bin', 'tilde~dot.../x', ' lead '];
  let n = 0;
  for (const key of keys) {
    for (const method of ['GET', 'HEAD', 'PUT'] as const) {
      for (const session of [false, true]) {
        const credentials: SigningCredentials = {
          accessKeyId: `AKID${n}`, secretAccessKey: randomBytes(20).toString('base64'),
          ...(session ? { sessionToken: randomBytes(60).toString('base64') } : {}),
        };
        const path = `/bucket-${n}/${key.split('/').map(uriEncode).join('/')}`;
        const query = n % 3 === 0 ? { 'list-type': '2', prefix: key, 'continuation-token': 'a+b/c=', delimiter: '/' } : undefined;
        const payload = method === 'PUT' ? createHash('sha256').update(key).digest('hex') : 'UNSIGNED-PAYLOAD';
        const headers: Record<string, string> = {
          host: '127.0.0.1:7580', 'x-amz-content-sha256': payload,
          ...(n % 2 ? { range: `bytes=0-${n}` } : {}), ...(n % 4 === 1 ? { 'if-match': '"abc"' } : {}),
          // values SigV4 trims and folds, and whitespace it keeps (the signer skips that work for values that need none)
          ...(n % 5 === 2 ? { 'x-amz-meta-note': n % 10 === 2 ? ' two  spaces\tand a tab ' : 'line\r\nbreak, no-break\u00a0space ' } : {}),
        };
        // within one second and across seconds (the signer reuses the date string within a second)
        const date = new Date(Date.UTC(2026, 10, 23, 4, Math.floor(n / 4) % 60, Math.floor(n / 2) % 2, n % 2 * 700));
        const region = n % 2 ? 'us-east-1' : 'eu-central-1';
        const ours = signRequest({ method, path, query, headers, credentials, region, service: 's3', date });
        const sdk = await new SignatureV4({ service: 's3', region, uriEscapePath: false, sha256: NodeSha256, credentials })
          .sign({ method, protocol: 'http:', hostname: '127.0.0.1', port: 7580, path, headers: { ...headers }, query: query ?? {} }, { signingDate: date });
        assert.equal(ours.authorization, sdk.headers.authorization, `${method} ${key} (session: ${session})`);
        assert.equal(ours['x-amz-security-token'], credentials.sessionToken);
        n++;
      }
    }
  }
  assert.equal(n, keys.length * 6);
});
