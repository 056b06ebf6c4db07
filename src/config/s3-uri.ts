// s3://bucket/prefix/ locations, as ScaleODM passes them in S3_INPUT_PREFIX / S3_OUTPUT_PREFIX.
import { ConfigError } from './define.js';

export interface S3Location {
  bucket: string;
  /** key prefix, '' or ending in '/' */
  prefix: string;
}

const BUCKET = /^[a-z0-9][a-z0-9.\-_]{1,254}$/i;

export function parseS3Uri(uri: string, name: string): S3Location {
  const m = /^s3:\/\/([^/]+)(?:\/(.*))?$/.exec(uri.trim());
  if (!m || !BUCKET.test(m[1]!)) throw new ConfigError(name, `must look like s3://bucket/prefix/ (got "${uri}")`);
  let prefix = m[2] ?? '';
  if (prefix.startsWith('/')) throw new ConfigError(name, `prefix must not start with "/" (got "${uri}")`);
  // A prefix names a folder: "s3://b/job" and "s3://b/job/" both mean keys below job/.
  if (prefix !== '' && !prefix.endsWith('/')) prefix += '/';
  return { bucket: m[1]!, prefix };
}

export function formatS3Uri(loc: S3Location, key = ''): string {
  return `s3://${loc.bucket}/${loc.prefix}${key}`;
}
