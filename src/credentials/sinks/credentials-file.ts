// Hand-off 1: an AWS shared credentials file. Short-lived consumers (each `aws` CLI run) read
// it fresh; long-running SDK processes read it once and must use the endpoint instead.
import type { Credentials } from '../types.js';
import { rewrite, type FileOptions } from './file-options.js';
import { upsertSection } from './profile-ini.js';

export function credentialsFileSink(path: string, profile: string, opts: FileOptions) {
  return (c: Credentials) => rewrite(path, (old) => upsertSection(old, profile, {
    aws_access_key_id: c.accessKeyId,
    aws_secret_access_key: c.secretAccessKey,
    aws_session_token: c.sessionToken, // removed when the new credentials have none
  }), opts);
}
