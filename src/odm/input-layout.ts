// odm: the ODM project layout (/workspace/<job>/ as ScaleODM runs `run.py --project-path /workspace <job>`).
// - every image or video ODM accepts, and its *_mask.* file, flattened into images/;
// - gcp_list.txt, geo.txt, image_groups.txt, align.las|laz|tif into the project root, where ODM
//   looks for them (it does not search sub-directories);
// - .zip / .tar / .tar.gz / .tgz archives fetched aside and extracted by the same rules;
// - everything else ignored (and counted), never deleted after the fact.
// Name clashes get ScaleODM's `name_1.ext`, `name_2.ext` renames, decided in listing order so a
// re-run picks the same names (and finds the files it already fetched).
import { extname } from 'node:path';
import { archiveKind } from '../download/archive.js';
import type { Layout, Placement, Role } from '../download/layout/types.js';

/** ODM's opendm/context.py supported_extensions and supported_video_extensions. */
export const IMAGE_EXTENSIONS = new Set(['.jpg', '.jpeg', '.png', '.tif', '.tiff', '.bmp', '.raw', '.dng', '.nef', '.jxl']);
export const VIDEO_EXTENSIONS = new Set(['.mp4', '.mov', '.lrv', '.ts']);
/** Files ODM reads from the project root (opendm/types.py ODM_Tree, stages/splitmerge.py). */
export const ROOT_FILES = new Set(['gcp_list.txt', 'geo.txt', 'image_groups.txt', 'align.las', 'align.laz', 'align.tif']);

/**
 * ScaleODM's exclude set for input prefixes (app/s3/files.go alwaysExcludePatterns + the API's
 * DefaultProjectExcludes), anchored anywhere as rclone does: a previous run's products must
 * never be fed back into ODM as input imagery.
 */
export const ODM_DEFAULT_EXCLUDES = [
  'output', 'odm', 'odm_orthophoto', 'odm_dem', 'odm_dem_tiles', 'odm_texturing', 'odm_texturing_25d',
  'odm_meshing', 'odm_filterpoints', 'odm_georeferencing', 'odm_report', 'images_resize',
  'entwine_pointcloud', 'mapproxy', 'submodels', '*-output', 'thumbs',
].map((dir) => `**/${dir}/**`).concat(['all.zip']);

const MASK = /^(.+)_mask(\.[^.]+)$/i;

function splitExt(name: string): [stem: string, ext: string] {
  const ext = extname(name);
  return ext && ext !== name ? [name.slice(0, -ext.length), ext] : [name, ''];
}

export class OdmLayout implements Layout {
  readonly name = 'odm' as const;
  /** project-relative paths already given out ("images/a.jpg", "gcp_list.txt") */
  private readonly taken = new Set<string>();
  /** images that were renamed on a clash, so their masks follow: scope\0dir\0stem -> new stem */
  private readonly renamedStems = new Map<string, string>();

  place(scope: string, segments: readonly string[], isDir: boolean): Placement {
    if (isDir) return { kind: 'ignore', reason: 'directory marker (the odm layout is flat)' };
    const base = segments[segments.length - 1]!;
    // macOS zips carry "__MACOSX/._IMG_1.JPG" resource forks: image-named, not images
    if (base.startsWith('._') || segments.includes('__MACOSX')) return { kind: 'ignore', reason: 'macOS metadata file' };
    const lower = base.toLowerCase();
    if (ROOT_FILES.has(lower)) return this.placeFlat([], lower, 'ancillary', segments);
    if (archiveKind(lower)) return { kind: 'archive' };
    const [stem, ext] = splitExt(base);
    const extLower = ext.toLowerCase();
    if (VIDEO_EXTENSIONS.has(extLower)) return this.placeFlat(['images'], base, 'video', segments);
    if (!IMAGE_EXTENSIONS.has(extLower)) return { kind: 'ignore', reason: 'not an image, video, GCP/geo/align file or archive' };

    const dir = `${scope}\0${segments.slice(0, -1).join('/')}\0`;
    const mask = MASK.exec(base);
    if (mask) {
      // S3 lists "x.jpg" before "x_mask.png" ('.' < '_'), so a renamed image is known by now
      const renamed = this.renamedStems.get(dir + mask[1]!);
      return this.placeFlat(['images'], renamed ? `${renamed}_mask${mask[2]!}` : base, 'mask', segments);
    }
    const placed = this.placeFlat(['images'], base, 'image', segments);
    if (placed.kind === 'file' && placed.renamedFrom) this.renamedStems.set(dir + stem, splitExt(placed.segments[1]!)[0]);
    return placed;
  }

  claim(segments: readonly string[]): void {
    this.taken.add(segments.join('/'));
  }

  /** Give out `wanted` in dir, or the first free `stem_N.ext`. */
  private placeFlat(dir: string[], wanted: string, role: Role, from: readonly string[]): Placement {
    const [stem, ext] = splitExt(wanted);
    let name = wanted;
    for (let n = 1; this.taken.has([...dir, name].join('/')); n++) name = `${stem}_${n}${ext}`;
    const segments = [...dir, name];
    this.taken.add(segments.join('/'));
    // renamed: a clash, or a mask following its renamed image (GEO.TXT -> geo.txt is only spelling)
    const renamed = name !== (role === 'ancillary' ? wanted : from[from.length - 1]);
    return { kind: 'file', segments, role, ...(renamed ? { renamedFrom: from.join('/') } : {}) };
  }
}
