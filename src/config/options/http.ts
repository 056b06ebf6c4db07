import { str } from '../define.js';

export const httpOptions = {
  httpAddr: str({
    flag: 'http-addr', env: 'SIDECAR_HTTP_ADDR', group: 'http', defaultText: 'off',
    help: 'Serve /healthz, /readyz and /metrics on this host:port (loopback unless --endpoint-allow-remote).',
  }),
};
