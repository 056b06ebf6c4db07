import { bool, ConfigError, duration, str } from '../define.js';

const requestDeadline = duration({
  flag: 'request-deadline', env: 'SIDECAR_REQUEST_DEADLINE', group: 'http', default: 15 * 60_000,
  help: 'Fail one S3 request (it is retried) that has not ended this long after it was sent, even while bytes still trickle in; scaled up for bodies over 64 MiB.',
});

export const httpOptions = {
  httpAddr: str({
    flag: 'http-addr', env: 'SIDECAR_HTTP_ADDR', group: 'http', defaultText: 'off',
    help: 'Serve /healthz, /readyz and /metrics on this host:port (loopback unless --endpoint-allow-remote).',
  }),
  // In the http group (every mode has it) so `upload` can expose its health listener too.
  endpointAllowRemote: bool({
    flag: 'endpoint-allow-remote', env: 'SIDECAR_ENDPOINT_ALLOW_REMOTE', group: 'http',
    help: 'Allow binding the credentials endpoint or health listener to a non-loopback address (logged as a warning).',
  }),
  requestDeadline: {
    ...requestDeadline,
    parse(raw: string, name: string): number {
      const ms = requestDeadline.parse(raw, name);
      if (ms < 1000) throw new ConfigError(name, `must be at least 1s (got "${raw}")`);
      return ms;
    },
  },
};
