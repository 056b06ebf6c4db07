// What differs between the S3 stores people run, in one table. The options --force-path-style,
// --request-checksum-calculation and --max-parts default to the store's value; set explicitly,
// they win. Sources for each value, and which ones are assumptions, are in docs/stores.md.
import type { Config } from '../config.js';
import { ConfigError, originOf } from './define.js';

export const PROVIDERS = ['aws', 'ceph', 'minio', 'garage', 'seaweedfs', 'scaleway', 'r2', 'b2', 'generic'] as const;
export type Provider = (typeof PROVIDERS)[number];

export interface StoreTraits {
  label: string;
  /** bucket in the path (true) or in the host name (false) */
  pathStyle: boolean;
  /** when_required: the store rejects the SDK's default CRC32 / checksum-mode headers */
  checksums: 'when_supported' | 'when_required';
  /** most parts in one multipart upload */
  maxParts: number;
  /** false: the store has no STS API, so web-identity and assume-role cannot work */
  sts: boolean;
}

export const STORES: Record<Provider, StoreTraits> = {
  aws: { label: 'AWS S3', pathStyle: false, checksums: 'when_supported', maxParts: 10_000, sts: true },
  ceph: { label: 'Ceph RGW', pathStyle: true, checksums: 'when_supported', maxParts: 10_000, sts: true },
  minio: { label: 'MinIO', pathStyle: true, checksums: 'when_supported', maxParts: 10_000, sts: true },
  garage: { label: 'Garage', pathStyle: true, checksums: 'when_required', maxParts: 10_000, sts: false },
  seaweedfs: { label: 'SeaweedFS', pathStyle: true, checksums: 'when_required', maxParts: 10_000, sts: true },
  scaleway: { label: 'Scaleway Object Storage', pathStyle: true, checksums: 'when_required', maxParts: 1_000, sts: false },
  r2: { label: 'Cloudflare R2', pathStyle: true, checksums: 'when_required', maxParts: 10_000, sts: false },
  b2: { label: 'Backblaze B2', pathStyle: true, checksums: 'when_required', maxParts: 10_000, sts: false },
  generic: { label: 'an S3-compatible store', pathStyle: true, checksums: 'when_supported', maxParts: 10_000, sts: true },
};

const HOSTS: [RegExp, Provider][] = [
  [/(^|\.)amazonaws\.com(\.cn)?$/, 'aws'],
  [/(^|\.)scw\.cloud$/, 'scaleway'],
  [/(^|\.)r2\.cloudflarestorage\.com$/, 'r2'],
  [/(^|\.)backblazeb2\.com$/, 'b2'],
];

/** The store an endpoint URL names, as far as its host tells: AWS without one, generic when unknown. */
export function recognise(endpointUrl: string | undefined): Provider {
  if (endpointUrl === undefined) return 'aws';
  let host: string;
  try {
    host = new URL(endpointUrl).hostname.toLowerCase();
  } catch {
    return 'generic';
  }
  return HOSTS.find(([re]) => re.test(host))?.[1] ?? 'generic';
}

export interface Store extends StoreTraits {
  provider: Provider;
  /** true when --s3-provider auto picked it */
  auto: boolean;
}

/** The option keys a store sets defaults for, and whether the user set them (see config.ts setBy). */
type Explicit = (key: 'forcePathStyle' | 'maxParts' | 'requestChecksumCalculation') => boolean;

/** The store `config` talks to, with the user's explicit options over the store's defaults. */
export function storeOf(config: Config, explicit: Explicit = defaultExplicit(config)): Store {
  const auto = config.s3Provider === 'auto';
  const provider = auto ? recognise(config.endpointUrl) : (config.s3Provider as Provider);
  const t = STORES[provider];
  return {
    ...t,
    provider,
    auto,
    // AWS without a custom endpoint, generic with one: what the SDK and this project always did
    pathStyle: explicit('forcePathStyle') ? config.forcePathStyle : provider === 'generic' ? config.endpointUrl !== undefined : t.pathStyle,
    checksums: explicit('requestChecksumCalculation') && config.requestChecksumCalculation ? config.requestChecksumCalculation : t.checksums,
    maxParts: explicit('maxParts') ? config.maxParts : t.maxParts,
  };
}

/** Set by the user (loadConfig records it); for a Config made by hand (tests), a value other than the default. */
function defaultExplicit(config: Config): Explicit {
  return (key) => {
    if (originOf(config, key) !== undefined) return true;
    return key === 'forcePathStyle' ? config.forcePathStyle : key === 'maxParts' ? config.maxParts !== 10_000 : config.requestChecksumCalculation !== undefined;
  };
}

/**
 * A source that calls STS cannot work against a store without STS: say so before the first call,
 * naming what the user set (the provider option, or the endpoint variable it was recognised from).
 */
export function requireSts(store: Store, source: string, setting: string): void {
  if (store.sts) return;
  const what = store.auto ? `names ${store.label} (--s3-provider auto), which` : `is ${store.provider}: ${store.label}`;
  throw new ConfigError(setting, `${what} has no STS, so the ${source} source cannot get credentials there. Mount a static key into the sidecar only (the chain source; docs/stores.md), or set --s3-provider generic if this store does have STS`);
}
