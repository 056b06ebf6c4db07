// The hand-offs to the main container, any combination (Vault Agent's "sinks"): files rewritten
// atomically on every refresh, and the loopback endpoint that answers from the holder's memory.
import { ConfigError, optionName, type Config } from '../config.js';
import { log } from '../log.js';
import { removeStaleTemps } from '../util/atomic-write.js';
import { writeConfigFile } from './sinks/config-file.js';
import { credentialsFileSink } from './sinks/credentials-file.js';
import { startEndpoint, type Endpoint } from './sinks/endpoint.js';
import { envFileSink } from './sinks/env-file.js';
import { fileOptions } from './sinks/file-options.js';
import { processFileSink } from './sinks/process-file.js';
import type { CredentialHolder, Credentials } from './types.js';

export interface Handoffs {
  /** write every file hand-off; rejects with a ConfigError naming the option of the first that failed */
  write(c: Credentials): Promise<void>;
  endpoint?: Endpoint | undefined;
  close(): Promise<void>;
}

type HandoffConfig = Pick<Config, 'credentialsFile' | 'profile' | 'configFile' | 'processFile' | 'awsEnvFile' | 'fileMode' | 'fileUid' | 'fileGid' | 'endpoint' | 'endpointTokenFile' | 'endpointAllowRemote' | 'region'>;

/** Check the hand-off options before any credential is fetched, so mistakes fail fast (exit 2). */
export function checkHandoffConfig(config: HandoffConfig): void {
  if (config.endpoint && !config.endpointTokenFile) {
    throw new ConfigError(optionName('endpointTokenFile', config), 'is required with --endpoint (clients must present the token it holds)');
  }
}

export async function startHandoffs(config: HandoffConfig, holder: Pick<CredentialHolder, 'current'>): Promise<Handoffs> {
  checkHandoffConfig(config);
  const file = fileOptions(config);
  const sinks: { option: string; path: string; write: (c: Credentials) => Promise<void> }[] = [];
  if (config.credentialsFile) sinks.push({ option: optionName('credentialsFile', config), path: config.credentialsFile, write: oneAtATime(credentialsFileSink(config.credentialsFile, config.profile, file)) });
  if (config.processFile) sinks.push({ option: optionName('processFile', config), path: config.processFile, write: oneAtATime(processFileSink(config.processFile, file)) });
  if (config.awsEnvFile) sinks.push({ option: optionName('awsEnvFile', config), path: config.awsEnvFile, write: oneAtATime(envFileSink(config.awsEnvFile, file)) });
  // temp files of a write cut short by a crash (or kill) hold credentials: remove them
  for (const path of [...sinks.map((s) => s.path), config.configFile, config.endpointTokenFile]) if (path) await removeStaleTemps(path);

  if (config.configFile) {
    try {
      await writeConfigFile(config.configFile, config.profile, { region: config.region, processFile: config.processFile }, file);
    } catch (err) {
      throw new ConfigError(optionName('configFile', config), `cannot write ${config.configFile}: ${(err as Error).message}`);
    }
  }
  const endpoint = config.endpoint
    ? await startEndpoint({ addr: config.endpoint, tokenFile: config.endpointTokenFile!, allowRemote: config.endpointAllowRemote, file, holder })
    : undefined;

  const active = [...sinks.map((s) => s.path), ...(config.configFile ? [config.configFile] : []), ...(endpoint ? [endpoint.url] : [])];
  if (active.length) log.info({ handoffs: active }, 'credential hand-offs configured');
  else log.warn('no hand-off configured (--credentials-file, --process-file, --aws-env-file, --endpoint): the credentials stay inside the sidecar');

  return {
    endpoint,
    async write(c) {
      const results = await Promise.allSettled(sinks.map((s) => withTimeout(s.write(c), HANDOFF_TIMEOUT_MS)));
      const failed = results.findIndex((r) => r.status === 'rejected');
      if (failed >= 0) {
        const s = sinks[failed]!;
        throw new ConfigError(s.option, `cannot write ${s.path}: ${((results[failed] as PromiseRejectedResult).reason as Error).message}`);
      }
      log.debug({ files: sinks.map((s) => s.path) }, 'hand-off files written');
    },
    close: async () => { await endpoint?.close(); },
  };
}

/** A hand-off write that takes longer is reported as failed (a hung volume); it may still finish later. */
const HANDOFF_TIMEOUT_MS = 30_000;

function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the write did not finish within ${ms / 1000} s (a hung volume?)`)), ms);
    timer.unref();
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/**
 * One write per file at a time: while one is stuck (a hung volume holds a thread-pool thread per
 * call), later calls do not pile up behind it; only the newest credentials wait for their turn.
 */
export function oneAtATime(write: (c: Credentials) => Promise<void>): (c: Credentials) => Promise<void> {
  let running: Promise<void> | undefined;
  let waiting: { c: Credentials; done: Promise<void> } | undefined;
  const start = (c: Credentials): Promise<void> => {
    const p: Promise<void> = write(c).finally(() => { if (running === p) running = undefined; });
    running = p;
    return p;
  };
  return (c) => {
    if (!running) return start(c);
    if (waiting) {
      waiting.c = c;
      return waiting.done;
    }
    const w: { c: Credentials; done: Promise<void> } = { c, done: Promise.resolve() };
    w.done = running.catch(() => {}).then(() => {
      waiting = undefined;
      return start(w.c);
    });
    waiting = w;
    return w.done;
  };
}
