// What a prefetch did, for the ready marker, the final log line and the exit code.
import type { Role } from './layout/types.js';

export interface Failure {
  uri: string;
  reason: string;
}

export interface SourceSummary {
  uri: string;
  objects: number;
  bytes: number;
}

export interface ArchiveSummary {
  uri: string;
  files: number;
  status: 'extracted' | 'already extracted' | 'failed';
}

export interface PrefetchSummary {
  downloaded: number;
  skipped: number;
  extracted: number;
  failed: number;
  /** listed keys the layout does not use (odm: not an image/video/GCP/archive) */
  ignored: number;
  /** listed keys skipped by include/exclude/--max-depth */
  excluded: number;
  dirs: number;
  renamed: number;
  bytesDownloaded: number;
  bytesSkipped: number;
  bytesResumed: number;
  byRole: Partial<Record<Role, number>>;
  /** odm: what landed in the project root (gcp_list.txt, geo.txt, ...) */
  rootFiles: string[];
  archives: ArchiveSummary[];
  sources: SourceSummary[];
  failures: Failure[];
  /** failure reason -> count, for the one-line summary */
  failureReasons: Record<string, number>;
  /** set when the run was cut short (dead server, signal): the reason */
  stoppedBy?: string;
  /** queued or in-flight objects cut off because the run stopped (the listing stops too) */
  notFetched: number;
}
