// V8 optimizes a function once it has run a set amount of bytecode (the "interrupt budget").
// At V8's default, a download of 2,000 × 64 KiB spent about a fifth of its CPU in the optimizing
// compiler, on functions the run then barely used before it ended; on a node the sidecar shares
// CPUs with ODM, and every such second is taken from the job. Eight times the budget leaves only
// code that runs for long optimized (per-piece and per-object paths after a few thousand
// objects): the same download took 1.76 instead of 2.19 CPU s, and long transfers lose nothing
// (docs/benchmarks.md). Imported first by cli.ts: only module set-up (no transfer, no request)
// runs before it, in the bundle as in tsc's output.
// V8 flags are process-wide: the MD5 worker gets it too.
import { setFlagsFromString } from 'node:v8';

/** V8's default (11.3, node 20) times eight. */
const INTERRUPT_BUDGET = 67_584 * 8;

// a budget given on node's command line (e.g. to profile by hand) wins
if (!process.execArgv.some((a) => a.startsWith('--interrupt-budget'))) setFlagsFromString(`--interrupt-budget=${INTERRUPT_BUDGET}`);
