// Metrics recorded before prom-client is loaded (it loads only when /metrics will be served) are
// handed over when it loads; afterwards they go straight to prom-client.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Gauge, Registry } from 'prom-client';
import { loadRegistry, Metric, metrics } from '../src/metrics.js';

test('values kept before prom-client loads reach the registry, and later ones go straight there', async () => {
  metrics.bytesTotal.inc({ direction: 'download' }, 100);
  metrics.bytesTotal.inc({ direction: 'download' }, 23);
  metrics.objectsTotal.inc({ direction: 'upload' });
  metrics.objectsTotal.inc({ direction: 'download' }, 2);
  metrics.queueDepth.set({ direction: 'download' }, 7);
  metrics.queueDepth.set({ direction: 'download' }, 5);
  metrics.uploadsInFlight.set(3);
  // two labels, given in either order, are one series; a different value is another
  metrics.refreshTotal.inc({ outcome: 'ok', reason: 'initial' });
  metrics.refreshTotal.inc({ reason: 'initial', outcome: 'ok' });
  metrics.refreshTotal.inc({ outcome: 'error', reason: 'initial' });
  const registry = await loadRegistry();
  assert.equal(await loadRegistry(), registry, 'loaded once');
  metrics.bytesTotal.inc({ direction: 'download' }, 1);
  metrics.lastUploadTime.set(1234);
  const text = await registry.metrics();
  assert.match(text, /^s3_sidecar_transfer_bytes_total\{direction="download"\} 124$/m);
  assert.match(text, /^s3_sidecar_transfer_objects_total\{direction="upload"\} 1$/m);
  assert.match(text, /^s3_sidecar_transfer_objects_total\{direction="download"\} 2$/m);
  assert.match(text, /^s3_sidecar_queue_depth\{direction="download"\} 5$/m);
  assert.match(text, /^s3_sidecar_uploads_in_flight 3$/m);
  assert.match(text, /^s3_sidecar_last_upload_timestamp_seconds 1234$/m);
  assert.match(text, /^s3_sidecar_process_cpu_seconds_total /m, 'the default process metrics are there');
  const bytes = await metrics.bytesTotal.get();
  assert.deepEqual(bytes.values.map((v) => [v.labels, v.value]), [[{ direction: 'download' }, 124]]);
  const refreshes = (await metrics.refreshTotal.get()).values.map((v) => [`${v.labels.outcome}/${v.labels.reason}`, v.value]);
  assert.deepEqual(refreshes.sort(), [['error/initial', 1], ['ok/initial', 2]]);
});

test('a gauge set with its labels in either order before prom-client loads keeps the last value', async () => {
  const def = { name: 'test_two_label_gauge', help: 'a gauge with two labels', labelNames: ['a', 'b'] };
  const gauge = new Metric('gauge', def);
  gauge.set({ a: '1', b: '2' }, 1);
  gauge.set({ b: '2', a: '1' }, 2);
  gauge.set({ a: '1', b: '2' }, 3);
  const real = new Gauge({ ...def, registers: [new Registry()] });
  gauge.attach(real);
  assert.deepEqual((await real.get()).values.map((v) => v.value), [3]);
});
