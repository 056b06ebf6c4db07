// Which MD5 the download's worker runs: node:crypto's (crypto-worker.ts, the default) or the
// WebAssembly SIMD one, four bodies per pass (simd-worker.ts). SIDECAR_MD5 picks one; it is a hidden switch for the benchmark
// (docs/benchmarks.md, "Transport and MD5 variants"), not an option.
import { ConfigError } from '../../config.js';

export const MD5_KINDS = ['crypto', 'simd'] as const;
export type Md5Kind = (typeof MD5_KINDS)[number];
export const MD5_VARIABLE = 'SIDECAR_MD5';

/** The MD5 SIDECAR_MD5 asks for (crypto when unset); a ConfigError (exit 2) for anything else. */
export function md5Kind(env: NodeJS.ProcessEnv = process.env): Md5Kind {
  const v = env[MD5_VARIABLE]?.trim() || 'crypto';
  if (!(MD5_KINDS as readonly string[]).includes(v)) throw new ConfigError(MD5_VARIABLE, `must be ${MD5_KINDS.join(' or ')} (got "${v}")`);
  return v as Md5Kind;
}
