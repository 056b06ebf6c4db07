// Prometheus metrics (prom-client), defined in one place so every part of the daemon reports
// under the same names. Served on /metrics by the health listener (SIDECAR_HTTP_ADDR).
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 's3_sidecar_' });

const m = { registers: [registry] };

export const metrics = {
  credentialsExpirySeconds: new Gauge({ ...m, name: 's3_sidecar_credentials_expiry_seconds', help: 'Seconds until the held credentials expire (negative when expired, absent before the first fetch).' }),
  refreshTotal: new Counter({ ...m, name: 's3_sidecar_credential_refresh_total', help: 'Credential fetches by outcome and reason.', labelNames: ['outcome', 'reason'] as const }),
  endpointRequests: new Counter({ ...m, name: 's3_sidecar_endpoint_requests_total', help: 'Container-credentials endpoint requests by HTTP status.', labelNames: ['status'] as const }),
  bytesTotal: new Counter({ ...m, name: 's3_sidecar_transfer_bytes_total', help: 'Bytes transferred by direction.', labelNames: ['direction'] as const }),
  objectsTotal: new Counter({ ...m, name: 's3_sidecar_transfer_objects_total', help: 'Objects transferred by direction.', labelNames: ['direction'] as const }),
  failuresTotal: new Counter({ ...m, name: 's3_sidecar_transfer_failures_total', help: 'Objects that failed after retries, by direction.', labelNames: ['direction'] as const }),
  queueDepth: new Gauge({ ...m, name: 's3_sidecar_queue_depth', help: 'Objects waiting to be transferred, by direction.', labelNames: ['direction'] as const }),
  uploadsInFlight: new Gauge({ ...m, name: 's3_sidecar_uploads_in_flight', help: 'Uploads currently running.' }),
  lastUploadTime: new Gauge({ ...m, name: 's3_sidecar_last_upload_timestamp_seconds', help: 'Unix time of the last successful upload.' }),
};
