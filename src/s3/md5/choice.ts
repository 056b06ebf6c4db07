// Which MD5 the download's worker runs: the WebAssembly SIMD one (simd-worker.ts, the default) or
// node:crypto's (crypto-worker.ts). SIDECAR_MD5 picks one; it is a hidden switch for the benchmark
// (docs/benchmarks.md, "Transport and MD5 variants"), not an option.
import { ConfigError } from '../../config.js';

export const MD5_KINDS = ['simd', 'crypto'] as const;
export type Md5Kind = (typeof MD5_KINDS)[number];
export const MD5_VARIABLE = 'SIDECAR_MD5';

/** The MD5 SIDECAR_MD5 asks for (simd when unset); a ConfigError (exit 2) for anything else. */
export function md5Kind(env: NodeJS.ProcessEnv = process.env): Md5Kind {
  const v = env[MD5_VARIABLE]?.trim() || 'simd';
  if (!(MD5_KINDS as readonly string[]).includes(v)) throw new ConfigError(MD5_VARIABLE, `must be ${MD5_KINDS.join(' or ')} (got "${v}")`);
  return v as Md5Kind;
}
