// What the ODM preset knows about an ODM project directory (/workspace/<job>): where the
// products are, what never to walk, which files are ODM's temporaries, and how to read the
// two signals ODM leaves on disk (benchmark.txt stage lines, log.json at exit).
// Sources: ODM stages/odm_app.py, opendm/utils.py get_processing_results_paths,
// opendm/system.py benchmark(), opendm/cogeo.py, opendm/dem/commands.py.

/** Top-level folders holding products (globs on the first path segment). */
export const ODM_PRODUCT_DIRS = [
  'odm_orthophoto', 'odm_dem', 'odm_georeferencing', 'odm_report', 'odm_texturing*',
  'entwine_pointcloud', '*_tiles', '3d_tiles',
] as const;

/** Product files directly in the project root. */
export const ODM_ROOT_FILES = ['images.json', 'cameras.json', 'log.json', 'benchmark.txt'] as const;

/**
 * Never walked, even when an include names them: a 12k-image job has hundreds of thousands of
 * files here and chokidar would open one inotify watch per file.
 */
export const ODM_NEVER_DIRS = ['images', 'opensfm', 'submodels', 'odm_meshing', 'odm_filterpoints'] as const;

/** ODM's scratch files inside product folders; they are renamed or deleted before the stage ends. */
export const ODM_TEMPORARIES = [
  '*_cogeo*.tif', // COG conversion and its swap file (opendm/cogeo.py)
  '*_render.tif', // non-georeferenced orthophoto render, os.replace'd later
  '*.tmp', '*.tmp.*', '*.part',
  'odm_dem/tiles.*', 'odm_dem/tiles_list.txt', 'odm_dem/merged.vrt', // DEM gap-fill scratch
  'odm_dem/*_r*_x*_y*.tif', // per-radius DEM tiles, deleted after the merge
] as const;

/**
 * Which products a finished stage has made final. The benchmark line uses the stage's name
 * (ODM_Stage.name), e.g. "odm_orthophoto runtime: 812.3 seconds".
 */
const STAGE_PRODUCTS: Record<string, readonly string[]> = {
  dataset: ['images.json'],
  opensfm: ['cameras.json'],
  mvs_texturing: ['odm_texturing*/**'],
  odm_georeferencing: ['odm_georeferencing/**', 'entwine_pointcloud/**'],
  odm_dem: ['odm_dem/**', 'dsm_tiles/**', 'dtm_tiles/**'],
  odm_orthophoto: ['odm_orthophoto/**', 'orthophoto_tiles/**'],
  odm_report: ['odm_report/**'],
  odm_postprocess: ['**'],
  merge: ['**'],
};

/** Globs (relative to the project) of the products a stage made final; [] for stages without products. */
export function stageProducts(stage: string): readonly string[] {
  return STAGE_PRODUCTS[stage] ?? [];
}

export interface StageLine {
  stage: string;
  seconds: number;
}

const STAGE_LINE = /^(.+?) runtime: ([0-9.eE+-]+) seconds$/;

/** Parse complete lines of benchmark.txt (`<stage> runtime: <seconds> seconds`); other lines are skipped. */
export function parseBenchmark(text: string): StageLine[] {
  const out: StageLine[] = [];
  for (const line of text.split('\n')) {
    const m = STAGE_LINE.exec(line.trim());
    if (m) out.push({ stage: m[1]!, seconds: Number(m[2]) });
  }
  return out;
}

/**
 * The success flag of ODM's log.json, or undefined while the file is still being written
 * (ODM dumps it in one go at exit, but a reader can catch it half-written).
 */
export function parseLogJson(text: string): { success: boolean } | undefined {
  try {
    const v = JSON.parse(text) as { success?: unknown };
    return { success: v.success === true };
  } catch {
    return undefined;
  }
}
