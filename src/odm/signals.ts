// ODM's own signals, read from the project dir:
// - benchmark.txt gains "<stage> runtime: N seconds" after each stage (with ODM's --time): that
//   stage's products are final, so they go up now instead of after the stable window;
// - log.json is written once, at exit, with "success": the job is over.
// Both are the job's to write, so both are read like untrusted input: never through a symlink,
// never from a FIFO or device, never more than a cap (a job could point them at /dev/zero).
import picomatch from 'picomatch';
import { log } from '../log.js';
import { readBounded } from '../util/open-beneath.js';
import { RateLimitedLog } from '../util/rate-limited-log.js';
import { parseBenchmark, parseLogJson, stageProducts } from './project.js';
import { sleep } from '../util/backoff.js';

/** The project directory as the signals need it (the upload's output tree is one). */
export interface ProjectDir {
  /** absolute path of a path relative to the project dir */
  abs(rel: string): string;
  /** the files that would be uploaded now, relative to the project dir */
  scan(): Promise<readonly { rel: string }[]>;
}

export interface OdmSignalOptions {
  tree: ProjectDir;
  /** a log.json older than this is from an earlier ODM run in the same folder, not this job's end */
  notBefore: Date;
  /** a stage finished; `products` are the files it made final (relative paths) */
  onStageDone: (stage: string, seconds: number, products: string[]) => void;
  onJobEnd: (success: boolean) => void;
}

const LOG_JSON_RETRIES = 20;
const LOG_JSON_RETRY_MS = 500;
/** ODM's benchmark.txt is a few lines; its log.json a few hundred kB at most. */
export const BENCHMARK_MAX_BYTES = 1024 ** 2;
export const LOG_JSON_MAX_BYTES = 16 * 1024 ** 2;

/** Refused reads are logged, at a rate a job rewriting the file in a loop cannot turn into a flood. */
const refusals = new RateLimitedLog({ burst: 5, perMinute: 6 });

function refused(file: string, err: unknown): void {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return;
  refusals.warn({ file, err: (err as Error).message }, `not reading ${file}: not a regular file of bounded size (a symlink, FIFO, device, or too large)`);
}

export class OdmSignals {
  private stagesSeen = 0;
  private ended = false;
  private benchmarkBusy: Promise<void> = Promise.resolve();

  constructor(private readonly o: OdmSignalOptions) {}

  /** benchmark.txt was written: act on each new complete stage line, in order. */
  benchmarkChanged(): Promise<void> {
    this.benchmarkBusy = this.benchmarkBusy.then(() => this.readBenchmark()).catch((err: unknown) => {
      refused('benchmark.txt', err);
    });
    return this.benchmarkBusy;
  }

  /** log.json appeared or changed: once it parses (ODM writes it in one go, we may catch it half-way), the job has ended. */
  async logJsonChanged(): Promise<void> {
    const path = this.o.tree.abs('log.json');
    for (let i = 0; i < LOG_JSON_RETRIES && !this.ended; i++) {
      let read: { text: string; mtime: Date };
      try {
        read = await readBounded(path, LOG_JSON_MAX_BYTES);
      } catch (err) {
        return refused('log.json', err);
      }
      if (read.mtime < this.o.notBefore) {
        log.info({ mtime: read.mtime.toISOString() }, 'ignoring a log.json from before this job started (an earlier ODM run)');
        return;
      }
      const parsed = parseLogJson(read.text);
      if (parsed) {
        this.ended = true;
        log.info({ success: parsed.success }, `ODM wrote log.json: the job has ended (${parsed.success ? 'success' : 'failed'})`);
        this.o.onJobEnd(parsed.success);
        return;
      }
      await sleep(LOG_JSON_RETRY_MS);
    }
  }

  private async readBenchmark(): Promise<void> {
    const { text } = await readBounded(this.o.tree.abs('benchmark.txt'), BENCHMARK_MAX_BYTES);
    const complete = text.slice(0, text.lastIndexOf('\n') + 1);
    const stages = parseBenchmark(complete);
    if (stages.length < this.stagesSeen) this.stagesSeen = 0; // rewritten by a new ODM run
    for (const { stage, seconds } of stages.slice(this.stagesSeen)) {
      this.stagesSeen++;
      const globs = stageProducts(stage);
      const match = globs.length ? picomatch([...globs], { dot: true }) : () => false;
      const products = (await this.o.tree.scan()).map((f) => f.rel).filter((rel) => match(rel));
      log.info({ stage, seconds, products: products.length }, `ODM stage ${stage} finished in ${Math.round(seconds)} s`);
      this.o.onStageDone(stage, seconds, [...products, 'benchmark.txt']);
    }
  }
}
