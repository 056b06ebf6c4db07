// Checkpoints inside `run`: a Checkpointer fed by ODM's stage lines (the run mode forwards them)
// and by --checkpoint-signal-file, products copied server-side from the output prefix when the
// upload journal vouches for them, and the prefix deleted after a job that finished well.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { optionName, type Config } from '../config.js';
import { ConfigError } from '../config/define.js';
import { parseS3Uri, type S3Location } from '../config/s3-uri.js';
import type { CredentialHolder } from '../credentials/types.js';
import { log } from '../log.js';
import { describe } from '../s3/retry.js';
import { createS3Client } from '../s3/sdk-client.js';
import { sendBodiesUnsigned } from '../s3/unsigned-payload.js';
import type { OutputSession } from '../upload/session.js';
import { Checkpointer } from './checkpointer.js';
import type { ProductSource } from './capture.js';
import { deleteAll } from './store.js';

const SIGNAL_POLL_MS = 500;

/** How long a checkpoint waits for a product's own upload before it sends the file itself. */
const PRODUCT_WAIT_MS = 5000;

export interface RunCheckpoints {
  readonly checkpointer: Checkpointer;
  /** ODM wrote a stage line */
  onStage(stage: string): void;
  /** no more checkpoints; one being taken is abandoned at the deadline */
  stop(deadlineMs?: number): Promise<void>;
  /** after the final pass: delete the checkpoints of a job that succeeded with a complete manifest */
  finish(jobSuccess: boolean | null, complete: boolean): Promise<void>;
}

/** The checkpoint prefix, checked against the output prefix: neither may contain the other. */
export function checkpointLocation(config: Config): S3Location | undefined {
  if (!config.checkpointPrefix) return undefined;
  const loc = parseS3Uri(config.checkpointPrefix, optionName('checkpointPrefix'));
  const out = config.outputPrefix ? parseS3Uri(config.outputPrefix, optionName('outputPrefix')) : undefined;
  if (out && out.bucket === loc.bucket && (out.prefix.startsWith(loc.prefix) || loc.prefix.startsWith(out.prefix))) {
    throw new ConfigError(optionName('checkpointPrefix'), `must not overlap the output prefix ${config.outputPrefix} (checkpoints are deleted after the job; products must not be)`);
  }
  return loc;
}

export async function startRunCheckpoints(config: Config, holder: CredentialHolder, session: OutputSession): Promise<RunCheckpoints | undefined> {
  const loc = checkpointLocation(config);
  if (!loc) return undefined;
  const client = createS3Client(config, holder, { maxSockets: config.uploadConcurrency + 8, maxAttempts: 3, socketTimeoutMs: 120_000 });
  if (!config.signPayload) sendBodiesUnsigned(client);
  // a file whose journal entry matches is byte for byte the object in the output prefix
  const product: ProductSource = async (f) => {
    // a product of the stage that just ended is usually on its way up right now: a moment's wait
    // lets the checkpoint copy it server-side instead of sending the same bytes a second time
    await session.uploader.settled(f.rel, PRODUCT_WAIT_MS);
    const j = session.journal.get(f.rel);
    return j && j.size === f.size && j.mtimeNs === f.mtimeNs.toString() ? { bucket: session.dest.bucket, key: session.dest.prefix + f.rel } : undefined;
  };
  const checkpointer = await Checkpointer.open({
    client, bucket: loc.bucket, prefix: loc.prefix, root: session.root, product,
    filter: {
      exclude: [...(config.preset === 'odm' ? ['images/**'] : []), ...config.checkpointExclude],
      ownFiles: session.journal.header.ownFiles ?? [],
    },
    concurrency: config.uploadConcurrency, partSize: config.partSize, partConcurrency: config.partConcurrency,
    strandedUploadAgeMs: config.strandedUploadAge,
  });
  const stopSignal = config.checkpointSignalFile ? await watchSignalFile(config.checkpointSignalFile, (stage, ns) => checkpointer.trigger(stage, ns)) : () => {};
  return {
    checkpointer,
    onStage(stage) {
      // the stage line's own time is the boundary: nothing the checkpoint holds may be newer
      void stat(join(session.root, 'benchmark.txt'), { bigint: true })
        .then((st) => checkpointer.trigger(stage, st.mtimeNs), () => checkpointer.trigger(stage, undefined));
    },
    async stop(deadlineMs) {
      stopSignal();
      await checkpointer.stop(deadlineMs);
    },
    async finish(jobSuccess, complete) {
      try {
        if (!(jobSuccess === true && complete)) {
          log.info({ jobSuccess, complete }, 'checkpoints kept: the job did not finish with success and a complete manifest (a retry resumes from them)');
        } else if (config.keepCheckpoints) {
          log.info({ checkpointPrefix: config.checkpointPrefix }, 'checkpoints kept (--keep-checkpoints)');
        } else {
          const n = await deleteAll(client, loc.bucket, loc.prefix);
          log.info({ checkpointPrefix: config.checkpointPrefix, deleted: n }, 'the job is complete: checkpoints deleted');
        }
      } catch (err) {
        log.warn({ err: describe(err) }, 'could not delete the checkpoints (a bucket lifecycle rule can expire them)');
      } finally {
        client.destroy();
      }
    },
  };
}

/**
 * Poll the signal file (it may be on any volume; no inotify): each new mtime is a boundary,
 * named by the file's first line. A file already there at start is not a trigger.
 */
async function watchSignalFile(path: string, onSignal: (stage: string, boundaryNs: bigint) => void): Promise<() => void> {
  let seen = (await stat(path, { bigint: true }).catch(() => undefined))?.mtimeNs;
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    busy = true;
    void (async () => {
      const st = await stat(path, { bigint: true }).catch(() => undefined);
      if (!st || st.mtimeNs === seen) return;
      seen = st.mtimeNs;
      const first = (await readFile(path, 'utf8').catch(() => '')).split('\n')[0]!.trim().slice(0, 64);
      log.info({ signalFile: path, stage: first || 'signal' }, 'checkpoint signal file touched');
      onSignal(first || 'signal', st.mtimeNs);
    })().finally(() => (busy = false));
  }, SIGNAL_POLL_MS);
  timer.unref(); // the sidecar's own work keeps it running, never this poll
  return () => clearInterval(timer);
}


