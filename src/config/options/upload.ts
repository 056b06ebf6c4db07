import { bool, bytes, duration, int, list, oneOf, str } from '../define.js';

export const uploadOptions = {
  outputDir: str({
    flag: 'output-dir', env: 'SIDECAR_OUTPUT_DIR', group: 'upload',
    help: 'Directory whose files are uploaded to the output prefix (relative path = key below the prefix).',
  }),
  preset: oneOf(['none', 'odm'] as const, {
    flag: 'preset', env: 'SIDECAR_PRESET', group: 'upload', default: 'none',
    help: "odm: watch only ODM's product folders, skip its temporaries, use benchmark.txt / log.json / UDP progress as signals.",
  }),
  outputInclude: list({
    flag: 'output-include', env: 'SIDECAR_OUTPUT_INCLUDE', group: 'upload',
    help: 'Only upload paths (relative to the output dir) matching one of these globs.',
  }),
  outputExclude: list({
    flag: 'output-exclude', env: 'SIDECAR_OUTPUT_EXCLUDE', group: 'upload',
    help: 'Never upload paths matching any of these globs (and never descend into matching folders).',
  }),
  stableWindow: duration({
    flag: 'stable-window', env: 'SIDECAR_STABLE_WINDOW', group: 'upload', default: 10_000,
    help: 'A file is uploaded once its size and mtime have not changed for this long.',
  }),
  uploadConcurrency: int({
    flag: 'upload-concurrency', env: 'SIDECAR_UPLOAD_CONCURRENCY', group: 'upload', default: 64, min: 1, max: 1024,
    help: 'Files uploaded at once (small files are latency-bound: many in flight hide the round trips).',
  }),
  uploadMemory: bytes({
    flag: 'upload-memory', env: 'SIDECAR_UPLOAD_MEMORY', group: 'upload', default: 64 * 1024 ** 2,
    help: 'Most file data held in memory by uploads in flight: a small file whole, a multipart file part-size × (part-concurrency + 1). Uploads wait for room.',
  }),
  partConcurrency: int({
    flag: 'part-concurrency', env: 'SIDECAR_PART_CONCURRENCY', group: 'upload', default: 4, min: 1, max: 64,
    help: 'Parts of one multipart upload in flight at once.',
  }),
  partSize: bytes({
    flag: 'part-size', env: 'SIDECAR_PART_SIZE', group: 'upload', default: 8 * 1024 ** 2,
    help: 'Smallest multipart part size (raised for large files to stay within --max-parts).',
  }),
  maxParts: int({
    flag: 'max-parts', env: 'SIDECAR_MAX_PARTS', group: 'upload', default: 10_000, min: 1, max: 10_000,
    defaultText: "the store's: 10,000; 1,000 on Scaleway",
    help: 'Most parts per multipart upload the store accepts; large files get larger parts so that they never need more.',
  }),
  multipartThreshold: bytes({
    flag: 'multipart-threshold', env: 'SIDECAR_MULTIPART_THRESHOLD', group: 'upload', default: 16 * 1024 ** 2,
    help: 'Files at least this large use a multipart upload; smaller ones one PutObject.',
  }),
  journalFile: str({
    flag: 'journal-file', env: 'SIDECAR_JOURNAL_FILE', group: 'upload', defaultText: '<output-dir>/.s3-sidecar/journal.json',
    help: 'State file recording what was uploaded, so a restarted sidecar re-uploads only what changed.',
  }),
  manifestKey: str({
    flag: 'manifest-key', env: 'SIDECAR_MANIFEST_KEY', group: 'upload', default: '_manifest.json',
    help: 'Key (below the output prefix) of the manifest written last.',
  }),
  verifyUploads: oneOf(['multipart', 'all'] as const, {
    flag: 'verify-uploads', env: 'SIDECAR_VERIFY_UPLOADS', group: 'upload', default: 'multipart',
    help: "HeadObject after each multipart upload (size, part count, checksum) or after every upload ('all'); a PutObject's own answer already carries the server's ETag.",
  }),
  signPayload: bool({
    flag: 'sign-payload', env: 'SIDECAR_SIGN_PAYLOAD', group: 'upload',
    help: 'Also sign every request body with SHA-256 (SigV4). Off: bodies carry a CRC32 checksum and go as UNSIGNED-PAYLOAD, one hash per byte; turn on for stores that ignore CRC32 (Ceph RGW 16, for one) when TLS is not used.',
  }),
  deleteRemoved: bool({
    flag: 'delete-removed', env: 'SIDECAR_DELETE_REMOVED', group: 'upload', default: true,
    help: 'At the final pass, delete objects this sidecar uploaded whose files are gone (renamed intermediates), so the prefix mirrors the output dir. Never touches keys it did not upload. Needs s3:DeleteObject.',
  }),
  strandedUploadAge: duration({
    flag: 'stranded-upload-age', env: 'SIDECAR_STRANDED_UPLOAD_AGE', group: 'upload', default: 24 * 3_600_000,
    help: "Abort an incomplete multipart upload below the output prefix that no journal shows to be this sidecar's or a dead one's only once it was started longer ago than this (a second sidecar on the prefix may still be sending it).",
  }),
  gracePeriod: duration({
    flag: 'grace-period', env: 'SIDECAR_GRACE_PERIOD', group: 'upload', default: 25_000,
    help: "After SIGTERM, finish within this long (keep it under the pod's terminationGracePeriodSeconds); what is left is aborted and reported.",
  }),
  uploadRetries: int({
    flag: 'upload-retries', env: 'SIDECAR_UPLOAD_RETRIES', group: 'upload', default: 10, min: 0, max: 1000,
    help: 'Retries of one file after a transient error (the whole run waits out an unreachable server).',
  }),
};

export const runOptions = {
  prefetch: bool({
    flag: 'prefetch', env: 'SIDECAR_PREFETCH', group: 'run',
    help: 'run: download the input prefix first (as the download mode does), then watch and upload.',
  }),
  doneFile: str({
    flag: 'done-file', env: 'SIDECAR_DONE_FILE', group: 'run',
    help: 'run: when this file appears the job has ended; do the final pass, write the manifest, exit.',
  }),
  afterJobEnd: oneOf(['exit', 'wait'] as const, {
    flag: 'after-job-end', env: 'SIDECAR_AFTER_JOB_END', group: 'run', default: 'exit',
    help: 'run: after the final pass and manifest, exit (Argo containerSet, plain containers) or wait for SIGTERM while still serving credentials (Kubernetes native sidecars, which are restarted if they exit early).',
  }),
  progressUdp: str({
    flag: 'progress-udp', env: 'SIDECAR_PROGRESS_UDP', group: 'run', defaultText: '127.0.0.1:6367 with --preset odm',
    help: "Listen for ODM's UDP progress messages (PGUP/...) here; 'off' disables.",
  }),
};
