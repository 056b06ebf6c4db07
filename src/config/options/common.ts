import { bool, list, oneOf, str, url } from '../define.js';

export const commonOptions = {
  logLevel: oneOf(['trace', 'debug', 'info', 'warn', 'error', 'silent'] as const, {
    flag: 'log-level', env: 'SIDECAR_LOG_LEVEL', group: 'common', default: 'info',
    help: 'Log level of the JSON logs on stdout.',
  }),
  region: str({
    flag: 'region', env: ['SIDECAR_REGION', 'AWS_REGION', 'AWS_DEFAULT_REGION'], group: 'common', default: 'us-east-1',
    help: 'AWS region for S3 and STS (always passed explicitly, never guessed by the SDK).',
  }),
  endpointUrl: url({
    flag: 'endpoint-url', env: ['SIDECAR_ENDPOINT_URL', 'AWS_ENDPOINT_URL_S3', 'AWS_ENDPOINT_URL', 'AWS_S3_ENDPOINT'], group: 'common',
    defaultText: 'AWS S3', help: 'S3 endpoint for MinIO, Ceph RGW, Garage and other S3-compatible stores.',
  }),
  stsEndpointUrl: url({
    flag: 'sts-endpoint-url', env: ['SIDECAR_STS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_STS', 'AWS_ENDPOINT_URL'], group: 'common',
    defaultText: 'regional AWS STS', help: 'STS endpoint (AssumeRole, AssumeRoleWithWebIdentity).',
  }),
  forcePathStyle: bool({
    flag: 'force-path-style', env: 'SIDECAR_FORCE_PATH_STYLE', group: 'common',
    defaultText: "the store's: off for AWS, on for the others", help: 'Path-style bucket addressing (needed by most S3-compatible stores); --no-force-path-style puts the bucket in the host name.',
  }),
  inputPrefix: list({
    flag: 'input-prefix', env: ['SIDECAR_INPUT_PREFIX', 'S3_INPUT_PREFIX'], group: 'common',
    help: 'Input location(s) as s3://bucket/prefix/ (comma-separated). Read + list only; scopes the session policy.',
  }),
  outputPrefix: str({
    flag: 'output-prefix', env: ['SIDECAR_OUTPUT_PREFIX', 'S3_OUTPUT_PREFIX'], group: 'common',
    help: 'Output location as s3://bucket/prefix/. Write only; scopes the session policy.',
  }),
};
