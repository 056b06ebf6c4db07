// `s3-sidecar upload`: one shot. The same final pass as the end of `run` — reconcile the output
// dir against the journal, upload what is new or changed, the manifest last — then exit. For a
// final workflow step or a plain Job. On SIGTERM it keeps going for --grace-period, then aborts
// what is in flight cleanly and exits 4.
import { stat } from 'node:fs/promises';
import { optionName, required, type Config } from '../config.js';
import { ConfigError } from '../config/define.js';
import { startCredentialsEngine } from '../credentials/engine.js';
import { startHealthForEngine } from '../health/server.js';
import { OutputSession } from '../upload/session.js';
import { parseS3Uri } from '../config/s3-uri.js';
import { Shutdown } from '../upload/job-end.js';

export async function uploadMode(config: Config): Promise<number> {
  const dir = required(config, 'outputDir');
  parseS3Uri(required(config, 'outputPrefix'), optionName('outputPrefix', config));
  const st = await stat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new ConfigError(optionName('outputDir', config), `${dir} is not a directory`);

  const shutdown = new Shutdown(config.gracePeriod);
  const engine = await startCredentialsEngine(config, { handoffs: false, loop: true });
  const health = await startHealthForEngine(config, engine);
  try {
    const session = await OutputSession.open(config, engine.holder);
    const code = await session.finish({
      endedBy: 'upload',
      jobSuccess: null,
      deadline: () => shutdown.deadline,
    });
    session.close();
    return code;
  } finally {
    shutdown.dispose();
    await health.stop();
    await engine.stop();
  }
}
