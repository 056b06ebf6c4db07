import { bool, duration, int, list, oneOf, str } from '../define.js';

export const CREDENTIAL_SOURCES = ['auto', 'control-plane', 'web-identity', 'assume-role', 'chain', 'static'] as const;

export const credentialOptions = {
  credentialsSource: oneOf(CREDENTIAL_SOURCES, {
    flag: 'credentials-source', env: 'SIDECAR_CREDENTIALS_SOURCE', group: 'credentials', default: 'auto',
    help: 'Where credentials come from. auto: control-plane if its URL is set, else web-identity if AWS_ROLE_ARN + token file, else assume-role if its ARN is set, else the default chain.',
  }),
  controlPlaneUrl: str({
    flag: 'control-plane-url', env: 'SIDECAR_CONTROL_PLANE_URL', group: 'credentials',
    help: 'HTTP(S) URL that returns credentials for this job (see "Control-plane contract").',
  }),
  controlPlaneTokenFile: str({
    flag: 'control-plane-token-file', env: 'SIDECAR_CONTROL_PLANE_TOKEN_FILE', group: 'credentials',
    help: 'File holding the bearer token for the control plane; re-read on every call (projected tokens rotate).',
  }),
  controlPlaneCaFile: str({
    flag: 'control-plane-ca-file', env: 'SIDECAR_CONTROL_PLANE_CA_FILE', group: 'credentials',
    help: 'PEM CA bundle for a control plane with a private TLS certificate.',
  }),
  roleArn: str({
    flag: 'role-arn', env: ['SIDECAR_ROLE_ARN', 'AWS_ROLE_ARN'], group: 'credentials',
    help: 'Role for AssumeRoleWithWebIdentity (IRSA / OpenShift STS).',
  }),
  webIdentityTokenFile: str({
    flag: 'web-identity-token-file', env: ['SIDECAR_WEB_IDENTITY_TOKEN_FILE', 'AWS_WEB_IDENTITY_TOKEN_FILE'], group: 'credentials',
    help: 'Projected service-account token for AssumeRoleWithWebIdentity; re-read on every call.',
  }),
  assumeRoleArn: str({
    flag: 'assume-role-arn', env: 'SIDECAR_ASSUME_ROLE_ARN', group: 'credentials',
    help: 'Role for AssumeRole, using the default chain for the base credentials.',
  }),
  roleSessionName: str({
    flag: 'role-session-name', env: ['SIDECAR_ROLE_SESSION_NAME', 'AWS_ROLE_SESSION_NAME'], group: 'credentials',
    defaultText: 's3-sidecar-<hostname>', help: 'STS session name; sanitised to 2-64 characters of [\\w+=,.@-].',
  }),
  externalId: str({
    flag: 'external-id', env: 'SIDECAR_EXTERNAL_ID', group: 'credentials',
    help: 'External ID for AssumeRole.',
  }),
  sessionTags: list({
    flag: 'session-tags', env: 'SIDECAR_SESSION_TAGS', group: 'credentials',
    help: 'Session tags for AssumeRole as key=value,key=value.',
  }),
  sourceIdentity: str({
    flag: 'source-identity', env: 'SIDECAR_SOURCE_IDENTITY', group: 'credentials',
    help: 'SourceIdentity for AssumeRole (2-64 characters of [\\w+=,.@-]).',
  }),
  sessionDuration: duration({
    flag: 'session-duration', env: 'SIDECAR_SESSION_DURATION', group: 'credentials', default: 3_600_000,
    help: 'Requested STS session lifetime (900s to the role maximum, 12h at most; 1h when roles are chained).',
  }),
  sessionPolicy: bool({
    flag: 'session-policy', env: 'SIDECAR_SESSION_POLICY', group: 'credentials', default: true,
    help: 'Pass an inline session policy scoped to the input/output prefixes (web-identity and assume-role).',
  }),
  readOnly: bool({
    flag: 'read-only', env: 'SIDECAR_READ_ONLY', group: 'credentials',
    help: 'Drop all write actions from the session policy.',
  }),
  kmsKeyArn: str({
    flag: 'kms-key-arn', env: 'SIDECAR_KMS_KEY_ARN', group: 'credentials',
    help: 'KMS key used by the buckets (SSE-KMS); adds kms:Decrypt / GenerateDataKey for it to the session policy.',
  }),
  refreshMinRemaining: duration({
    flag: 'refresh-min-remaining', env: 'SIDECAR_REFRESH_MIN_REMAINING', group: 'credentials', default: 1_200_000,
    help: 'Refresh so that handed-out credentials keep at least this long (botocore refreshes at 15 min left).',
  }),
  refreshMaxBackoff: duration({
    flag: 'refresh-max-backoff', env: 'SIDECAR_REFRESH_MAX_BACKOFF', group: 'credentials', default: 300_000,
    help: 'Longest wait between retries of a failed refresh (starts at 1s, doubles, with jitter).',
  }),
  stsRetries: int({
    flag: 'sts-retries', env: 'SIDECAR_STS_RETRIES', group: 'credentials', default: 3, min: 0, max: 20,
    help: 'Immediate retries of one credential fetch before the refresher backs off.',
  }),
};
