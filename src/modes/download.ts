// `s3-sidecar download` (init container): credentials and hand-offs first, so the main container
// starts with a valid credentials file; then the input prefix(es) into the input dir; then the
// ready marker with a small manifest, written only when everything arrived. What did arrive stays
// on disk either way, and a re-run fetches only what is missing.
import { setMaxListeners } from 'node:events';
import { rm, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { optionName, required, type Config } from '../config.js';
import { ConfigError } from '../config/define.js';
import { startCredentialsEngine } from '../credentials/engine.js';
import type { CredentialHolder } from '../credentials/types.js';
import { EXIT } from '../exit-codes.js';
import { startHealthForEngine } from '../health/server.js';
import { log } from '../log.js';
import { formatBytes, Progress } from '../download/progress.js';
import { atomicWrite } from '../util/atomic-write.js';
import { prefetch } from '../download/prefetch.js';
import { downloadSockets } from '../download/sockets.js';
import type { PrefetchSummary } from '../download/summary.js';
import { ServerWatch } from '../s3/retry.js';
import { ObjectGetter } from '../s3/object-get.js';
import type { S3Client } from '@aws-sdk/client-s3';
import { parseS3Uri } from '../config/s3-uri.js';
import { MirrorLayout } from '../download/layout/mirror.js';
import type { Layout } from '../download/layout/types.js';
import { ODM_DEFAULT_EXCLUDES, OdmLayout } from '../odm/input-layout.js';
import { restoreInto } from './restore.js';

export async function downloadMode(config: Config): Promise<number> {
  await prepareDownload(config);
  const engine = await startCredentialsEngine(config, { handoffs: true, loop: true });
  const health = await startHealthForEngine(config, engine);
  try {
    return await download(config, engine.holder);
  } finally {
    await health.stop();
    await engine.stop();
  }
}

/** Checks before any credential is fetched, and no ready marker left from an earlier run to vouch for this one. */
export async function prepareDownload(config: Config): Promise<void> {
  await checkConfig(config);
  if (config.readyFile) await rm(config.readyFile, { force: true });
}

/**
 * The download itself, with the credentials engine (and health listener) already running: its
 * caller owns them, so `run --prefetch` keeps one of each for the whole run.
 */
export async function download(config: Config, holder: CredentialHolder): Promise<number> {
  const controller = new AbortController();
  // every in-flight request listens on this one signal
  setMaxListeners(0, controller.signal);
  const onSignal = (signal: NodeJS.Signals) => {
    log.warn({ signal }, `${signal}: stopping the download (finished files stay; a re-run resumes)`);
    controller.abort(new Error(`stopped by ${signal}`));
  };
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  const endpoint = config.endpointUrl ?? `AWS S3 (${config.region})`;
  const watch = new ServerWatch(endpoint, config.serverDeadline, (err) => controller.abort(err));
  const socketTimeoutMs = Math.min(60_000, config.serverDeadline);
  // the SDK client serves only GETs that need its checksum validation (objects uploaded with a
  // CRC/SHA checksum and no plain-MD5 ETag): loaded on first use, since loading it is costly
  let client: Promise<S3Client> | undefined;
  const sdk = () => client ??= import('../s3/sdk-client.js').then(({ createS3Client }) => createS3Client(config, holder, {
    maxSockets: 8,
    // retries are ours (per object, with the server watch), not the SDK's
    maxAttempts: 1,
    socketTimeoutMs,
    responseChecksumValidation: 'WHEN_REQUIRED',
  }));
  const getter = new ObjectGetter(config, holder, { maxSockets: downloadSockets(config), socketTimeoutMs, requestDeadlineMs: config.requestDeadline });
  const progress = new Progress({ direction: 'download', intervalMs: config.progressInterval }).start();
  log.info({ prefixes: config.inputPrefix, inputDir: config.inputDir, layout: config.layout, concurrency: config.downloadConcurrency },
    `downloading ${config.inputPrefix.join(', ')} into ${config.inputDir} (layout ${config.layout})`);

  const started = Date.now();
  let summary: PrefetchSummary;
  let restored: number = EXIT.OK;
  watch.start();
  try {
    summary = await prefetch({ config, sdk, getter, signal: controller.signal, watch, progress, ...inputLayout(config) });
    // --restore: the newest checkpoint goes into the same project dir, before the ready marker
    if (config.restore && summary.failed === 0 && summary.stoppedBy === undefined) restored = await restoreInto(config, holder, resolve(config.inputDir!));
  } finally {
    watch.stop();
    progress.stop();
    (await client?.catch(() => undefined))?.destroy();
    getter.destroy();
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
  const seconds = (Date.now() - started) / 1000;
  const ok = summary.failed === 0 && summary.stoppedBy === undefined;
  logSummary(summary, seconds, ok);
  if (!ok) return EXIT.TRANSFER_FAILED;
  if (restored !== EXIT.OK) return restored;
  if (config.readyFile) {
    await atomicWrite(config.readyFile, `${JSON.stringify(manifest(config, summary, seconds), null, 2)}\n`, { mode: 0o644 });
    log.info({ readyFile: config.readyFile }, `ready marker written: ${config.readyFile}`);
  }
  return EXIT.OK;
}

async function checkConfig(config: Config): Promise<void> {
  const dir = required(config, 'inputDir');
  for (const p of required(config, 'inputPrefix')) parseS3Uri(p, optionName('inputPrefix', config));
  if (config.restore) parseS3Uri(required(config, 'checkpointPrefix', 'is required with --restore'), optionName('checkpointPrefix', config));
  const st = await stat(dir).catch(() => undefined);
  if (st && !st.isDirectory()) throw new ConfigError(optionName('inputDir', config), `${dir} exists and is not a directory`);
  if (config.readyFile && resolve(config.readyFile).startsWith(`${resolve(dir)}/`) && config.layout === 'mirror') {
    // harmless for odm (not an image), but in mirror a key could name it
    log.warn({ readyFile: config.readyFile }, 'the ready file is inside the input dir; an object with the same key is refused');
  }
}

function logSummary(s: PrefetchSummary, seconds: number, ok: boolean): void {
  const files = s.downloaded + s.skipped + s.extracted;
  const mbPerSec = Math.round((s.bytesDownloaded / 1e6 / Math.max(seconds, 0.001)) * 10) / 10;
  const fields = {
    summary: 'download', ok, files, downloaded: s.downloaded, skipped: s.skipped, extracted: s.extracted, failed: s.failed,
    ignored: s.ignored, excluded: s.excluded, renamed: s.renamed, bytes: s.bytesDownloaded, bytesSkipped: s.bytesSkipped,
    bytesResumed: s.bytesResumed, seconds: Math.round(seconds * 100) / 100, mbPerSec, notFetched: s.notFetched,
    ...(s.stoppedBy ? { stoppedBy: s.stoppedBy } : {}),
    ...(s.failed ? { failureReasons: s.failureReasons } : {}),
  };
  const core = `${files} files in place (${s.downloaded} downloaded, ${formatBytes(s.bytesDownloaded)} in ${seconds.toFixed(1)}s at ${mbPerSec} MB/s; ` +
    `${s.skipped} already present${s.extracted ? `; ${s.extracted} extracted from archives` : ''}), ${s.failed} failed` +
    (s.ignored ? `, ${s.ignored} ignored by the layout` : '');
  if (ok) {
    log.info(fields, `download complete: ${core}`);
    return;
  }
  const reasons = Object.entries(s.failureReasons).sort((a, b) => b[1] - a[1]).slice(0, 5).map(([r, n]) => `${n}× ${r}`).join('; ');
  const why = s.stoppedBy ? `stopped: ${s.stoppedBy}` : `${s.failed} failed: ${reasons}`;
  log.error(fields, `download FAILED (${why}): ${core}${s.stoppedBy && s.failed ? `; failures: ${reasons}` : ''}`);
}

/** The ready marker's JSON: what a person (or the main container) needs to trust the input dir. */
function manifest(config: Config, s: PrefetchSummary, seconds: number): Record<string, unknown> {
  return {
    version: 1,
    status: 'complete',
    finishedAt: new Date().toISOString(),
    seconds: Math.round(seconds * 100) / 100,
    inputDir: resolve(config.inputDir!),
    layout: config.layout,
    sources: s.sources,
    files: { total: s.downloaded + s.skipped + s.extracted, downloaded: s.downloaded, alreadyPresent: s.skipped, extracted: s.extracted, directories: s.dirs },
    bytes: { downloaded: s.bytesDownloaded, alreadyPresent: s.bytesSkipped, resumed: s.bytesResumed },
    ignored: s.ignored,
    excluded: s.excluded,
    ...(config.layout === 'odm' ? {
      odm: {
        images: s.byRole.image ?? 0, masks: s.byRole.mask ?? 0, videos: s.byRole.video ?? 0,
        renamedOnClash: s.renamed, rootFiles: [...s.rootFiles].sort(), archives: s.archives,
      },
    } : {}),
  };
}

/** The layout the config asks for, with the excludes that come with it. */
function inputLayout(config: Config): { layout: Layout; layoutExcludes: readonly string[] } {
  if (config.layout === 'odm') return { layout: new OdmLayout(), layoutExcludes: config.defaultExcludes ? ODM_DEFAULT_EXCLUDES : [] };
  return { layout: new MirrorLayout(config.inputPrefix.length), layoutExcludes: [] };
}
