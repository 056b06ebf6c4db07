// The one error classification (src/s3/classify.ts) and the one retry loop (src/s3/retry.ts): each
// kind of failure and the action it leads to, for downloads and uploads alike. No server needed:
// the real-server tests (object-get.test.ts, expired-session.test.ts, outage.test.ts) see the same
// errors arrive from Ceph.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classify, type RetryAction } from '../../src/s3/classify.js';
import { VerifyError } from '../../src/s3/errors.js';
import { S3HttpError } from '../../src/s3/transport.js';
import { RETRY_POLICIES, retryDelay, withRetries } from '../../src/s3/retry.js';
import { sdkRetryStrategy } from '../../src/s3/sdk-client.js';
import { CredentialError, type CredentialHolder, type Credentials } from '../../src/credentials/types.js';
import { UnsafePathError } from '../../src/util/keys.js';
import { backoffDelay, sleep } from '../../src/util/backoff.js';

const answer = (status: number, code: string) => new S3HttpError(status, code, '');
/** shaped as the SDK's ServiceException */
const sdkError = (status: number, code: string) => Object.assign(new Error(code), { name: code, $metadata: { httpStatusCode: status } });
const errno = (code: string, message = code) => Object.assign(new Error(message), { code });

test('each S3 answer leads to one action, the same for the lean transport and the SDK', () => {
  const table: [number, string, RetryAction][] = [
    [500, 'InternalError', 'retry'],
    [502, 'Http502', 'retry'],
    [503, 'SlowDown', 'retry'],
    [503, 'ServiceUnavailable', 'retry'],
    [429, 'TooManyRequests', 'retry'],
    [400, 'Throttling', 'retry'],
    [400, 'ThrottlingException', 'retry'],
    [400, 'RequestTimeout', 'retry'],
    [408, 'Http408', 'retry'],
    [403, 'RequestTimeTooSkewed', 'retry'],
    [412, 'PreconditionFailed', 'retry'],
    [400, 'ExpiredToken', 'refresh-and-retry'],
    [400, 'ExpiredTokenException', 'refresh-and-retry'],
    [400, 'InvalidToken', 'refresh-and-retry'],
    [400, 'TokenRefreshRequired', 'refresh-and-retry'],
    [403, 'RequestExpired', 'refresh-and-retry'],
    [403, 'AccessDenied', 'fatal'],
    [403, 'SignatureDoesNotMatch', 'fatal'],
    [403, 'InvalidAccessKeyId', 'fatal'],
    [404, 'NoSuchKey', 'fatal'],
    [404, 'NoSuchBucket', 'fatal'],
    [404, 'NotFound', 'fatal'],
    [400, 'InvalidArgument', 'fatal'],
    [400, 'EntityTooLarge', 'fatal'],
    [416, 'InvalidRange', 'fatal'],
  ];
  for (const [status, code, action] of table) {
    for (const err of [answer(status, code), sdkError(status, code)]) {
      const c = classify(err);
      assert.equal(c.action, action, `${status} ${code} (${err.constructor.name})`);
      assert.equal(c.network, false, `${status} ${code} is an answer`);
      assert.ok(c.reason.length > 0);
    }
  }
});

test('412: a download\'s If-Match GET looks again; a conditional write lost its race for good', () => {
  assert.deepEqual(classify(answer(412, 'PreconditionFailed')), { action: 'retry', reason: 'object changed since it was listed (412 on If-Match)', network: false });
  assert.equal(classify(answer(412, 'PreconditionFailed'), { write: true }).action, 'fatal');
  assert.equal(RETRY_POLICIES.uploadFile(3).write, true, 'whole-file uploads write');
  assert.equal(RETRY_POLICIES.request(3).write, true, 'single upload requests write');
  assert.equal(RETRY_POLICIES.download(3).write, undefined, 'downloads read');
});

test('403 AccessDenied is expiry only for a session at its end or rotated since; otherwise a denial', () => {
  const creds = (msLeft: number): Credentials => ({ accessKeyId: 'AK', secretAccessKey: 's', source: 'test', expiration: new Date(Date.now() + msLeft) });
  const fresh = creds(3600_000);
  const holder = (current: Credentials | undefined) => ({ current: () => current }) as CredentialHolder;
  const denied = answer(403, 'AccessDenied');
  assert.equal(classify(denied, { session: { holder: holder(fresh), used: fresh } }).action, 'fatal', 'a fresh session that is denied is a policy denial');
  assert.equal(classify(denied, { session: { holder: holder(fresh), used: creds(30_000) } }).action, 'refresh-and-retry', 'rotated since');
  const ending = creds(30_000);
  assert.equal(classify(denied, { session: { holder: holder(ending), used: ending } }).action, 'refresh-and-retry', 'within a minute of its end');
  assert.equal(classify(denied, { session: { holder: holder(undefined), used: undefined } }).action, 'refresh-and-retry', 'signed with nothing valid');
  assert.equal(classify(sdkError(403, 'Http403'), { session: { holder: holder(ending), used: ending } }).action, 'refresh-and-retry', 'a bare 403 too');
  assert.equal(classify(denied).action, 'fatal', 'without a session to judge, a denial');
});

test('no answer at all: network failures are retried and flagged for the server watch; local trouble is fatal', () => {
  for (const code of ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND', 'ERR_STREAM_PREMATURE_CLOSE', 'UND_ERR_SOCKET']) {
    assert.deepEqual([classify(errno(code)).action, classify(errno(code)).network], ['retry', true], code);
  }
  const timeout = Object.assign(new Error('no data for 60000 ms'), { name: 'TimeoutError' });
  assert.deepEqual([classify(timeout).action, classify(timeout).network], ['retry', true]);
  assert.equal(classify(new Error('socket hang up')).network, true);
  for (const code of ['ENOSPC', 'EDQUOT', 'EACCES', 'EPERM', 'EROFS', 'ENOTDIR', 'EISDIR', 'ELOOP', 'ENAMETOOLONG', 'EMFILE']) {
    assert.equal(classify(errno(code)).action, 'fatal', code);
  }
  assert.equal(classify(new UnsafePathError('../etc/passwd', 'leaves the input dir')).action, 'fatal');
  const odd = classify(new Error('unexpected end of XML'));
  assert.deepEqual([odd.action, odd.network], ['retry', false], 'an unknown error without an answer: one more try is cheap');
});

test('a body that did not verify is fetched (or sent) again; credential errors follow their own verdict', () => {
  const v = classify(new VerifyError('short body: got 3 of 10 bytes'));
  assert.deepEqual(v, { action: 'retry', reason: 'body did not verify: short body: got 3 of 10 bytes', network: false });
  assert.equal(classify(new CredentialError('STS is down', 'network', true)).action, 'retry');
  assert.equal(classify(new CredentialError('role may not be assumed', 'AccessDenied', false)).action, 'fatal');
  const expiredNoStatus = Object.assign(new Error('expired'), { name: 'ExpiredToken' });
  assert.equal(classify(expiredNoStatus).action, 'refresh-and-retry');
});

test('withRetries: counted budget, fatal at once, a final error untouched, abort wins', async () => {
  const signal = new AbortController().signal;
  const fast = { retries: 2, backoff: { baseMs: 1, maxMs: 2, jitter: 'full' as const }, signal };
  let calls = 0;
  await assert.rejects(withRetries(fast, 'x', async () => { calls++; throw answer(503, 'SlowDown'); }), /SlowDown/);
  assert.equal(calls, 3, 'the first try and two retries');
  calls = 0;
  await assert.rejects(withRetries(fast, 'x', async () => { calls++; throw answer(404, 'NoSuchKey'); }), /NoSuchKey/);
  assert.equal(calls, 1, 'fatal: no retry');
  calls = 0;
  const final = new Error('file changed');
  await assert.rejects(withRetries({ ...fast, isFinal: (e) => e === final }, 'x', async () => { calls++; throw final; }), (e) => e === final);
  assert.equal(calls, 1);
  calls = 0;
  assert.equal(await withRetries(fast, 'x', async (attempt) => { calls++; if (attempt < 2) throw answer(400, 'ExpiredToken'); return 'ok'; }), 'ok',
    'a session still rejected after the transport refreshed it is retried against the budget');
  const ac = new AbortController();
  const slow = withRetries({ ...fast, backoff: { baseMs: 60_000, maxMs: 60_000, jitter: 'equal' }, signal: ac.signal }, 'x', async () => { throw answer(500, 'InternalError'); });
  setTimeout(() => ac.abort(new Error('stopped')), 20);
  await assert.rejects(slow, /stopped/, 'the one sleep is abortable');
});

test('the SDK retries through the same policy: transient errors up to its budget, never an expired session or a denial', async () => {
  const s = sdkRetryStrategy({ retries: 2, backoff: { baseMs: 1, maxMs: 1, jitter: 'full' } });
  let t = await s.acquireInitialRetryToken('');
  t = await s.refreshRetryTokenForRetry(t, { error: sdkError(503, 'SlowDown') as never, errorType: 'THROTTLING' });
  t = await s.refreshRetryTokenForRetry(t, { error: errno('ECONNRESET') as never, errorType: 'TRANSIENT' });
  assert.equal(t.getRetryCount(), 2);
  await assert.rejects(s.refreshRetryTokenForRetry(t, { error: sdkError(503, 'SlowDown') as never, errorType: 'THROTTLING' }), /SlowDown/, 'budget spent');
  const t0 = await s.acquireInitialRetryToken('');
  await assert.rejects(s.refreshRetryTokenForRetry(t0, { error: sdkError(400, 'ExpiredToken') as never, errorType: 'CLIENT_ERROR' }), /ExpiredToken/, 'left to withSession');
  await assert.rejects(s.refreshRetryTokenForRetry(t0, { error: sdkError(403, 'AccessDenied') as never, errorType: 'CLIENT_ERROR' }), /AccessDenied/);
});

test('one backoff: exponential steps, full or equal jitter, capped; one sleep that stops on abort', async () => {
  assert.equal(backoffDelay({ failures: 3, baseMs: 100, maxMs: 10_000, jitter: 'full', random: 1 }), 400);
  assert.equal(backoffDelay({ failures: 3, baseMs: 100, maxMs: 10_000, jitter: 'full', random: 0 }), 0);
  assert.equal(backoffDelay({ failures: 3, baseMs: 100, maxMs: 10_000, jitter: 'equal', random: 0 }), 200);
  assert.equal(backoffDelay({ failures: 40, baseMs: 100, maxMs: 10_000, jitter: 'equal', random: 1 }), 10_000);
  for (let f = 1; f < 12; f++) assert.ok(retryDelay(RETRY_POLICIES.download(5), f) <= Math.min(10_000, 250 * 2 ** (f - 1)));
  assert.equal(await sleep(1), true);
  const ac = new AbortController();
  const started = Date.now();
  const s = sleep(60_000, ac.signal);
  ac.abort();
  assert.equal(await s, false);
  assert.ok(Date.now() - started < 1000);
});
