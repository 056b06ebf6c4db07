// The contenders and how each is invoked. Peers run at the settings users actually run them with:
// rclone at its defaults (ScaleODM's setting), rclone with 32 transfers/checkers (a tuned user),
// and `aws s3 cp --recursive` at its defaults. Every tool gets the same clean environment: the
// lab's static keys, a throwaway HOME (no ~/.aws or rclone.conf of the machine leaks in) and no
// AWS_CA_BUNDLE (it breaks rclone 1.60's S3 backend).
// s3-sidecar also runs as variants (--variants): the same build with undici's Pool#dispatch in
// place of the hand-written HTTP/1.1 client (and of node:http for small PUTs), or the WebAssembly
// SIMD MD5 in place of node:crypto's (both on the worker thread), chosen by the hidden
// SIDECAR_HTTP_CLIENT / SIDECAR_MD5 switches. And another build of s3-sidecar runs beside this
// one (--baseline DIR: a checkout with its own node_modules and dist/), so before and after land in
// the same rounds and table.
import type { BenchLab } from './lab.js';
import type { Invocation } from './measure.js';
import { SIDECAR_CLI } from './snapshot.js';

export type ToolId = 'sidecar' | 'sidecar-undici' | 'sidecar-simd' | 'sidecar-baseline' | 'rclone' | 'rclone32' | 'awscli';

export const TOOL_LABEL: Record<ToolId, string> = {
  sidecar: 's3-sidecar',
  'sidecar-undici': 's3-sidecar/undici',
  'sidecar-simd': 's3-sidecar/simd-md5',
  'sidecar-baseline': 's3-sidecar (baseline)',
  rclone: 'rclone copy (defaults)',
  rclone32: 'rclone copy --transfers 32 --checkers 32',
  awscli: 'aws s3 cp --recursive',
};

export const ALL_TOOLS: ToolId[] = ['sidecar', 'rclone', 'rclone32', 'awscli'];
/** s3-sidecar's variants, measured with --variants (or named in --tools) */
export const VARIANT_TOOLS: ToolId[] = ['sidecar-undici', 'sidecar-simd'];

/** The variant switches each s3-sidecar tool runs with; every one is set, so none is inherited. */
const SIDECAR_VARIANT: Partial<Record<ToolId, { SIDECAR_HTTP_CLIENT: string; SIDECAR_MD5: string }>> = {
  sidecar: { SIDECAR_HTTP_CLIENT: 'lean', SIDECAR_MD5: 'crypto' },
  'sidecar-undici': { SIDECAR_HTTP_CLIENT: 'undici', SIDECAR_MD5: 'crypto' },
  'sidecar-simd': { SIDECAR_HTTP_CLIENT: 'lean', SIDECAR_MD5: 'simd' },
  'sidecar-baseline': { SIDECAR_HTTP_CLIENT: 'lean', SIDECAR_MD5: 'crypto' },
};

/** s3-sidecar itself or one of its variants (not a peer). */
export function isSidecar(tool: ToolId): boolean {
  return SIDECAR_VARIANT[tool] !== undefined;
}


export interface Endpoint {
  lab: BenchLab;
  /** the lab itself, or the latency proxy in front of it */
  url: string;
  /** the latency proxy's process, when `url` is the proxy (its CPU is measured) */
  proxyPid?: number;
  home: string;
  /** the baseline build's dist/cli.js (--baseline) */
  baselineCli?: string;
}

export interface Transfer {
  bucket: string;
  /** '' or ending in '/' */
  prefix: string;
  /** local directory: the download destination or the upload source */
  dir: string;
  /** a per-run scratch dir outside `dir` (s3-sidecar's upload journal) */
  scratch: string;
}

export function baseEnv(ep: Endpoint): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: ep.home,
    LANG: 'C.UTF-8',
    AWS_ACCESS_KEY_ID: ep.lab.accessKey,
    AWS_SECRET_ACCESS_KEY: ep.lab.secretKey,
    AWS_REGION: ep.lab.region,
    AWS_DEFAULT_REGION: ep.lab.region,
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

function rclone(ep: Endpoint, args: string[], transfers?: number): Invocation {
  const tuning = transfers ? ['--transfers', String(transfers), '--checkers', String(transfers)] : [];
  return {
    cmd: '/usr/bin/rclone',
    args: ['copy', ...args, ...tuning],
    env: {
      ...baseEnv(ep),
      RCLONE_CONFIG: '/dev/null',
      RCLONE_CONFIG_LAB_TYPE: 's3',
      RCLONE_CONFIG_LAB_PROVIDER: 'Ceph',
      RCLONE_CONFIG_LAB_ENDPOINT: ep.url,
      RCLONE_CONFIG_LAB_REGION: ep.lab.region,
      RCLONE_CONFIG_LAB_ACCESS_KEY_ID: ep.lab.accessKey,
      RCLONE_CONFIG_LAB_SECRET_ACCESS_KEY: ep.lab.secretKey,
    },
  };
}

function awscli(ep: Endpoint, from: string, to: string): Invocation {
  // /usr/bin/aws is Debian's awscli v2; the `aws` first on PATH may be a pip v1
  return { cmd: '/usr/bin/aws', args: ['--endpoint-url', ep.url, 's3', 'cp', '--recursive', '--only-show-errors', from, to], env: baseEnv(ep) };
}

function sidecar(tool: ToolId, ep: Endpoint, mode: string, args: string[]): Invocation {
  const cli = tool === 'sidecar-baseline' ? ep.baselineCli : SIDECAR_CLI;
  if (!cli) throw new Error('the baseline runs only with --baseline DIR');
  return { cmd: process.execPath, args: [cli, mode, '--endpoint-url', ep.url, ...args], env: { ...baseEnv(ep), ...SIDECAR_VARIANT[tool] } };
}

export function downloadInvocation(tool: ToolId, ep: Endpoint, t: Transfer): Invocation {
  const remote = `${t.bucket}/${t.prefix}`;
  switch (tool) {
    case 'sidecar':
    case 'sidecar-undici':
    case 'sidecar-simd':
    case 'sidecar-baseline':
      return sidecar(tool, ep, 'download', ['--input-prefix', `s3://${remote}`, '--input-dir', t.dir]);
    case 'rclone': return rclone(ep, [`lab:${remote}`, t.dir]);
    case 'rclone32': return rclone(ep, [`lab:${remote}`, t.dir], 32);
    case 'awscli': return awscli(ep, `s3://${remote}`, t.dir);
  }
}

export function uploadInvocation(tool: ToolId, ep: Endpoint, t: Transfer): Invocation {
  const remote = `${t.bucket}/${t.prefix}`;
  switch (tool) {
    case 'sidecar':
    case 'sidecar-undici':
    case 'sidecar-simd':
    case 'sidecar-baseline':
      return sidecar(tool, ep, 'upload', ['--output-dir', t.dir, '--output-prefix', `s3://${remote}`, '--journal-file', `${t.scratch}/journal.json`]);
    case 'rclone': return rclone(ep, [t.dir, `lab:${remote}`]);
    case 'rclone32': return rclone(ep, [t.dir, `lab:${remote}`], 32);
    case 'awscli': return awscli(ep, t.dir, `s3://${remote}`);
  }
}

/** Keys a tool writes on purpose besides the files (s3-sidecar's completion manifest, written last). */
export function extraUploadKeys(tool: ToolId): string[] {
  return isSidecar(tool) ? ['_manifest.json'] : [];
}
