// The daemon's own S3 client. Two things matter for 48-hour jobs:
// - credentials come from the refresher through a provider function (never a static object);
// - failures go through the same classification and policy as the lean requests: the SDK's
//   retries use classify() and the request backoff (retryStrategy), and an expired session is
//   refreshed once and the request retried (withSession, the one expired-session path).
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { S3Client } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import type { Config } from '../config.js';
import type { CredentialHolder } from '../credentials/types.js';
import type { RetryStrategyV2, RetryToken } from '@smithy/types';
import { sleep } from '../util/backoff.js';
import { classify, withSession } from './classify.js';
import { RETRY_POLICIES, retryDelay, type RetryPolicy } from './retry.js';
import { storeOf } from '../config/stores.js';
import { stripChecksumHeaders } from './checksum-headers.js';

export interface S3ClientOptions {
  /** sockets to allow per host: at least the transfer concurrency (the SDK's default of 50 queues the rest) */
  maxSockets: number;
  /** SDK-level retries of one request (throttling, 5xx, resets) */
  maxAttempts?: number;
  /** abort a request whose socket is idle this long */
  requestTimeoutMs?: number;
  /** abort a request (including a response body being streamed) after this long without a byte */
  socketTimeoutMs?: number;
  /** WHEN_REQUIRED: the SDK validates response checksums only when the caller sets ChecksumMode (callers that verify bodies themselves avoid hashing twice) */
  responseChecksumValidation?: 'WHEN_SUPPORTED' | 'WHEN_REQUIRED';
}

export function createS3Client(config: Config, holder: CredentialHolder, opts: S3ClientOptions): S3Client {
  const agentOpts = { keepAlive: true, maxSockets: opts.maxSockets, maxFreeSockets: opts.maxSockets };
  const store = storeOf(config);
  // a store that rejects checksum headers gets none: neither CRC32 on bodies nor checksum mode
  const onlyRequired = store.checksums === 'when_required';
  const client = new S3Client({
    region: config.region,
    endpoint: config.endpointUrl,
    forcePathStyle: store.pathStyle,
    credentials: sdkProvider(holder),
    maxAttempts: opts.maxAttempts ?? 3,
    retryStrategy: sdkRetryStrategy(RETRY_POLICIES.request(opts.maxAttempts ?? 3)),
    ...(onlyRequired ? { requestChecksumCalculation: 'WHEN_REQUIRED' } : {}),
    ...(onlyRequired || opts.responseChecksumValidation ? { responseChecksumValidation: onlyRequired ? 'WHEN_REQUIRED' : opts.responseChecksumValidation } : {}),
    requestHandler: new NodeHttpHandler({
      httpAgent: new HttpAgent(agentOpts),
      httpsAgent: new HttpsAgent(agentOpts),
      connectionTimeout: 10_000,
      requestTimeout: opts.requestTimeoutMs ?? 60_000,
      ...(opts.socketTimeoutMs ? { socketTimeout: opts.socketTimeoutMs } : {}),
    }),
  });
  if (onlyRequired) stripChecksumHeaders(client);
  client.middlewareStack.add(
    (next) => (args) => withSession(holder, () => next(args)),
    { step: 'initialize', name: 'sidecarExpiredTokenRetry', priority: 'high' },
  );
  return client;
}

/**
 * The SDK's retries of one request, by our policy: classify() decides (a session rejected as
 * expired is not retried here: withSession refreshes it first), the policy's backoff and our
 * sleep set the pace.
 */
export function sdkRetryStrategy(policy: RetryPolicy): RetryStrategyV2 {
  const token = (count: number): RetryToken => ({ getRetryCount: () => count, getRetryDelay: () => 0 });
  return {
    acquireInitialRetryToken: async () => token(0),
    refreshRetryTokenForRetry: async (t, info) => {
      const failures = t.getRetryCount() + 1;
      if (failures > policy.retries || classify(info.error, { write: policy.write }).action !== 'retry') throw info.error;
      await sleep(retryDelay(policy, failures));
      return token(failures);
    },
    recordSuccess: () => {},
  };
}

/**
 * The SDK memoizes identities until 5 min before `expiration`. We hand it an expiration at most
 * a minute away so it asks the refresher (an in-memory read) on every request: a credential
 * rotation or forced refresh takes effect on the very next request instead of when the SDK's
 * private copy runs out.
 */
function sdkProvider(holder: CredentialHolder) {
  return async () => {
    const c = await holder.provider();
    const exp = c.expiration ? new Date(Math.min(c.expiration.getTime(), Date.now() + 60_000)) : undefined;
    return { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken, expiration: exp };
  };
}
