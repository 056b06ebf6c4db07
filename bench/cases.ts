// The benchmark cases (download and upload): data shape, network path, targets.
import { dataset, GiB, KiB, MiB, type Dataset } from './data.js';
import type { ToolId } from './tools.js';

export type Target =
  /** s3-sidecar at least `min` × as fast as `peer` (peer wall / s3-sidecar wall) */
  | { kind: 'speedup'; peer: ToolId | 'fastest-peer'; min: number }
  /** fewer client CPU seconds per GiB than `peer` */
  | { kind: 'cpu-below'; peer: ToolId }
  | { kind: 'rss-below'; mib: number };

export interface TransferCase {
  id: string;
  direction: 'download' | 'upload';
  /** where the bytes go; the data shape is appended from the dataset */
  title: string;
  /** through the 20 ms RTT proxy instead of straight to the loopback server */
  viaProxy: boolean;
  data: (quick: boolean) => Dataset;
  targets: Target[];
}

const pad = (n: number, w: number): string => String(n).padStart(w, '0');
const many = (n: number, size: number, name: (i: number) => string) =>
  Array.from({ length: n }, (_, i) => ({ rel: name(i + 1), size }));

const THROUGHPUT_TARGETS: Target[] = [
  { kind: 'speedup', peer: 'fastest-peer', min: 0.95 },
  { kind: 'cpu-below', peer: 'rclone' },
  { kind: 'cpu-below', peer: 'rclone32' },
  { kind: 'rss-below', mib: 200 },
];

export const TRANSFER_CASES: TransferCase[] = [
  {
    id: 'download-small',
    direction: 'download',
    title: 'Download, loopback',
    viaProxy: false,
    data: (q) => dataset('download-small', many(q ? 150 : 600, 4 * MiB, (i) => `IMG_${pad(i, 4)}.JPG`)),
    targets: THROUGHPUT_TARGETS,
  },
  {
    id: 'download-large',
    direction: 'download',
    title: 'Download, loopback',
    viaProxy: false,
    data: (q) => dataset('download-large', many(2, q ? 256 * MiB : GiB, (i) => `scan-${i}.tif`)),
    targets: THROUGHPUT_TARGETS,
  },
  {
    id: 'download-latency',
    direction: 'download',
    title: 'Download, 20 ms RTT proxy',
    viaProxy: true,
    data: (q) => dataset('download-latency', many(q ? 500 : 2000, 64 * KiB, (i) => `IMG_${pad(i, 5)}.JPG`)),
    targets: [
      { kind: 'speedup', peer: 'rclone', min: 4 },
      { kind: 'speedup', peer: 'awscli', min: 3 },
      { kind: 'speedup', peer: 'rclone32', min: 1 },
    ],
  },
  {
    id: 'upload-large',
    direction: 'upload',
    title: 'Upload, loopback',
    viaProxy: false,
    data: (q) => dataset('upload-large', [{ rel: 'odm_orthophoto/odm_orthophoto.tif', size: q ? 512 * MiB : 2 * GiB }]),
    targets: THROUGHPUT_TARGETS,
  },
  {
    id: 'upload-small',
    direction: 'upload',
    title: 'Upload, loopback',
    viaProxy: false,
    data: (q) => dataset('upload-small', many(q ? 50 : 200, 4 * MiB, (i) => `odm_texturing/texture_${pad(i, 3)}.png`)),
    targets: THROUGHPUT_TARGETS,
  },
  {
    id: 'upload-latency',
    direction: 'upload',
    title: 'Upload, 20 ms RTT proxy',
    viaProxy: true,
    // z/x/y layout as gdal2tiles writes it: 40 columns of 50 tiles (quick: 10 columns)
    data: (q) => dataset('upload-latency', many(q ? 500 : 2000, 64 * KiB, (i) =>
      `orthophoto_tiles/20/${Math.floor((i - 1) / 50)}/${(i - 1) % 50}.png`)),
    targets: [
      { kind: 'speedup', peer: 'rclone', min: 4 },
      { kind: 'speedup', peer: 'awscli', min: 2 },
    ],
  },
];

export const ODM_LATENCY_CASE = 'upload-odm-latency';
export const ALL_CASES = [...TRANSFER_CASES.map((c) => c.id), ODM_LATENCY_CASE];

/** `--case` values: a case id, or a prefix of several ("download", "upload"). */
export function selectCases(requested: string[]): string[] {
  if (requested.length === 0) return ALL_CASES;
  const picked = ALL_CASES.filter((id) => requested.some((r) => id === r || id.startsWith(`${r}-`)));
  const unknown = requested.filter((r) => !ALL_CASES.some((id) => id === r || id.startsWith(`${r}-`)));
  if (unknown.length) throw new Error(`unknown --case ${unknown.join(', ')} (cases: ${ALL_CASES.join(', ')})`);
  return picked;
}
