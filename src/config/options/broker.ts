import { bool, duration, int, str } from '../define.js';

export const brokerOptions = {
  brokerConfig: str({
    flag: 'config', env: 'SIDECAR_BROKER_CONFIG', group: 'broker',
    help: 'YAML file of trusted issuers and rules (docs/broker.md); re-read when it changes, an invalid new version is logged and the old one kept.',
  }),
  brokerListen: str({
    flag: 'listen', env: 'SIDECAR_BROKER_LISTEN', group: 'broker', default: '127.0.0.1:8443',
    help: 'answer GET /v1/credentials on this host:port (0.0.0.0:8443 in a cluster, with TLS).',
  }),
  tlsCert: str({
    flag: 'tls-cert', env: 'SIDECAR_BROKER_TLS_CERT', group: 'broker',
    help: 'PEM certificate (chain) for HTTPS; re-read when it changes (cert-manager rotates it).',
  }),
  tlsKey: str({
    flag: 'tls-key', env: 'SIDECAR_BROKER_TLS_KEY', group: 'broker',
    help: 'PEM private key for --tls-cert.',
  }),
  allowPlainHttp: bool({
    flag: 'allow-plain-http', env: 'SIDECAR_BROKER_ALLOW_PLAIN_HTTP', group: 'broker',
    help: 'serve plain HTTP on a non-loopback --listen (bearer tokens and credentials then cross the network unencrypted; only behind a TLS-terminating mesh).',
  }),
  allowHttpIssuer: bool({
    flag: 'allow-http-issuer', env: 'SIDECAR_BROKER_ALLOW_HTTP_ISSUER', group: 'broker',
    help: 'trust issuers (and JWKS) on plain http:// other than loopback.',
  }),
  tagSessions: bool({
    flag: 'tag-sessions', env: 'SIDECAR_BROKER_TAG_SESSIONS', group: 'broker', default: true,
    help: 'pass session tags (issuer, namespace, service account, pod, issued-by) and SourceIdentity to AssumeRole; turn off for stores that reject them.',
  }),
  cacheMaxAge: duration({
    flag: 'cache-max-age', env: 'SIDECAR_BROKER_CACHE_MAX_AGE', group: 'broker', defaultText: 'half the lifetime',
    help: 'serve cached credentials to the same caller and scope for at most this long (0s: no cache); never past half their lifetime.',
  }),
  rateLimit: int({
    flag: 'rate-limit', env: 'SIDECAR_BROKER_RATE_LIMIT', group: 'broker', default: 6, min: 1, max: 100_000,
    help: 'requests per minute one caller (issuer + subject + pod) may make, on average; beyond it 429 with Retry-After.',
  }),
  rateBurst: int({
    flag: 'rate-burst', env: 'SIDECAR_BROKER_RATE_BURST', group: 'broker', default: 20, min: 1, max: 100_000,
    help: 'requests one caller may make at once before --rate-limit applies.',
  }),
};
