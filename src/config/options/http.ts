import { bool, str } from '../define.js';

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
};
