// `s3-sidecar credentials`: keep fresh credentials flowing to the main container through the
// configured hand-offs until SIGTERM/SIGINT; with --once, fetch, write every hand-off and exit.
import type { Config } from '../config.js';
import { startCredentialsEngine } from '../credentials/engine.js';
import { EXIT } from '../exit-codes.js';
import { startHealthServer } from '../health/server.js';
import { log } from '../log.js';

export async function credentialsMode(config: Config): Promise<number> {
  const engine = await startCredentialsEngine(config, { handoffs: true, loop: !config.once, servesJob: true });
  if (config.once) {
    await engine.stop();
    log.info('hand-offs written (--once); exiting');
    return EXIT.OK;
  }
  const health = await startHealthServer(config, { credentials: engine.holder }).catch(async (err: unknown) => {
    await engine.stop(); // its timers would otherwise keep the process alive
    throw err;
  });
  // Signal handlers do not keep Node running, and with long-lived keys (no expiry, no refresh
  // timer) and only file hand-offs nothing else would: hold the process open until a signal.
  const keepAlive = setInterval(() => {}, 2 ** 30);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  clearInterval(keepAlive);
  log.info({ signal }, 'stopping; the hand-off files stay in place until their credentials expire');
  await health.stop();
  await engine.stop();
  return EXIT.OK;
}
