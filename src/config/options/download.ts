import { bool, bytes, duration, int, list, oneOf, str } from '../define.js';

export const downloadOptions = {
  inputDir: str({
    flag: 'input-dir', env: 'SIDECAR_INPUT_DIR', group: 'download',
    help: 'Directory the input prefix is downloaded into (for --layout odm: the ODM project dir, /workspace/<job>).',
  }),
  layout: oneOf(['mirror', 'odm'] as const, {
    flag: 'layout', env: 'SIDECAR_LAYOUT', group: 'download', default: 'mirror',
    help: 'mirror: keys below the prefix become paths below the dir. odm: images flattened into images/, GCP/geo/align files at the root.',
  }),
  inputInclude: list({
    flag: 'input-include', env: 'SIDECAR_INPUT_INCLUDE', group: 'download',
    help: 'Only download keys (relative to the prefix) matching one of these globs. A glob without "/" matches the file name at any depth (*.JPG); one with "/" matches the whole relative key (flight1/**).',
  }),
  inputExclude: list({
    flag: 'input-exclude', env: 'SIDECAR_INPUT_EXCLUDE', group: 'download',
    help: 'Skip keys (relative to the prefix) matching any of these globs (same rules as --input-include; excludes win).',
  }),
  defaultExcludes: bool({
    flag: 'default-excludes', env: 'SIDECAR_DEFAULT_EXCLUDES', group: 'download', default: true,
    help: "With --layout odm, also skip ScaleODM's default excludes (output/**, odm/**, ODM product folders, all.zip).",
  }),
  maxDepth: int({
    flag: 'max-depth', env: 'SIDECAR_MAX_DEPTH', group: 'download', min: 1, max: 1000,
    defaultText: 'unlimited', help: 'Only keys at most this many path segments below the prefix (1 = directly in it).',
  }),
  downloadConcurrency: int({
    flag: 'download-concurrency', env: 'SIDECAR_DOWNLOAD_CONCURRENCY', group: 'download', default: 32, min: 1, max: 1024,
    help: 'Objects downloaded at once (objects of --range-threshold or more queue apart and use --range-concurrency requests each).',
  }),
  rangeThreshold: bytes({
    flag: 'range-threshold', env: 'SIDECAR_RANGE_THRESHOLD', group: 'download', default: 64 * 1024 ** 2,
    help: 'Objects at least this large are fetched as parallel byte ranges.',
  }),
  rangeSize: bytes({
    flag: 'range-size', env: 'SIDECAR_RANGE_SIZE', group: 'download', default: 16 * 1024 ** 2,
    help: 'Size of each byte range of a large object.',
  }),
  rangeConcurrency: int({
    flag: 'range-concurrency', env: 'SIDECAR_RANGE_CONCURRENCY', group: 'download', default: 8, min: 1, max: 256,
    help: 'Byte ranges of one large object fetched at once.',
  }),
  archiveMaxBytes: bytes({
    flag: 'archive-max-bytes', env: 'SIDECAR_ARCHIVE_MAX_BYTES', group: 'download', default: 50 * 1024 ** 3,
    help: 'With --layout odm: most bytes extracted from .zip/.tar(.gz) archives in total.',
  }),
  archiveMaxFiles: int({
    flag: 'archive-max-files', env: 'SIDECAR_ARCHIVE_MAX_FILES', group: 'download', default: 500_000, min: 1,
    help: 'With --layout odm: most files extracted from archives in total.',
  }),
  readyFile: str({
    flag: 'ready-file', env: 'SIDECAR_READY_FILE', group: 'download',
    help: 'Written atomically (mode 0644), with a JSON manifest of what was fetched, only when the download succeeded; removed at the start of a run.',
  }),
  downloadRetries: int({
    flag: 'download-retries', env: 'SIDECAR_DOWNLOAD_RETRIES', group: 'download', default: 5, min: 0, max: 100,
    help: 'Retries of one object after a transient error (5xx, SlowDown, reset, short or corrupt body).',
  }),
  serverDeadline: duration({
    flag: 'server-deadline', env: 'SIDECAR_SERVER_DEADLINE', group: 'download', default: 120_000,
    help: 'Give up when the server has answered nothing for this long (a dead server fails the run, it does not hang).',
  }),
  progressInterval: duration({
    flag: 'progress-interval', env: 'SIDECAR_PROGRESS_INTERVAL', group: 'download', default: 5_000,
    help: 'How often a progress line is logged.',
  }),
};
