// The live configuration: read and validated at start, then re-read when the file changes.
// Requests take a snapshot, so a reload never drops or mixes one; an invalid new version is
// logged and the old one stays. A Kubernetes ConfigMap volume swaps a `..data` symlink in the
// file's directory rather than writing the file, so the directory is watched, and the content
// is also polled as a fallback for file systems where watching is unreliable.
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { log } from '../log.js';
import { parseBrokerConfig, type BrokerFileConfig, type ParseOptions } from './config.js';
import { TokenVerifier } from './verify.js';

export interface Snapshot {
  config: BrokerFileConfig;
  verifier: TokenVerifier;
  /** when this version was loaded */
  loadedAt: Date;
}

const POLL_MS = 5_000;
const DEBOUNCE_MS = 200;

export class LiveConfig {
  private current: Snapshot;
  private text: string;
  private watcher: FSWatcher | undefined;
  private poller: NodeJS.Timeout | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private reloading: Promise<void> | undefined;
  /** since when the file on disk is invalid (the previous version is in use) */
  invalidSince: Date | undefined;
  private unreadable = false;

  private constructor(private readonly file: string, private readonly opts: ParseOptions, text: string, config: BrokerFileConfig) {
    this.text = text;
    this.current = { config, verifier: new TokenVerifier(config.issuers, opts), loadedAt: new Date() };
  }

  /** Throws BrokerConfigError (invalid) or the read error (missing file). */
  static async load(file: string, opts: ParseOptions): Promise<LiveConfig> {
    const text = await readFile(file, 'utf8');
    return new LiveConfig(file, opts, text, parseBrokerConfig(text, opts));
  }

  snapshot(): Snapshot {
    return this.current;
  }

  watch(): void {
    try {
      this.watcher = watch(dirname(this.file), () => {
        clearTimeout(this.debounce);
        this.debounce = setTimeout(() => void this.reload(), DEBOUNCE_MS);
      });
      this.watcher.on('error', (err) => log.warn({ err }, 'watching the broker configuration failed; polling it instead'));
    } catch (err) {
      log.warn({ err }, 'cannot watch the broker configuration; polling it instead');
    }
    this.poller = setInterval(() => void this.reload(), POLL_MS);
    this.poller.unref();
  }

  /** Re-read now; resolves when done (a reload already running is joined). */
  reload(): Promise<void> {
    this.reloading ??= this.doReload().finally(() => { this.reloading = undefined; });
    return this.reloading;
  }

  close(): void {
    this.watcher?.close();
    clearInterval(this.poller);
    clearTimeout(this.debounce);
  }

  private async doReload(): Promise<void> {
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (err) {
      // mid-swap, or removed: keep serving with what we have
      if (!this.unreadable) log.warn({ file: this.file, code: (err as NodeJS.ErrnoException).code }, 'cannot read the broker configuration; keeping the loaded one');
      this.unreadable = true;
      return;
    }
    this.unreadable = false;
    if (text === this.text) return;
    this.text = text;
    let config: BrokerFileConfig;
    try {
      config = parseBrokerConfig(text, this.opts);
    } catch (err) {
      this.invalidSince ??= new Date();
      log.error({ file: this.file }, `the changed broker configuration is invalid, keeping the previous one: ${(err as Error).message}`);
      return;
    }
    this.current = { config, verifier: new TokenVerifier(config.issuers, this.opts, this.current.verifier), loadedAt: new Date() };
    this.invalidSince = undefined;
    log.info({ file: this.file, issuers: config.issuers.map((i) => i.name), rules: config.rules.map((r) => r.name) }, 'broker configuration reloaded');
  }
}
