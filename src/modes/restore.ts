// `s3-sidecar restore` (init container, before the job): the newest committed checkpoint under
// --checkpoint-prefix into --output-dir (the project dir). No checkpoint: says so, exit 0. A
// missing or corrupted object: exit 1, nothing restored stays, no ready marker.
// `download --restore` calls restoreInto after its own download, in the same process.
import { setMaxListeners } from 'node:events';
import { mkdir, rm } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { optionName, required, type Config } from '../config.js';
import { parseS3Uri } from '../config/s3-uri.js';
import { startCredentialsEngine } from '../credentials/engine.js';
import type { CredentialHolder } from '../credentials/types.js';
import { EXIT } from '../exit-codes.js';
import { startHealthForEngine } from '../health/server.js';
import { log } from '../log.js';
import { formatBytes } from '../download/progress.js';
import { TMP_DIR } from '../download/prefetch.js';
import { downloadSockets } from '../download/sockets.js';
import { SMALL_OBJECT_BYTES } from '../download/small-file.js';
import { ObjectGetter } from '../s3/object-get.js';
import { describe, ServerWatch } from '../s3/retry.js';
import { localDisk } from '../download/object.js';
import { BufferPool } from '../util/buffer-pool.js';
import { resolveInside } from '../util/keys.js';
import { atomicWrite } from '../util/atomic-write.js';
import { restoreNewest, RestoreError } from '../checkpoint/restore.js';

export async function restoreMode(config: Config): Promise<number> {
  const root = resolve(required(config, 'outputDir'));
  parseS3Uri(required(config, 'checkpointPrefix'), optionName('checkpointPrefix'));
  if (config.readyFile) await rm(config.readyFile, { force: true });
  const engine = await startCredentialsEngine(config, { handoffs: false, loop: true });
  const health = await startHealthForEngine(config, engine);
  let code: number;
  try {
    code = await restoreInto(config, engine.holder, root);
  } finally {
    await health.stop();
    await engine.stop();
  }
  if (code === EXIT.OK && config.readyFile) {
    await atomicWrite(config.readyFile, `${JSON.stringify({ version: 1, status: 'complete', restoredInto: root, finishedAt: new Date().toISOString() }, null, 2)}\n`, { mode: 0o644 });
    log.info({ readyFile: config.readyFile }, `ready marker written: ${config.readyFile}`);
  }
  return code;
}

/** Restore the newest checkpoint into `root`; the exit code (0 also when there is none). */
export async function restoreInto(config: Config, holder: CredentialHolder, root: string): Promise<number> {
  const loc = parseS3Uri(required(config, 'checkpointPrefix', 'is required to restore a checkpoint'), optionName('checkpointPrefix'));
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const onSignal = (signal: NodeJS.Signals) => controller.abort(new Error(`stopped by ${signal}`));
  process.once('SIGTERM', onSignal);
  process.once('SIGINT', onSignal);
  const watch = new ServerWatch(config.endpointUrl ?? `AWS S3 (${config.region})`, config.serverDeadline, (err) => controller.abort(err));
  const socketTimeoutMs = Math.min(60_000, config.serverDeadline);
  let client: Promise<S3Client> | undefined;
  const sdk = () => client ??= import('../s3/sdk-client.js').then(({ createS3Client }) => createS3Client(config, holder, {
    maxSockets: 8, maxAttempts: 1, socketTimeoutMs, responseChecksumValidation: 'WHEN_REQUIRED',
  }));
  const getter = new ObjectGetter(config, holder, { maxSockets: downloadSockets(config), socketTimeoutMs, requestDeadlineMs: config.requestDeadline });
  const retry = {
    retries: config.downloadRetries, watch, signal: controller.signal,
    onRetry: (err: unknown, attempt: number, delayMs: number, what: string) => log.warn({ what, attempt, delayMs: Math.round(delayMs) }, `retrying ${what} after: ${describe(err)}`),
  };
  // part files go where no object key can land, as the download's do
  const tmpDir = resolveInside(root, TMP_DIR);
  await mkdir(tmpDir, { recursive: true });
  watch.start();
  try {
    const s = await restoreNewest({
      config, root, loc, getter,
      fetch: {
        sdk, getter, retry, buffers: new BufferPool(config.downloadConcurrency * SMALL_OBJECT_BYTES), disk: localDisk(),
        rangeThreshold: config.rangeThreshold, rangeSize: config.rangeSize, rangeConcurrency: config.rangeConcurrency, onBytes: () => {}, tmpDir,
      },
    });
    if (!s.key) {
      log.info({ checkpointPrefix: config.checkpointPrefix }, `no checkpoint under ${config.checkpointPrefix}: nothing to restore (the job starts from the beginning)`);
      return EXIT.OK;
    }
    const mbPerSec = Math.round((s.bytes / 1e6 / Math.max(s.seconds, 0.001)) * 10) / 10;
    log.info({ summary: 'restore', checkpoint: s.key, stage: s.stage, seq: s.seq, files: s.files, bytes: s.bytes, seconds: Math.round(s.seconds * 100) / 100, mbPerSec },
      `restore complete: checkpoint ${s.seq} (after stage ${s.stage}), ${s.files} files, ${formatBytes(s.bytes)} in ${s.seconds.toFixed(1)}s into ${root}`);
    return EXIT.OK;
  } catch (err) {
    const msg = err instanceof RestoreError ? err.message : `restore failed: ${describe(err)}`;
    log.error({ summary: 'restore', ok: false, checkpointPrefix: config.checkpointPrefix }, `restore FAILED: ${msg}`);
    process.stderr.write(`s3-sidecar: restore failed: ${msg}\n`);
    return EXIT.TRANSFER_FAILED;
  } finally {
    watch.stop();
    (await client?.catch(() => undefined))?.destroy();
    getter.destroy();
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}
