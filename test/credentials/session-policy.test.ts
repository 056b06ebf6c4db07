// The prefix-scoped session policy: its shape (pure), and that the real STS + S3 server enforces
// it — allowed inside the prefixes, denied outside, and read-only credentials cannot write.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  CompleteMultipartUploadCommand, CreateMultipartUploadCommand, DeleteObjectCommand, GetObjectCommand, HeadObjectCommand,
  ListObjectsV2Command, PutObjectCommand, S3Client, UploadPartCommand,
} from '@aws-sdk/client-s3';
import { STSClient } from '@aws-sdk/client-sts';
import { ConfigError } from '../../src/config.js';
import { buildSessionPolicy } from '../../src/credentials/session-policy.js';
import { fromAssumeRole } from '../../src/credentials/sources/assume-role.js';
import { fromWebIdentity } from '../../src/credentials/sources/web-identity.js';
import type { Credentials } from '../../src/credentials/types.js';
import { requireLab, type Lab } from '../helpers/lab.js';
import { adminSts, bucketWith } from './helpers/fixtures.js';

test('policy: read + list on the input, write + multipart (+ delete) on the output, nothing else', () => {
  const p = JSON.parse(buildSessionPolicy({ inputPrefixes: ['s3://in/job-1/images/'], outputPrefix: 's3://out/job-1', readOnly: false })!);
  const byId = Object.fromEntries(p.Statement.map((s: { Sid: string }) => [s.Sid, s]));
  assert.deepEqual(byId.Read.Action, ['s3:GetObject']);
  assert.deepEqual(byId.Read.Resource, ['arn:aws:s3:::in/job-1/images/*', 'arn:aws:s3:::out/job-1/*']);
  assert.deepEqual(byId.Write.Action, ['s3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts', 's3:DeleteObject']);
  assert.equal(byId.Write.Resource, 'arn:aws:s3:::out/job-1/*');
  assert.deepEqual(byId.List0.Condition, { StringLike: { 's3:prefix': ['job-1/images/', 'job-1/images/*'] } });
  assert.equal(p.Statement.filter((s: { Action: string[] }) => s.Action.includes('s3:DeleteObject')).length, 1, 'delete only in the output statement');
});

test('policy: the checkpoint prefix is read, listed, written and deleted like the output, and only when it is set', () => {
  const p = JSON.parse(buildSessionPolicy({
    inputPrefixes: ['s3://in/job-1/images/'], outputPrefix: 's3://out/job-1/', checkpointPrefix: 's3://ck/job-1/', readOnly: false,
  })!);
  const byId = Object.fromEntries(p.Statement.map((s: { Sid: string }) => [s.Sid, s]));
  assert.deepEqual(byId.Read.Resource, ['arn:aws:s3:::in/job-1/images/*', 'arn:aws:s3:::out/job-1/*', 'arn:aws:s3:::ck/job-1/*']);
  assert.deepEqual(byId.Write.Resource, ['arn:aws:s3:::out/job-1/*', 'arn:aws:s3:::ck/job-1/*']);
  assert.ok(byId.Write.Action.includes('s3:DeleteObject'));
  assert.deepEqual(byId.Uploads.Resource, ['arn:aws:s3:::out', 'arn:aws:s3:::ck']);
  assert.deepEqual(byId.List2.Condition, { StringLike: { 's3:prefix': ['job-1/', 'job-1/*'] } });
  assert.equal(byId.List2.Resource, 'arn:aws:s3:::ck');
  // a restore init container: checkpoint prefix without an output prefix
  const restore = JSON.parse(buildSessionPolicy({ inputPrefixes: [], checkpointPrefix: 's3://ck/job-1/', readOnly: false })!);
  assert.deepEqual(restore.Statement.map((s: { Sid: string }) => s.Sid), ['Read', 'List0', 'Write', 'Uploads']);
  assert.equal(buildSessionPolicy({ inputPrefixes: [], readOnly: false }), undefined);
});

test('policy: --read-only drops every write; KMS adds only what is needed; empty prefix = whole bucket', () => {
  const ro = buildSessionPolicy({ inputPrefixes: ['s3://in/'], outputPrefix: 's3://out/x/', readOnly: true, kmsKeyArn: 'arn:aws:kms:eu-west-1:1:key/k' })!;
  assert.doesNotMatch(ro, /PutObject|Multipart|Delete|GenerateDataKey/);
  assert.match(ro, /kms:Decrypt/);
  const list = JSON.parse(ro).Statement.find((s: { Sid: string }) => s.Sid === 'List0');
  assert.equal(list.Condition, undefined, 'the whole input bucket is listable');
  const rw = buildSessionPolicy({ inputPrefixes: [], outputPrefix: 's3://out/x/', readOnly: false, kmsKeyArn: 'arn:aws:kms:eu-west-1:1:key/k' })!;
  assert.match(rw, /kms:GenerateDataKey/);
  assert.equal(buildSessionPolicy({ inputPrefixes: [], readOnly: false }), undefined);
  assert.match(buildSessionPolicy({ inputPrefixes: [], readOnly: true })!, /"Resource":"\*"/);
});

test('policy: wildcards in a prefix and oversized policies are configuration errors', () => {
  assert.throws(() => buildSessionPolicy({ inputPrefixes: ['s3://in/a*/'], readOnly: false }), (e: unknown) => e instanceof ConfigError && /--input-prefix/.test(e.message));
  const many = Array.from({ length: 40 }, (_, i) => `s3://bucket-${i}/some/long/prefix/for/job/${i}/`);
  assert.throws(() => buildSessionPolicy({ inputPrefixes: many, readOnly: false }), /2048/);
  assert.throws(() => buildSessionPolicy({ inputPrefixes: ['http://x/'], readOnly: false }), ConfigError);
});

function s3With(lab: Lab, c: Credentials): S3Client {
  return new S3Client({ endpoint: lab.endpoint, region: lab.region, forcePathStyle: true, credentials: c });
}

async function denied(p: Promise<unknown>, what: string): Promise<void> {
  await assert.rejects(p, (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode === 403, `${what} should be denied`);
}

async function scopedSetup(t: import('node:test').TestContext, lab: Lab) {
  return {
    inB: await bucketWith(t, lab, 'pol-in', ['job/images/a.jpg', 'other-job/b.jpg']),
    outB: await bucketWith(t, lab, 'pol-out', ['elsewhere/c.tif']),
  };
}

test('real STS + S3: AssumeRole credentials work inside the prefixes and are denied outside', async (t) => {
  const lab = requireLab(t);
  const { inB, outB } = await scopedSetup(t, lab);
  const policy = buildSessionPolicy({ inputPrefixes: [`s3://${inB}/job/`], outputPrefix: `s3://${outB}/job/`, readOnly: false });
  const c = await fromAssumeRole({ sts: adminSts(t, lab), roleArn: lab.roleArn, sessionName: 'policy-test', durationSeconds: 900, policy })();
  const s3 = s3With(lab, c);
  t.after(() => s3.destroy());

  // allowed: list + read the input prefix, write (single + multipart) and read back the output prefix
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: inB, Prefix: 'job/' }));
  assert.deepEqual(listed.Contents?.map((o) => o.Key), ['job/images/a.jpg']);
  const got = await s3.send(new GetObjectCommand({ Bucket: inB, Key: 'job/images/a.jpg' }));
  assert.equal(await got.Body!.transformToString(), 'body of job/images/a.jpg');
  await s3.send(new PutObjectCommand({ Bucket: outB, Key: 'job/odm_orthophoto.tif', Body: 'tif' }));
  const mpu = await s3.send(new CreateMultipartUploadCommand({ Bucket: outB, Key: 'job/big.laz' }));
  const part = await s3.send(new UploadPartCommand({ Bucket: outB, Key: 'job/big.laz', UploadId: mpu.UploadId, PartNumber: 1, Body: 'only part' }));
  await s3.send(new CompleteMultipartUploadCommand({ Bucket: outB, Key: 'job/big.laz', UploadId: mpu.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: part.ETag }] } }));
  assert.equal((await s3.send(new HeadObjectCommand({ Bucket: outB, Key: 'job/big.laz' }))).ContentLength, 9);

  // denied: other prefixes, listing the bucket root, writing or deleting the input
  await denied(s3.send(new ListObjectsV2Command({ Bucket: inB })), 'listing the input bucket root');
  await denied(s3.send(new ListObjectsV2Command({ Bucket: inB, Prefix: 'other-job/' })), 'listing another job');
  await denied(s3.send(new GetObjectCommand({ Bucket: inB, Key: 'other-job/b.jpg' })), 'reading another job');
  await denied(s3.send(new PutObjectCommand({ Bucket: inB, Key: 'job/images/new.jpg', Body: 'x' })), 'writing the input prefix');
  await denied(s3.send(new PutObjectCommand({ Bucket: outB, Key: 'elsewhere/d.tif', Body: 'x' })), 'writing outside the output prefix');
  await denied(s3.send(new GetObjectCommand({ Bucket: outB, Key: 'elsewhere/c.tif' })), 'reading outside the output prefix');
  await denied(s3.send(new DeleteObjectCommand({ Bucket: inB, Key: 'job/images/a.jpg' })), 'deleting an input');
  await denied(s3.send(new DeleteObjectCommand({ Bucket: outB, Key: 'elsewhere/c.tif' })), 'deleting outside the output prefix');
  // allowed: the final pass removes a renamed intermediate it uploaded below the output prefix
  await s3.send(new DeleteObjectCommand({ Bucket: outB, Key: 'job/odm_orthophoto.tif' }));
});

test('real STS + S3: read-only web-identity credentials can read the input but cannot PutObject', async (t) => {
  const lab = requireLab(t);
  assert.ok(lab.webRoleArn && lab.webIdentityTokenFile, 'the lab has an OIDC provider');
  const { inB, outB } = await scopedSetup(t, lab);
  const policy = buildSessionPolicy({ inputPrefixes: [`s3://${inB}/job/`], outputPrefix: `s3://${outB}/job/`, readOnly: true });
  const sts = new STSClient({ region: lab.region, endpoint: lab.endpoint });
  t.after(() => sts.destroy());
  const c = await fromWebIdentity({ sts, roleArn: lab.webRoleArn, tokenFile: lab.webIdentityTokenFile, sessionName: 'ro-test', durationSeconds: 900, policy })();
  assert.match(readFileSync(lab.webIdentityTokenFile, 'utf8'), /^ey/);
  const s3 = s3With(lab, c);
  t.after(() => s3.destroy());
  assert.equal((await s3.send(new ListObjectsV2Command({ Bucket: inB, Prefix: 'job/' }))).KeyCount, 1);
  await denied(s3.send(new PutObjectCommand({ Bucket: outB, Key: 'job/result.tif', Body: 'x' })), 'read-only PutObject to the output prefix');
  await denied(s3.send(new CreateMultipartUploadCommand({ Bucket: outB, Key: 'job/big.laz' })), 'read-only multipart upload');
  await denied(s3.send(new DeleteObjectCommand({ Bucket: inB, Key: 'job/images/a.jpg' })), 'read-only delete');
  await denied(s3.send(new GetObjectCommand({ Bucket: inB, Key: 'other-job/b.jpg' })), 'reading outside the input prefix');
});
