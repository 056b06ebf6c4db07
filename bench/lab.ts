// The bench's OWN lab server (Ceph RGW from test/lab/start) on other ports and a bigger RAM store,
// so multi-GiB cases neither disturb nor are disturbed by the shared test lab.
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface BenchLab {
  endpoint: string;
  region: string;
  accessKey: string;
  secretKey: string;
  cephConf: string;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));

const LAB_ENV = {
  S3LAB_DIR: '/tmp/s3-sidecar-bench-lab',
  S3LAB_PORT: '7680',
  S3LAB_MON_PORT: '3490',
  S3LAB_OIDC: '0',
  S3LAB_STORE_GB: '12',
};

export function startLab(): BenchLab {
  const out = execFileSync(`${ROOT}test/lab/start`, {
    env: { ...process.env, ...LAB_ENV },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const vars: Record<string, string> = {};
  for (const m of out.matchAll(/^export (\w+)=(.*)$/gm)) vars[m[1]!] = m[2]!.replace(/^'(.*)'$/, '$1');
  const get = (k: string): string => {
    const v = vars[k];
    if (!v) throw new Error(`test/lab/start printed no ${k}`);
    return v;
  };
  return {
    endpoint: get('S3LAB_ENDPOINT'),
    region: get('S3LAB_REGION'),
    accessKey: get('S3LAB_ACCESS_KEY'),
    secretKey: get('S3LAB_SECRET_KEY'),
    cephConf: get('S3LAB_CEPH_CONF'),
  };
}

/** The lab's daemons (test/lab/start writes a pid file for each). */
export function labPids(): number[] {
  const run = `${LAB_ENV.S3LAB_DIR}/run`;
  return readdirSync(run).filter((f) => f.endsWith('.pid')).map((f) => Number(readFileSync(`${run}/${f}`, 'utf8').trim())).filter((p) => p > 0);
}

export function stopLab(): void {
  execFileSync(`${ROOT}test/lab/stop`, { env: { ...process.env, ...LAB_ENV }, stdio: ['ignore', 'ignore', 'inherit'] });
}

/**
 * Free deleted objects' RAM now: RGW otherwise keeps their data for its GC period, and the
 * multi-GiB upload cases would fill the memstore after a few runs.
 */
export function collectGarbage(lab: BenchLab): void {
  execFileSync('radosgw-admin', ['-c', lab.cephConf, 'gc', 'process', '--include-all'], { stdio: 'ignore' });
}
