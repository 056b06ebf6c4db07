import { oneOf } from '../define.js';
import { PROVIDERS } from '../stores.js';

export const storeOptions = {
  s3Provider: oneOf(['auto', ...PROVIDERS] as const, {
    flag: 's3-provider', env: 'SIDECAR_S3_PROVIDER', group: 'common', default: 'auto',
    help: "The S3 store, for its quirks: addressing, checksum headers, part limit, STS (docs/stores.md). auto: AWS without --endpoint-url, else recognised from the endpoint's host (amazonaws.com, scw.cloud, r2.cloudflarestorage.com, backblazeb2.com), else generic. Explicit --force-path-style, --request-checksum-calculation and --max-parts win.",
  }),
  requestChecksumCalculation: oneOf(['when_supported', 'when_required'] as const, {
    flag: 'request-checksum-calculation', env: ['SIDECAR_REQUEST_CHECKSUM_CALCULATION', 'AWS_REQUEST_CHECKSUM_CALCULATION'], group: 'common',
    defaultText: "the store's (when_supported; when_required for Garage, SeaweedFS, Scaleway, R2, B2)",
    help: "when_supported: bodies carry a CRC32 checksum header and responses are checked against the store's. when_required: no checksum headers at all (for stores that reject them); bodies of small files are then signed with SHA-256 instead.",
  }),
};
