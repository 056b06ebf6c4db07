// `s3-sidecar run`: the long-running sidecar. Credentials (refresh loop + hand-offs) and the
// health listener for the whole job, started once: an optional prefetch first, then products
// streamed to S3 as they settle; at the job's end (ODM log.json, the done file, or SIGTERM) a
// final reconcile pass and the manifest.
// Exit 0 only if everything landed; 4 when the grace period ran out with uploads pending.
import { mkdir } from 'node:fs/promises';
import { optionName, required, type Config } from '../config.js';
import { startCredentialsEngine, type CredentialsEngine } from '../credentials/engine.js';
import { EXIT } from '../exit-codes.js';
import { startHealthForEngine, type HealthServer } from '../health/server.js';
import { log } from '../log.js';
import { OutputSession } from '../upload/session.js';
import { parseS3Uri } from '../config/s3-uri.js';
import { Shutdown, waitForDoneFile, type JobEnd } from '../upload/job-end.js';
import { startLiveUpload } from '../upload/live.js';
import { listenProgress, parseUdpAddr } from '../odm/progress-udp.js';
import { download, prepareDownload } from './download.js';
import { checkpointLocation, startRunCheckpoints } from '../checkpoint/run-checkpoints.js';

const ODM_PROGRESS_ADDR = '127.0.0.1:6367';

export async function runMode(config: Config): Promise<number> {
  required(config, 'outputDir');
  parseS3Uri(required(config, 'outputPrefix'), optionName('outputPrefix', config));
  const udpAddr = progressAddr(config);
  checkpointLocation(config);
  if (config.prefetch) await prepareDownload(config);
  // The sidecar may start before the job has made its folder: create it (ODM does mkdir -p too).
  await mkdir(required(config, 'outputDir'), { recursive: true });
  const shutdown = new Shutdown(config.gracePeriod);
  // One engine and one listener for the whole run: the prefetch and the uploads share them, so the
  // hand-offs (the endpoint's token among them) are written once and the probes never see a gap.
  const engine = await startCredentialsEngine(config, { handoffs: true, loop: true, servesJob: true });
  let health: HealthServer | undefined;
  try {
    // not ready until the watcher runs (the check is replaced once it does): a startup probe on
    // /readyz holds the job back until its input is in place and its outputs are watched
    const starting = config.prefetch ? 'prefetching the input (--prefetch)' : 'the file watcher is starting';
    health = await startHealthForEngine(config, engine, { checks: { watcher: () => ({ ok: false, reason: starting }) } });
    if (config.prefetch) {
      log.info('prefetching the input before watching the output (--prefetch)');
      const code = await download(config, engine.holder);
      if (code !== EXIT.OK) return code;
      if (shutdown.deadline !== undefined) return EXIT.OK; // stopped during the prefetch: nothing to upload yet
    }
    return await watchAndUpload(config, shutdown, udpAddr, engine, health);
  } finally {
    await health?.stop();
    await engine.stop();
    shutdown.dispose();
  }
}

async function watchAndUpload(config: Config, shutdown: Shutdown, udpAddr: { host: string; port: number } | undefined, engine: CredentialsEngine, health: HealthServer): Promise<number> {
  const stopDone = new AbortController();
  try {
    const session = await OutputSession.open(config, engine.holder);
    const progress = udpAddr ? await listenProgress(udpAddr) : undefined;
    const checkpoints = await startRunCheckpoints(config, engine.holder, session);
    const live = await startLiveUpload(session, {
      stableWindowMs: config.stableWindow, notBefore: new Date(session.journal.header.startedAt), onStageDone: (stage) => checkpoints?.onStage(stage),
    });
    health.setCheck('watcher', () => ({ ok: live.running, reason: 'the file watcher has stopped (final pass)' }));

    const ends: Promise<JobEnd>[] = [shutdown.ended, live.jobEnded.then((ok): JobEnd => ({ endedBy: 'log.json', jobSuccess: ok }))];
    if (config.doneFile) ends.push(waitForDoneFile(config.doneFile, stopDone.signal));
    const end = await Promise.race(ends);
    stopDone.abort();

    await live.stop();
    progress?.close();
    log.info({ endedBy: end.endedBy, jobSuccess: end.jobSuccess }, 'job ended: final reconcile pass');
    // after SIGTERM (a spot eviction) a checkpoint being taken may still commit within the grace period
    const checkpointsStopped = checkpoints?.stop(end.endedBy === 'signal' ? (shutdown.deadline ?? Date.now()) - 2000 : Date.now());
    const code = await session.finish({
      ...end,
      deadline: () => shutdown.deadline,
    });
    await checkpointsStopped;
    await checkpoints?.finish(end.jobSuccess, code === EXIT.OK);
    session.close();
    if (config.afterJobEnd === 'wait' && end.endedBy !== 'signal') await holdUntilSignal(shutdown, code);
    return code;
  } finally {
    stopDone.abort();
  }
}

/**
 * A Kubernetes native sidecar (an init container with restartPolicy: Always) that exits is
 * restarted by the kubelet, so after its final pass it stays up, still refreshing and serving
 * credentials to the main container, until the kubelet's SIGTERM.
 */
async function holdUntilSignal(shutdown: Shutdown, code: number): Promise<void> {
  log.info({ exitCode: code }, 'final pass done; serving credentials until SIGTERM (--after-job-end wait)');
  const keepAlive = setInterval(() => {}, 1 << 30); // signal handlers alone do not keep Node running
  try {
    await shutdown.ended;
  } finally {
    clearInterval(keepAlive);
  }
}

/** Where to listen for ODM's UDP progress: explicit address, 'off', or ODM's port with the preset. */
function progressAddr(config: Config): { host: string; port: number } | undefined {
  const raw = config.progressUdp ?? (config.preset === 'odm' ? ODM_PROGRESS_ADDR : undefined);
  if (!raw || raw.trim().toLowerCase() === 'off') return undefined;
  return parseUdpAddr(raw, config.progressUdp ? optionName('progressUdp', config) : '--preset');
}
