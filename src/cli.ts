#!/usr/bin/env node
// Entry point: pick the mode, load configuration, run it, map the outcome to an exit code.
// User errors (bad config, fatal credential errors) print one line; only bugs print a stack.
import { readFileSync } from 'node:fs';
import { ConfigError, isMode, loadConfig, type Config, type Mode } from './config.js';
import { CredentialError } from './credentials/types.js';
import { EXIT } from './exit-codes.js';
import { mainHelp, modeHelp } from './help.js';
import { log, printError } from './log.js';

type ModeMain = (config: Config) => Promise<number>;

const MODE_MAIN: Record<Mode, () => Promise<ModeMain>> = {
  credentials: async () => (await import('./modes/credentials.js')).credentialsMode,
  download: async () => (await import('./modes/download.js')).downloadMode,
  restore: async () => (await import('./modes/restore.js')).restoreMode,
  run: async () => (await import('./modes/run.js')).runMode,
  upload: async () => (await import('./modes/upload.js')).uploadMode,
  broker: async () => (await import('./modes/broker.js')).brokerMode,
};

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(mainHelp());
    return first === undefined ? EXIT.CONFIG : EXIT.OK;
  }
  if (first === '--version' || first === '-v') {
    process.stdout.write(`${version()}\n`);
    return EXIT.OK;
  }
  if (!isMode(first)) {
    printError(`s3-sidecar: unknown mode "${first}" (modes: ${Object.keys(MODE_MAIN).join(', ')}; see --help)`);
    return EXIT.CONFIG;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(modeHelp(first));
    return EXIT.OK;
  }
  try {
    const config = loadConfig(first, rest);
    log.level = config.logLevel;
    const run = await MODE_MAIN[first]();
    return await run(config);
  } catch (err) {
    if (err instanceof ConfigError) {
      printError(`s3-sidecar: ${err.message}`);
      return EXIT.CONFIG;
    }
    if (err instanceof CredentialError) {
      log.fatal({ reason: err.reason }, `no usable credentials: ${err.message}`);
      printError(`s3-sidecar: no usable credentials: ${err.message}`);
      return EXIT.CREDENTIALS;
    }
    log.fatal({ err }, 'internal error');
    return EXIT.INTERNAL;
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { log.fatal({ err }, 'internal error'); process.exitCode = EXIT.INTERNAL; },
);
