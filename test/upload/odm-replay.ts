// ODM replay: writes an ODM project directory the way ODM 3.x does, stage by stage, so the
// sidecar can be tested against ODM's real write patterns without running ODM:
// - huge intermediate folders the sidecar must never walk (images/, opensfm/, odm_meshing/,
//   odm_filterpoints/), written throughout;
// - products rendered in place, growing with pauses longer than the stable window (so an
//   intermediate version is uploaded and must be replaced later);
// - crop by rename (x.tif -> x.original.tif, then a new x.tif), rasterio 'r+' tag edits that
//   keep the size, the COG swap through *_cogeo.tif / *_cogeo_swap.tif, DEM scratch tiles;
// - "<stage> runtime: N seconds" appended to benchmark.txt after each stage (ODM --time);
// - log.json written once at exit with "success";
// - a resumed run (`resume`) skips every stage whose output file is already there, as ODM's
//   stages do (`if not io.file_exists(<output>) or self.rerun()`; table in docs/checkpoints.md),
//   and still appends the stage's benchmark line;
// - content is a function of the path and size (seeded), so two runs write identical bytes.
// (Patterns from ODM stages/odm_app.py, opendm/orthophoto.py, cropper.py, cogeo.py, dem/commands.py.)
//
// As a script:  node --import tsx test/upload/odm-replay.ts <project-dir> [pause-ms] [--resume]
//                 [--wait-dir <dir>: after each stage line wait for <dir>/<stage>.go]
//                 [--stall-in <stage>: write part of that stage's output, then hang until killed]
import { createCipheriv, createHash } from 'node:crypto';
import { appendFileSync, chmodSync, existsSync, mkdirSync, openSync, closeSync, writeSync, renameSync, rmSync, writeFileSync, readSync, fstatSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface ReplayOptions {
  dir: string;
  /** pause inside in-place writes; make it longer than the sidecar's stable window */
  pauseMs: number;
  /** after each stage's benchmark line (the test checks that stage's products are in S3 here) */
  afterStage?: (stage: string, products: string[]) => Promise<void>;
  /** before log.json is written (the job's last moment) */
  beforeExit?: () => Promise<void>;
  /** size of the big rasters in MiB (orthophoto; others are fractions of it) */
  orthoMiB?: number;
  success?: boolean;
  /** skip the stages whose outputs are present (ODM started again on the same project dir) */
  resume?: boolean;
  /** in this stage, write part of the output and then never finish (the test kills the process) */
  stallIn?: string;
}

export interface ReplayResult {
  /** every product file at the end (relative paths): what S3 must hold */
  products: string[];
  /** everything ODM wrote that must NOT be uploaded */
  intermediates: string[];
  /** stages skipped because their outputs were there (resume) */
  skipped: string[];
}

/** Deterministic bytes for a label: AES-256-CTR over zeros, keyed by the label's hash. */
export function seeded(label: string, n: number): Buffer {
  const key = createHash('sha256').update(label).digest();
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(n));
}

/** The input images (what `download` places in images/): 40 small JPEGs. */
export function inputImages(): { rel: string; data: Buffer }[] {
  return Array.from({ length: 40 }, (_, i) => {
    const rel = `images/DJI_${String(i).padStart(4, '0')}.JPG`;
    return { rel, data: seeded(rel, 16 * 1024) };
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MiB = 1024 * 1024;

export async function replayOdm(o: ReplayOptions): Promise<ReplayResult> {
  const { dir, pauseMs } = o;
  const orthoBytes = Math.round((o.orthoMiB ?? 12) * MiB);
  const p = (rel: string) => join(dir, rel);
  const products = new Set<string>();
  const intermediates = new Set<string>();
  const skipped: string[] = [];
  const started = Date.now();
  const writes = new Map<string, number>();
  /** fresh content for each write of a path (in-place rewrites must change bytes), the same in every run */
  const randomBytes = (n: number, rel: string) => {
    const nth = (writes.get(rel) ?? 0) + 1;
    writes.set(rel, nth);
    return seeded(`${rel}#${nth}`, n);
  };

  const write = (rel: string, data: Buffer | string, product: boolean) => {
    mkdirSync(dirname(p(rel)), { recursive: true });
    writeFileSync(p(rel), data);
    (product ? products : intermediates).add(rel);
  };
  const writeSeeded = (rel: string, n: number, product: boolean) => write(rel, randomBytes(n, rel), product);
  /** write `bytes` into rel in place, in `steps` chunks, pausing `pauses` times along the way */
  const grow = async (rel: string, bytes: number, steps: number, pauses: number) => {
    mkdirSync(dirname(p(rel)), { recursive: true });
    const fd = openSync(p(rel), 'w');
    const chunk = Math.ceil(bytes / steps);
    const data = randomBytes(bytes, rel);
    for (let i = 0, off = 0; off < bytes; i++, off += chunk) {
      writeSync(fd, data.subarray(off, Math.min(off + chunk, bytes)));
      if (i < pauses) await sleep(pauseMs);
      else await sleep(20);
    }
    closeSync(fd);
    products.add(rel);
  };
  /** rasterio 'r+' metadata edit: rewrite some bytes in place, same size, new mtime */
  const tagInPlace = async (rel: string) => {
    await sleep(30); // a new mtime tick even on coarse clocks
    const fd = openSync(p(rel), 'r+');
    const size = fstatSync(fd).size;
    const at = Math.floor(size / 3);
    const buf = Buffer.alloc(64);
    readSync(fd, buf, 0, 64, at);
    for (let i = 0; i < buf.length; i++) buf[i] = buf[i]! ^ 0xff;
    writeSync(fd, buf, 0, buf.length, at);
    closeSync(fd);
  };
  /** opendm/cropper.py: keep the uncropped raster as .original.tif, gdalwarp a cropped one in place */
  const crop = async (rel: string, bytes: number) => {
    const original = rel.replace(/\.tif$/, '.original.tif');
    renameSync(p(rel), p(original));
    products.add(original);
    await grow(rel, bytes, 4, 0);
  };
  /** opendm/cogeo.py: x_cogeo.tif written, x.tif -> x_cogeo_swap.tif, x_cogeo.tif -> x.tif, swap removed */
  const cogSwap = async (rel: string, bytes: number) => {
    const tmp = rel.replace(/\.tif$/, '_cogeo.tif');
    const swap = rel.replace(/\.tif$/, '_cogeo_swap.tif');
    mkdirSync(dirname(p(tmp)), { recursive: true });
    const fd = openSync(p(tmp), 'w');
    const data = randomBytes(bytes, tmp);
    for (let off = 0; off < bytes; off += MiB) {
      writeSync(fd, data.subarray(off, Math.min(off + MiB, bytes)));
      await sleep(10);
    }
    closeSync(fd);
    renameSync(p(rel), p(swap));
    renameSync(p(tmp), p(rel));
    rmSync(p(swap));
  };
  /** `done`: the output ODM's stage checks before it runs (opendm/types.py paths) */
  const stage = async (name: string, done: string[], body: () => Promise<void> | void) => {
    const t0 = Date.now();
    if (o.resume && done.length > 0 && done.every((rel) => existsSync(p(rel)))) skipped.push(name);
    else await body();
    appendFileSync(p('benchmark.txt'), `${name} runtime: ${((Date.now() - t0) / 1000).toFixed(3)} seconds\n`);
    products.add('benchmark.txt');
    await o.afterStage?.(name, [...products].sort());
  };

  mkdirSync(dir, { recursive: true });
  const stall = async (name: string) => {
    if (o.stallIn === name) await new Promise(() => {}); // killed here, mid-stage
  };
  // the inputs, unless `download` placed them already
  for (const img of inputImages()) if (!existsSync(p(img.rel))) write(img.rel, img.data, false);
  // ODM's dataset stage, skipped or not, starts a rerun's benchmark.txt afresh (stages/dataset.py)
  if (existsSync(p('benchmark.txt'))) {
    rmSync(p('benchmark.txt'));
    appendFileSync(p('benchmark.txt'), `ODM Benchmarking file created ${new Date().toISOString()}\nNumber of Cores: 2\n\n`);
  }
  await stage('dataset', ['images.json'], () => {
    write('img_list.txt', Array.from({ length: 40 }, (_, i) => `DJI_${String(i).padStart(4, '0')}.JPG`).join('\n'), false);
    chmodSync(p('img_list.txt'), 0o600);
    write('options.json', JSON.stringify({ 'orthophoto-resolution': 5, cog: true }), false);
    write('images.json', JSON.stringify(Array.from({ length: 40 }, (_, i) => ({ filename: `DJI_${i}.JPG`, width: 4000 }))), true);
  });
  await stage('opensfm', ['opensfm/undistorted/reconstruction.nvm'], () => {
    for (let i = 0; i < 40; i++) {
      writeSeeded(`opensfm/features/DJI_${i}.JPG.features.npz`, 8 * 1024, false);
      write(`opensfm/exif/DJI_${i}.JPG.exif`, '{}', false);
      writeSeeded(`opensfm/undistorted/images/DJI_${i}.JPG.tif`, 8 * 1024, false);
    }
    write('opensfm/reconstruction.json', '[]', false);
    write('opensfm/run_sfm.sh', '#!/bin/sh\n', false);
    chmodSync(p('opensfm/run_sfm.sh'), 0o755);
    write('cameras.json', JSON.stringify({ 'v2 dji fc6310 4864 3648': { projection_type: 'brown' } }), true);
    write('opensfm/undistorted/reconstruction.nvm', 'NVM_V3\n', false);
  });
  await stage('openmvs', ['opensfm/undistorted/openmvs/scene_dense_dense_filtered.ply'], () => writeSeeded('opensfm/undistorted/openmvs/scene_dense_dense_filtered.ply', 256 * 1024, false));
  await stage('odm_filterpoints', ['odm_filterpoints/point_cloud.ply'], () => writeSeeded('odm_filterpoints/point_cloud.ply', 256 * 1024, false));
  await stage('odm_meshing', ['odm_meshing/odm_mesh.ply', 'odm_meshing/odm_25dmesh.ply'], () => {
    writeSeeded('odm_meshing/odm_mesh.ply', 128 * 1024, false);
    writeSeeded('odm_meshing/odm_25dmesh.ply', 128 * 1024, false);
  });
  await stage('mvs_texturing', ['odm_texturing/odm_textured_model_geo.obj'], async () => {
    write('odm_texturing/odm_textured_model_geo.mtl', 'newmtl material0000\nmap_Kd odm_textured_model_geo_material0000_map_Kd.png\n', true);
    await grow('odm_texturing/odm_textured_model_geo_material0000_map_Kd.png', 2 * MiB, 4, 1);
    await grow('odm_texturing/odm_textured_model_geo.obj', MiB, 2, 0);
  });
  await stage('odm_georeferencing', ['odm_georeferencing/odm_georeferenced_model.laz'], async () => {
    write('odm_georeferencing/coords.txt', 'WGS84 UTM 32N\n500000 4000000\n', true);
    await grow('odm_georeferencing/odm_georeferenced_model.laz', Math.round(orthoBytes * 0.6), 6, 2);
    writeSeeded('odm_georeferencing/odm_georeferenced_model.bounds.gpkg', 32 * 1024, true);
  });
  await stage('odm_dem', ['odm_dem/dsm.tif'], async () => {
    // per-radius tiles, the VRT and the gap-fill scratch files, all gone by the end of the stage
    writeSeeded('odm_dem/dsm_r0.56_x0_y0.tif', 512 * 1024, false);
    await stall('odm_dem');
    writeSeeded('odm_dem/dsm_r0.79_x0_y0.tif', 512 * 1024, false);
    write('odm_dem/tiles_list.txt', 'odm_dem/dsm_r0.56_x0_y0.tif\n', false);
    write('odm_dem/tiles.vrt', '<VRTDataset/>', false);
    writeSeeded('odm_dem/tiles.tmp.tif', MiB, false);
    writeSeeded('odm_dem/tiles.small.tif', 64 * 1024, false);
    write('odm_dem/merged.vrt', '<VRTDataset/>', false);
    writeSeeded('odm_dem/tiles.tif', MiB, false);
    await sleep(pauseMs);
    // median_smoothing writes dsm.tif directly, then the scratch goes
    await grow('odm_dem/dsm.tif', Math.round(orthoBytes * 0.3), 3, 1);
    for (const f of ['dsm_r0.56_x0_y0.tif', 'dsm_r0.79_x0_y0.tif', 'tiles_list.txt', 'tiles.vrt', 'tiles.tmp.tif', 'tiles.small.tif', 'merged.vrt', 'tiles.tif']) rmSync(p(`odm_dem/${f}`));
    await crop('odm_dem/dsm.tif', Math.round(orthoBytes * 0.25));
    await tagInPlace('odm_dem/dsm.tif');
    await cogSwap('odm_dem/dsm.tif', Math.round(orthoBytes * 0.2));
  });
  await stage('odm_orthophoto', ['odm_orthophoto/odm_orthophoto.tif'], async () => {
    // rendered directly into the final file, in bursts with long pauses (the sidecar sees it
    // stable in between and uploads an intermediate version)
    await grow('odm_orthophoto/odm_orthophoto.tif', orthoBytes, 8, 2);
    await crop('odm_orthophoto/odm_orthophoto.tif', Math.round(orthoBytes * 0.8));
    await tagInPlace('odm_orthophoto/odm_orthophoto.tif');
    await cogSwap('odm_orthophoto/odm_orthophoto.tif', Math.round(orthoBytes * 0.7));
    write('odm_orthophoto/odm_orthophoto.tfw', '0.05\n0\n0\n-0.05\n500000\n4000000\n', true);
    write('odm_orthophoto/odm_orthophoto_extent.dxf', '0\nSECTION\n', true);
    writeSeeded('odm_orthophoto/cutline.gpkg', 16 * 1024, true);
  });
  await stage('odm_report', ['odm_report/report.pdf'], async () => {
    write('odm_report/stats.json', JSON.stringify({ processing_statistics: { area: 1234 } }), true);
    await grow('odm_report/report.pdf', 700 * 1024, 2, 0);
  });
  await stage('odm_postprocess', [], () => {});

  await o.beforeExit?.();
  const end = new Date();
  write('log.json', JSON.stringify({
    odmVersion: '3.6.0', startTime: new Date(started).toISOString(), endTime: end.toISOString(),
    success: o.success ?? true, stages: [], options: {},
  }), true);
  return { products: [...products].sort(), intermediates: [...intermediates].sort(), skipped };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const flag = (name: string) => { const i = args.indexOf(name); return i < 0 ? undefined : args.splice(i, 2)[1]; };
  const resume = args.includes('--resume');
  const waitDir = flag('--wait-dir');
  const stallIn = flag('--stall-in');
  const [dir, pause] = args.filter((a) => a !== '--resume');
  if (!dir) {
    console.error('usage: node --import tsx test/upload/odm-replay.ts <project-dir> [pause-ms] [--resume] [--wait-dir <dir>] [--stall-in <stage>]');
    process.exit(2);
  }
  const r = await replayOdm({
    dir, pauseMs: Number(pause ?? 1500), resume, stallIn,
    afterStage: waitDir ? async (stage) => {
      while (!existsSync(join(waitDir, `${stage}.go`))) await sleep(20);
    } : undefined,
  });
  console.log(JSON.stringify(r, null, 1));
}
