import { bool, int, mode, str } from '../define.js';

export const handoffOptions = {
  credentialsFile: str({
    flag: 'credentials-file', env: 'SIDECAR_CREDENTIALS_FILE', group: 'handoff',
    help: 'Write an AWS shared credentials file (INI) here; rewritten atomically on every refresh. Mount its directory, not a subPath.',
  }),
  profile: str({
    flag: 'profile', env: 'SIDECAR_PROFILE', group: 'handoff', default: 'default',
    help: 'Profile name written to the credentials and config files; other profiles are kept.',
  }),
  configFile: str({
    flag: 'config-file', env: 'SIDECAR_CONFIG_FILE', group: 'handoff',
    help: 'Write an AWS config file with region and (with --process-file) credential_process for the profile.',
  }),
  processFile: str({
    flag: 'process-file', env: 'SIDECAR_PROCESS_FILE', group: 'handoff',
    help: 'Write credential_process JSON (Version 1, with Expiration) here so SDKs refresh on their own.',
  }),
  // Not "--env-file": Node 20 reads that flag anywhere on its command line and loads the file.
  awsEnvFile: str({
    flag: 'aws-env-file', env: 'SIDECAR_AWS_ENV_FILE', group: 'handoff',
    help: 'Write a shell file of `export AWS_...=` lines here (for scripts that source it).',
  }),
  fileMode: mode({
    flag: 'file-mode', env: 'SIDECAR_FILE_MODE', group: 'handoff', default: 0o600,
    help: 'Mode of every file the sidecar writes with secrets in it.',
  }),
  fileUid: int({
    flag: 'file-uid', env: 'SIDECAR_FILE_UID', group: 'handoff', max: 2 ** 32 - 1,
    help: 'Owner uid for those files (needs CAP_CHOWN; default: the sidecar user).',
  }),
  fileGid: int({
    flag: 'file-gid', env: 'SIDECAR_FILE_GID', group: 'handoff', max: 2 ** 32 - 1,
    help: 'Owner gid for those files (default: the sidecar group).',
  }),
  endpoint: str({
    flag: 'endpoint', env: 'SIDECAR_ENDPOINT', group: 'handoff',
    help: 'Serve container credentials on this host:port (e.g. 127.0.0.1:9911) for AWS_CONTAINER_CREDENTIALS_FULL_URI.',
  }),
  endpointTokenFile: str({
    flag: 'endpoint-token-file', env: 'SIDECAR_ENDPOINT_TOKEN_FILE', group: 'handoff',
    help: 'The sidecar writes a random token here (no trailing newline); clients send it as Authorization (AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE).',
  }),
  once: bool({
    flag: 'once', env: 'SIDECAR_ONCE', group: 'handoff',
    help: 'credentials mode: fetch once, write every hand-off, exit.',
  }),
};
