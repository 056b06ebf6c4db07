// Run the real broker (`dist/cli.js broker`) against the lab's STS, with a YAML configuration
// written here, and talk to it the way a sidecar would.
import { mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { stringify } from 'yaml';
import { startCli, type Running } from '../../helpers/cli.js';
import { labEnv, type Lab } from '../../helpers/lab.js';
import { freePort } from '../../helpers/net.js';

export interface BrokerRun {
  url: string;
  healthUrl: string;
  configFile: string;
  dir: string;
  proc: Running;
  /** GET /v1/credentials with this bearer token */
  get(token: string | undefined): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }>;
  /** a metric's value from /metrics (sum over the label sets matching `labels`) */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** replace the configuration the way the kubelet updates a ConfigMap volume: a new directory, then a swap of the `..data` symlink */
  swapConfig(config: object | string): void;
  /** audit lines ("credentials issued") logged so far */
  audits(): Record<string, unknown>[];
  stop(): Promise<void>;
}

export interface BrokerStart {
  config: object;
  args?: string[];
  env?: Record<string, string>;
  /** the STS endpoint (default: the lab's) */
  stsEndpoint?: string;
}

export async function startBroker(t: TestContext, lab: Lab, opts: BrokerStart): Promise<BrokerRun> {
  const dir = mkdtempSync(join(tmpdir(), 'broker-'));
  // laid out like a mounted ConfigMap: broker.yaml -> ..data/broker.yaml, ..data -> ..<version>
  const configFile = join(dir, 'broker.yaml');
  let version = 0;
  const swapConfig = (config: object | string) => {
    const v = `..v${++version}`;
    mkdirSync(join(dir, v));
    writeFileSync(join(dir, v, 'broker.yaml'), typeof config === 'string' ? config : stringify(config));
    symlinkSync(v, join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
  };
  swapConfig(opts.config);
  symlinkSync('..data/broker.yaml', configFile);
  const [port, healthPort] = [await freePort(), await freePort()];
  const proc = startCli(['broker', '--config', configFile, '--listen', `127.0.0.1:${port}`, '--http-addr', `127.0.0.1:${healthPort}`, ...(opts.args ?? [])], labEnv(lab, {
    // the broker's own identity: the lab user, through the default chain
    AWS_ACCESS_KEY_ID: lab.accessKey,
    AWS_SECRET_ACCESS_KEY: lab.secretKey,
    AWS_ENDPOINT_URL_STS: opts.stsEndpoint ?? lab.endpoint,
    SIDECAR_LOG_LEVEL: 'debug',
    ...opts.env,
  }));
  t.after(() => { if (proc.child.exitCode === null) proc.child.kill('SIGKILL'); });
  const line = await proc.waitFor(/broker listening on/);
  const url = (JSON.parse(line) as { url: string }).url;
  const healthUrl = `http://127.0.0.1:${healthPort}`;
  return {
    url, healthUrl, configFile, dir, proc, swapConfig,
    async get(token) {
      const res = await fetch(url, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
      return { status: res.status, body: await res.json() as Record<string, unknown>, headers: res.headers };
    },
    async metric(name, labels = {}) {
      const text = await (await fetch(`${healthUrl}/metrics`)).text();
      let sum = 0;
      for (const m of text.matchAll(new RegExp(`^${name}(?:\\{([^}]*)\\})? (\\S+)$`, 'gm'))) {
        const have = Object.fromEntries([...(m[1] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
        if (Object.entries(labels).every(([k, v]) => have[k] === v)) sum += Number(m[2]);
      }
      return sum;
    },
    audits: () => proc.stdout().split('\n').filter((l) => l.includes('"msg":"credentials issued"')).map((l) => JSON.parse(l) as Record<string, unknown>),
    async stop() {
      proc.child.kill('SIGTERM');
      await proc.done;
    },
  };
}

/** A rule set for one bucket: each pod of namespace odm gets its own job prefixes; "viewers" read only. */
export function jobRules(lab: Lab, bucket: string, issuerUrl: string, extra: object[] = []): object {
  return {
    issuers: [{ name: 'lab', issuer: issuerUrl, audience: 's3-sidecar-broker' }],
    rules: [
      ...extra,
      { name: 'odm-jobs', namespace: 'odm', serviceAccount: 'odm-*', roleArn: lab.roleArn, input: `s3://${bucket}/jobs/{pod}/input/`, output: `s3://${bucket}/jobs/{pod}/output/`, durationSeconds: 900 },
      { name: 'viewers', namespace: 'viewers', roleArn: lab.roleArn, input: `s3://${bucket}/jobs/`, readOnly: true, durationSeconds: 900 },
    ],
  };
}
