// Hand-off 2: credential_process JSON (Version 1). With Expiration present, botocore, the JS,
// Go and Java SDKs treat the credentials as refreshable and run the process again in time.
import { atomicWrite } from '../../util/atomic-write.js';
import type { Credentials } from '../types.js';
import type { FileOptions } from './file-options.js';

export function processJson(c: Credentials): string {
  return JSON.stringify({
    Version: 1,
    AccessKeyId: c.accessKeyId,
    SecretAccessKey: c.secretAccessKey,
    ...(c.sessionToken ? { SessionToken: c.sessionToken } : {}),
    ...(c.expiration ? { Expiration: c.expiration.toISOString() } : {}),
  });
}

export function processFileSink(path: string, opts: FileOptions) {
  return (c: Credentials) => atomicWrite(path, `${processJson(c)}\n`, opts);
}
