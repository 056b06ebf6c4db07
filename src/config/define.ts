// Option definitions: one table drives flag parsing, env lookup, --help and docs/options.md.
// Every option is a `--kebab-case` flag and at least one env var (SIDECAR_* first, then the
// standard AWS / ScaleODM names that keep their meaning).

export class ConfigError extends Error {
  /** `variable` is the flag or env var the user must fix; it leads the one-line message. */
  constructor(readonly variable: string, problem: string) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

/** Where each value of a loaded config came from (the flag or variable the user set), kept on the config itself. */
const ORIGINS = Symbol('origins');

export function recordOrigins(config: object, origins: Map<string, string>): void {
  Object.defineProperty(config, ORIGINS, { value: origins, enumerable: false });
}

/** The flag or variable that set `key` in a loaded config (undefined: the default, or not loaded by loadConfig). */
export function originOf(config: object, key: string): string | undefined {
  return (config as { [ORIGINS]?: Map<string, string> })[ORIGINS]?.get(key);
}

export type Group = 'common' | 'credentials' | 'handoff' | 'download' | 'upload' | 'run' | 'checkpoint' | 'http' | 'broker';

export interface OptionDef<T> {
  flag: string;
  env: readonly string[];
  group: Group;
  help: string;
  boolean: boolean;
  default: T;
  /** how the default reads in --help and docs/options.md when it is computed or absent */
  defaultText: string;
  choices?: readonly string[];
  parse(raw: string, name: string): T;
}

interface Spec<T> {
  flag: string;
  env: string | readonly string[];
  group: Group;
  help: string;
  default?: T;
  defaultText?: string;
}

function make<T>(spec: Spec<T>, parse: (raw: string, name: string) => T, show: (v: T) => string, extra: Partial<OptionDef<T>> = {}): OptionDef<T> {
  const env = typeof spec.env === 'string' ? [spec.env] : spec.env;
  return {
    flag: spec.flag,
    env,
    group: spec.group,
    help: spec.help,
    boolean: false,
    default: spec.default as T,
    defaultText: spec.defaultText ?? (spec.default === undefined ? '' : show(spec.default as T)),
    parse,
    ...extra,
  };
}

type Def<T, S> = S extends { default: T } ? OptionDef<T> : OptionDef<T | undefined>;

export function str<S extends Spec<string>>(spec: S): Def<string, S> {
  return make<string>(spec, (raw, name) => {
    if (raw.trim() === '') throw new ConfigError(name, 'must not be empty');
    return raw.trim();
  }, (v) => v) as Def<string, S>;
}

/** An http:// or https:// URL (an S3 or STS endpoint). */
export function url<S extends Spec<string>>(spec: S): Def<string, S> {
  return make<string>(spec, (raw, name) => {
    let u: URL | undefined;
    try {
      u = new URL(raw.trim());
    } catch {
      u = undefined;
    }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) throw new ConfigError(name, `must be an http:// or https:// URL (got "${raw}")`);
    return raw.trim();
  }, (v) => v) as Def<string, S>;
}

export function oneOf<C extends string, S extends Spec<C>>(choices: readonly C[], spec: S): Def<C, S> {
  return make<C>(spec, (raw, name) => {
    const v = raw.trim().toLowerCase() as C;
    if (!choices.includes(v)) throw new ConfigError(name, `must be one of ${choices.join(', ')} (got "${raw}")`);
    return v;
  }, (v) => v, { choices }) as Def<C, S>;
}

export function int<S extends Spec<number> & { min?: number; max?: number }>(spec: S): Def<number, S> {
  const { min = 0, max = Number.MAX_SAFE_INTEGER } = spec;
  return make<number>(spec, (raw, name) => {
    const v = Number(raw.trim());
    if (!Number.isInteger(v) || v < min || v > max) throw new ConfigError(name, `must be a whole number from ${min} to ${max} (got "${raw}")`);
    return v;
  }, String) as Def<number, S>;
}

/** Octal file mode such as 0600. */
export function mode<S extends Spec<number>>(spec: S): Def<number, S> {
  return make<number>(spec, (raw, name) => {
    if (!/^0?[0-7]{3}$/.test(raw.trim())) throw new ConfigError(name, `must be an octal file mode such as 0600 (got "${raw}")`);
    return parseInt(raw.trim(), 8);
  }, (v) => '0' + v.toString(8)) as Def<number, S>;
}

const TRUE = ['1', 'true', 'yes', 'on'];
const FALSE = ['0', 'false', 'no', 'off'];
export function bool<S extends Spec<boolean>>(spec: S): OptionDef<boolean> {
  return make<boolean>({ default: false, ...spec }, (raw, name) => {
    const v = raw.trim().toLowerCase();
    if (TRUE.includes(v)) return true;
    if (FALSE.includes(v)) return false;
    throw new ConfigError(name, `must be true or false (got "${raw}")`);
  }, String, { boolean: true });
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
/** Duration in milliseconds; accepts `90`, `90s`, `1500ms`, `5m`, `2h` (a bare number is seconds). */
export function duration<S extends Spec<number>>(spec: S): Def<number, S> {
  return make<number>(spec, (raw, name) => {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(raw.trim());
    if (!m) throw new ConfigError(name, `must be a duration such as 30s, 5m or 2h (got "${raw}")`);
    const ms = Math.round(Number(m[1]) * UNITS[m[2] ?? 's']!);
    // Node's timers overflow above this and fire after 1 ms instead: a busy loop, not a long wait
    if (ms > MAX_TIMER_MS) throw new ConfigError(name, `must be at most ${showDuration(MAX_TIMER_MS)} (about 24.8 days; longer does not fit a timer), got "${raw}"`);
    return ms;
  }, showDuration) as Def<number, S>;
}

/** The longest delay setTimeout honours (2^31-1 ms). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export function showDuration(ms: number): string {
  if (ms % 3_600_000 === 0 && ms > 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0 && ms > 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

const BYTE_UNITS: Record<string, number> = { '': 1, k: 1e3, kb: 1e3, kib: 1024, m: 1e6, mb: 1e6, mib: 1024 ** 2, g: 1e9, gb: 1e9, gib: 1024 ** 3, t: 1e12, tb: 1e12, tib: 1024 ** 4 };
/** Byte size; accepts `8388608`, `8MiB`, `16M`, `1GiB`. */
export function bytes<S extends Spec<number>>(spec: S): Def<number, S> {
  return make<number>(spec, (raw, name) => {
    const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(raw.trim());
    const unit = m ? BYTE_UNITS[m[2]!.toLowerCase()] : undefined;
    if (!m || unit === undefined) throw new ConfigError(name, `must be a size such as 8MiB or 1GiB (got "${raw}")`);
    return Math.round(Number(m[1]) * unit);
  }, showBytes) as Def<number, S>;
}

export function showBytes(n: number): string {
  for (const [u, f] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (n >= f && n % f === 0) return `${n / f}${u}`;
  }
  return String(n);
}

/** Comma- or newline-separated list (spaces inside items kept). */
export function list<S extends Spec<string[]>>(spec: S): OptionDef<string[]> {
  return make<string[]>({ default: [], ...spec }, (raw) =>
    raw.split(/[,\n]/).map((s) => s.trim()).filter(Boolean), (v) => v.join(','));
}
