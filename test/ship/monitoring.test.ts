// The operators' kit (examples/monitoring) cannot drift from the code: every metric name the
// Grafana dashboard and the Prometheus rules query must be one the real process exports on
// /metrics. The process is the built CLI in credentials mode with a static key (no server is
// needed to export the names), scraped over its health listener.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { startCli } from '../helpers/cli.js';
import { freePort } from '../helpers/net.js';
import { ROOT } from './example-pods.js';

/** Queried by the kit, exported once checkpoints land: the only names allowed to be missing. */
const EXPECTED_FROM_CHECKPOINTS = ['s3_sidecar_checkpoint_failures_total'];

interface Rule { alert: string; expr: string; for?: string; labels: { severity: string }; annotations: { summary: string } }
const rules = (parse(readFileSync(join(ROOT, 'examples/monitoring/alerts.yaml'), 'utf8')) as { groups: { name: string; rules: Rule[] }[] }).groups;
const dashboard = JSON.parse(readFileSync(join(ROOT, 'examples/monitoring/grafana-dashboard.json'), 'utf8')) as {
  uid: string; panels: { id: number; type: string; title: string; gridPos: object; targets?: { expr: string }[] }[];
  templating: { list: { name: string; query: unknown }[] };
};

const exprs: [string, string][] = [
  ...rules.flatMap((g) => g.rules.map((r): [string, string] => [`alerts.yaml ${r.alert}`, r.expr])),
  ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t): [string, string] => [`dashboard "${p.title}"`, t.expr])),
  ...dashboard.templating.list.map((v): [string, string] => [`dashboard variable ${v.name}`, JSON.stringify(v.query)]),
];
const namesIn = (expr: string) => [...expr.matchAll(/\bs3_sidecar_[a-z0-9_]+/g)].map((m) => m[0]);

/** Metric names on the real process's /metrics, from its # TYPE lines (histograms add _bucket, _sum, _count). */
async function exportedNames(): Promise<Set<string>> {
  const port = await freePort();
  const p = startCli(['credentials', '--http-addr', `127.0.0.1:${port}`], {
    PATH: process.env.PATH, HOME: process.env.HOME, AWS_ACCESS_KEY_ID: 'AKIDMONITORINGTEST01', AWS_SECRET_ACCESS_KEY: 'monitoring-test-secret-0000000000000000',
    AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true',
  });
  try {
    await p.waitFor(/"credentials obtained"/);
    await p.waitFor(/health listener on/);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const names = new Set<string>();
    for (const m of text.matchAll(/^# TYPE (\S+) (\w+)$/gm)) {
      names.add(m[1]!);
      if (m[2] === 'histogram' || m[2] === 'summary') for (const s of ['_bucket', '_sum', '_count']) names.add(m[1]! + s);
    }
    return names;
  } finally {
    p.child.kill('SIGTERM');
    await p.done;
  }
}

test('every metric the dashboard and the alert rules query is exported by the process (checkpoints: expected)', async () => {
  const exported = await exportedNames();
  assert.ok(exported.has('s3_sidecar_credentials_expiry_seconds') && exported.size >= 15, `the scrape worked (${exported.size} names)`);
  const missing = new Map<string, string[]>();
  for (const [where, expr] of exprs) {
    const names = namesIn(expr);
    assert.ok(names.length > 0 || where.startsWith('dashboard variable datasource'), `${where}: queries an s3-sidecar metric`);
    for (const n of names) if (!exported.has(n)) missing.set(n, [...(missing.get(n) ?? []), where]);
  }
  const unexpected = [...missing].filter(([n]) => !EXPECTED_FROM_CHECKPOINTS.includes(n)).map(([n, w]) => `${n} (${w.join('; ')})`);
  assert.deepEqual(unexpected, [], 'metric names the process does not export');
  for (const n of EXPECTED_FROM_CHECKPOINTS) {
    if (missing.has(n)) console.log(`monitoring: ${n} is queried (${missing.get(n)!.join('; ')}) and expected from checkpoints; not exported yet`);
  }
});

test('the alert rules cover what the operator must hear about, each with a severity and a summary', () => {
  const all = rules.flatMap((g) => g.rules);
  const byMetric = (name: string) => all.filter((r) => namesIn(r.expr).includes(name)).map((r) => r.alert);
  assert.ok(byMetric('s3_sidecar_credentials_expiry_seconds').length, 'credentials expiring without a successful refresh');
  assert.ok(all.some((r) => r.expr.includes('s3_sidecar_credential_refresh_total{outcome="failure"}')), 'refresh failures');
  assert.ok(all.some((r) => /s3_sidecar_queue_depth\{direction="upload"\}/.test(r.expr) && /delta|deriv/.test(r.expr)), 'upload backlog growing');
  assert.ok(all.some((r) => r.expr.includes('s3_sidecar_transfer_failures_total{direction="upload"}')), 'uploads failing');
  assert.ok(byMetric('s3_sidecar_checkpoint_failures_total').length, 'checkpoint failures');
  for (const r of all) {
    assert.match(r.alert, /^S3Sidecar[A-Za-z]+$/, r.alert);
    assert.ok(['warning', 'critical'].includes(r.labels.severity), `${r.alert}: severity`);
    assert.ok(r.annotations.summary, `${r.alert}: summary`);
    if (r.for !== undefined) assert.match(r.for, /^\d+[smh]$/, `${r.alert}: for`);
    // a typo in PromQL that a name check would not see: unbalanced brackets
    for (const [open, close] of ['()', '{}', '[]']) assert.equal(r.expr.split(open!).length, r.expr.split(close!).length, `${r.alert}: balanced ${open}${close}`);
  }
});

test('the dashboard is importable: unique panel ids, a position each, a data source variable', () => {
  const ids = dashboard.panels.map((p) => p.id);
  assert.equal(new Set(ids).size, ids.length, 'unique panel ids');
  for (const p of dashboard.panels) {
    assert.ok(p.gridPos, `${p.title}: gridPos`);
    if (p.type !== 'row') assert.ok(p.targets?.length, `${p.title}: at least one query`);
  }
  assert.ok(dashboard.templating.list.some((v) => v.name === 'datasource'), 'a ${datasource} variable, so it imports into any Grafana');
  assert.equal(dashboard.uid, 's3-sidecar');
});
