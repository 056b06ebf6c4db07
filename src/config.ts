// Configuration: flags > SIDECAR_* env > standard AWS / ScaleODM env > defaults.
// One table (src/config/options/*) drives parsing, --help and the options page (docs/options.md).
import { parseArgs } from 'node:util';
import { ConfigError, originOf, recordOrigins, type Group, type OptionDef } from './config/define.js';
import { brokerOptions } from './config/options/broker.js';
import { checkpointOptions } from './config/options/checkpoint.js';
import { commonOptions } from './config/options/common.js';
import { credentialOptions } from './config/options/credentials.js';
import { downloadOptions } from './config/options/download.js';
import { handoffOptions } from './config/options/handoff.js';
import { httpOptions } from './config/options/http.js';
import { storeOptions } from './config/options/store.js';
import { runOptions, uploadOptions } from './config/options/upload.js';

export { ConfigError } from './config/define.js';

export const OPTIONS = {
  ...commonOptions,
  ...storeOptions,
  ...credentialOptions,
  ...handoffOptions,
  ...httpOptions,
  ...downloadOptions,
  ...uploadOptions,
  ...runOptions,
  ...brokerOptions,
  ...checkpointOptions,
};

export type OptionKey = keyof typeof OPTIONS;
export type Config = { [K in OptionKey]: (typeof OPTIONS)[K]['default'] };

export const MODES = {
  credentials: {
    groups: ['common', 'credentials', 'handoff', 'http'],
    summary: 'Keep fresh credentials flowing to the main container until SIGTERM (or --once).',
  },
  download: {
    groups: ['common', 'credentials', 'handoff', 'download', 'checkpoint', 'http'],
    summary: 'Init container: write the hand-offs, prefetch the input prefix (and with --restore the newest checkpoint), write the ready marker, exit.',
  },
  run: {
    groups: ['common', 'credentials', 'handoff', 'download', 'upload', 'run', 'checkpoint', 'http'],
    summary: 'Sidecar: keep credentials fresh and stream outputs to S3 while the job runs; final pass + manifest at the end.',
  },
  restore: {
    groups: ['common', 'credentials', 'download', 'upload', 'checkpoint', 'http'],
    summary: 'Init container: restore the newest committed checkpoint into the output dir (the project dir), exit.',
  },
  upload: {
    groups: ['common', 'credentials', 'upload', 'http'],
    summary: 'One shot: upload what is new or changed in the output dir, then the manifest, exit.',
  },
  broker: {
    groups: ['broker', 'http'],
    // the broker's own credentials (default chain or web identity) and where STS is
    options: ['logLevel', 'region', 'stsEndpointUrl', 'roleArn', 'webIdentityTokenFile', 'stsRetries', 'refreshMinRemaining', 'refreshMaxBackoff'],
    summary: 'Control plane: verify service-account tokens and answer each job with AssumeRole credentials scoped by rules (docs/broker.md).',
  },
} as const satisfies Record<string, { groups: readonly Group[]; options?: readonly OptionKey[]; summary: string }>;

export type Mode = keyof typeof MODES;

export function isMode(s: string | undefined): s is Mode {
  return s !== undefined && Object.hasOwn(MODES, s);
}

/** The options a mode reads: its groups, plus single options from other groups some modes name. */
export function optionsFor(mode: Mode): [OptionKey, OptionDef<unknown>][] {
  const m: { groups: readonly Group[]; options?: readonly OptionKey[] } = MODES[mode];
  return (Object.entries(OPTIONS) as [OptionKey, OptionDef<unknown>][]).filter(([k, d]) => m.groups.includes(d.group) || m.options?.includes(k));
}

/** The flag or variable that set `key` in `config` (undefined: the default). */
export function setBy(config: object, key: OptionKey): string | undefined {
  return originOf(config, key);
}

/**
 * Parse argv (after the mode) and env into a full Config. Options outside the mode's groups keep
 * their defaults. Throws ConfigError naming the flag or variable on any bad value.
 */
export function loadConfig(mode: Mode, argv: string[], env: NodeJS.ProcessEnv = process.env): Config {
  const defs = optionsFor(mode);
  const parseOpts: Record<string, { type: 'string' | 'boolean' }> = {};
  for (const [, d] of defs) {
    parseOpts[d.flag] = { type: d.boolean ? 'boolean' : 'string' };
    if (d.boolean) parseOpts[`no-${d.flag}`] = { type: 'boolean' };
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options: parseOpts, strict: true, allowPositionals: false }));
  } catch (err) {
    const msg = (err as Error).message;
    const flag = /'(--?[^' ]+)/.exec(msg)?.[1] ?? 'arguments';
    throw new ConfigError(flag, `${msg.replace(/\. To specify a positional.*$/s, '')} (see s3-sidecar ${mode} --help)`);
  }

  const config = Object.fromEntries(Object.entries(OPTIONS).map(([k, d]) => [k, d.default])) as Record<string, unknown>;
  const origins = new Map<string, string>();
  for (const [key, d] of defs) {
    const flagValue = values[d.flag];
    if (d.boolean && values[`no-${d.flag}`]) {
      config[key] = false;
      origins.set(key, `--no-${d.flag}`);
    } else if (flagValue !== undefined) {
      config[key] = typeof flagValue === 'boolean' ? flagValue : d.parse(flagValue, `--${d.flag}`);
      origins.set(key, `--${d.flag}`);
    } else {
      const name = d.env.find((e) => env[e] !== undefined && env[e]!.trim() !== '');
      // Empty env values count as unset: Kubernetes manifests often carry `value: ""`.
      if (name) {
        config[key] = d.parse(env[name]!, name);
        origins.set(key, name);
      }
    }
  }
  recordOrigins(config, origins);
  return config as Config;
}

/** Throw the standard "missing" error for an option a mode needs. */
export function required<K extends OptionKey>(config: Config, key: K, why = 'is required'): NonNullable<Config[K]> {
  const v = config[key];
  if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) {
    const d = OPTIONS[key] as OptionDef<unknown>;
    throw new ConfigError(`--${d.flag} / ${d.env[0]}`, why);
  }
  return v as NonNullable<Config[K]>;
}

/**
 * Name an option the way errors do: the flag or variable the user set when `config` says so
 * (`S3_INPUT_PREFIX`, not the canonical name), else `--flag / SIDECAR_VAR`.
 */
export function optionName(key: OptionKey, config?: object): string {
  const set = config && setBy(config, key);
  if (set) return set;
  const d = OPTIONS[key] as OptionDef<unknown>;
  return `--${d.flag} / ${d.env[0]}`;
}
