// Prometheus metrics (prom-client), defined in one place so every part of the daemon reports
// under the same names. Served on /metrics by the health listener (SIDECAR_HTTP_ADDR).
// prom-client, with the OpenTelemetry API it loads, is a large part of a download's start-up
// (docs/download.md, "Why the code is as it is"), and most downloads serve no /metrics. So the
// metrics below keep their values in plain numbers until loadRegistry() loads prom-client (the
// health listener calls it when it starts), then hand them over: a scrape sees everything since
// the process started.
import type { Counter, Gauge, MetricObjectWithValues, MetricValue, Registry } from 'prom-client';

type Labels = Record<string, string>;

interface Definition {
  name: string;
  help: string;
  labelNames?: readonly string[];
}

type Real = Counter<string> | Gauge<string>;

export class Metric {
  private real: Real | undefined;
  /** values kept until prom-client is loaded, by label set */
  private readonly kept = new Map<string, { labels: Labels | undefined; value: number }>();

  constructor(readonly kind: 'counter' | 'gauge', readonly def: Definition) {}

  /** Add to a counter (or a gauge): inc(), inc(n), inc(labels), inc(labels, n). */
  inc(labels?: Labels | number, value?: number): void {
    const [l, n] = typeof labels === 'number' ? [undefined, labels] : [labels, value ?? 1];
    if (this.real) return void (l ? this.real.inc(l, n) : this.real.inc(n));
    const key = keyOf(l);
    this.kept.set(key, { labels: l, value: (this.kept.get(key)?.value ?? 0) + n });
  }

  /** Set a gauge: set(n), set(labels, n). */
  set(labels: Labels | number, value?: number): void {
    const [l, n] = typeof labels === 'number' ? [undefined, labels] : [labels, value ?? 0];
    if (this.real) return void (l ? (this.real as Gauge<string>).set(l, n) : (this.real as Gauge<string>).set(n));
    this.kept.set(keyOf(l), { labels: l, value: n });
  }

  /** The current values, as prom-client reports them (loads it). */
  async get(): Promise<MetricObjectWithValues<MetricValue<string>>> {
    await loadRegistry();
    return this.real!.get();
  }

  /** Take over the real collector and hand it the values kept so far. */
  attach(real: Real): void {
    this.real = real;
    for (const { labels, value } of this.kept.values()) {
      if (this.kind === 'counter') labels ? real.inc(labels, value) : real.inc(value);
      else labels ? (real as Gauge<string>).set(labels, value) : (real as Gauge<string>).set(value);
    }
    this.kept.clear();
  }
}

// Called per object (bytes, objects, queue depth), mostly with one label: that case skips the
// sort and the JSON. The two forms cannot collide: only the JSON one starts with "[".
function keyOf(labels: Labels | undefined): string {
  if (!labels) return '';
  const names = Object.keys(labels);
  if (names.length === 1) return `${names[0]}=${labels[names[0]!]}`;
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
}

const counter = (def: Definition) => new Metric('counter', def);
const gauge = (def: Definition) => new Metric('gauge', def);

export const metrics = {
  credentialsExpirySeconds: gauge({ name: 's3_sidecar_credentials_expiry_seconds', help: 'Seconds until the held credentials expire (negative when expired, absent before the first fetch).' }),
  refreshTotal: counter({ name: 's3_sidecar_credential_refresh_total', help: 'Credential fetches by outcome and reason.', labelNames: ['outcome', 'reason'] }),
  endpointRequests: counter({ name: 's3_sidecar_endpoint_requests_total', help: 'Container-credentials endpoint requests by HTTP status.', labelNames: ['status'] }),
  bytesTotal: counter({ name: 's3_sidecar_transfer_bytes_total', help: 'Bytes transferred by direction.', labelNames: ['direction'] }),
  objectsTotal: counter({ name: 's3_sidecar_transfer_objects_total', help: 'Objects transferred by direction.', labelNames: ['direction'] }),
  failuresTotal: counter({ name: 's3_sidecar_transfer_failures_total', help: 'Objects that failed after retries, by direction.', labelNames: ['direction'] }),
  queueDepth: gauge({ name: 's3_sidecar_queue_depth', help: 'Objects waiting to be transferred, by direction.', labelNames: ['direction'] }),
  uploadsInFlight: gauge({ name: 's3_sidecar_uploads_in_flight', help: 'Uploads currently running.' }),
  brokerRequests: counter({ name: 's3_sidecar_broker_requests_total', help: 'Broker: credential requests answered, by HTTP status.', labelNames: ['status'] }),
  brokerIssuances: counter({ name: 's3_sidecar_broker_issuances_total', help: 'Broker: answers by rule and result (issued: a new STS session; cached: a cache hit; shared: joined an identical STS call in flight; sts-error).', labelNames: ['rule', 'result'] }),
  brokerStsCalls: counter({ name: 's3_sidecar_broker_sts_calls_total', help: 'Broker: AssumeRole calls by outcome.', labelNames: ['outcome'] }),
  brokerStsSeconds: counter({ name: 's3_sidecar_broker_sts_seconds_total', help: 'Broker: seconds spent in AssumeRole calls (divide by the calls for the mean latency).' }),
  checkpointsTotal: counter({ name: 's3_sidecar_checkpoints_total', help: 'Checkpoints committed.' }),
  checkpointFailures: counter({ name: 's3_sidecar_checkpoint_failures_total', help: 'Checkpoints not committed (a file changed while it was taken, or an error), by reason.', labelNames: ['reason'] }),
  checkpointBytes: counter({ name: 's3_sidecar_checkpoint_bytes_total', help: 'Bytes of checkpointed files by how they got there: sent (uploaded), copied (server-side from the output prefix), reused (already stored).', labelNames: ['how'] }),
  checkpointFiles: gauge({ name: 's3_sidecar_checkpoint_files', help: 'Files in the last committed checkpoint.' }),
  checkpointSeconds: gauge({ name: 's3_sidecar_checkpoint_seconds', help: 'Seconds the last committed checkpoint took, from its boundary to its commit.' }),
  lastCheckpointTime: gauge({ name: 's3_sidecar_last_checkpoint_timestamp_seconds', help: 'Unix time of the last committed checkpoint.' }),
  lastUploadTime: gauge({ name: 's3_sidecar_last_upload_timestamp_seconds', help: 'Unix time of the last successful upload.' }),
};

let registry: Promise<Registry> | undefined;

/** Load prom-client (once), register every metric and the process's default metrics, and return the registry. */
export function loadRegistry(): Promise<Registry> {
  registry ??= import('prom-client').then((p) => {
    const r = new p.Registry();
    p.collectDefaultMetrics({ register: r, prefix: 's3_sidecar_' });
    for (const m of Object.values(metrics)) {
      const def = { ...m.def, labelNames: [...(m.def.labelNames ?? [])], registers: [r] };
      m.attach(m.kind === 'counter' ? new p.Counter(def) : new p.Gauge(def));
    }
    return r;
  });
  return registry;
}
