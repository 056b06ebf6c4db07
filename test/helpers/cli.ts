// Run the built CLI (dist/cli.js, built by `npm test`) as a child process, capturing its logs.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** parsed JSON log lines from stdout */
  logs: Record<string, unknown>[];
}

export function parseLogs(stdout: string): Record<string, unknown>[] {
  return stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => {
    try { return JSON.parse(l) as Record<string, unknown>; } catch { return { unparsed: l }; }
  });
}

export interface Running {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  done: Promise<CliResult>;
  /** resolves when a stdout line matching `re` appears (rejects after timeoutMs) */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
}

/**
 * `opts.permissionsBite`: run the child without the capabilities that let root ignore file modes
 * (setpriv drops CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from its bounding set), for tests that
 * need a mode of 000 to stop it. It stays root, so it can still reach node and the CLI wherever
 * CI keeps them.
 */
export function startCli(args: string[], env: NodeJS.ProcessEnv, opts: { permissionsBite?: boolean } = {}): Running {
  const argv = [process.execPath, CLI, ...args];
  const [cmd, ...rest] = opts.permissionsBite && process.getuid?.() === 0 ? ['setpriv', '--bounding-set=-dac_override,-dac_read_search', '--', ...argv] : argv;
  const child = spawn(cmd!, rest, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    for (const w of [...waiters]) {
      const line = out.split('\n').find((l) => w.re.test(l));
      if (line) { waiters.splice(waiters.indexOf(w), 1); w.resolve(line); }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => { err += d; });
  const done = new Promise<CliResult>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err, logs: parseLogs(out) }));
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    done,
    waitFor(re, timeoutMs = 60_000) {
      const line = out.split('\n').find((l) => re.test(l));
      if (line) return Promise.resolve(line);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re} in output:\n${out.slice(-3000)}\n${err.slice(-2000)}`)), timeoutMs);
        waiters.push({ re, resolve: (l) => { clearTimeout(timer); resolve(l); } });
        void done.then(() => { clearTimeout(timer); reject(new Error(`process exited while waiting for ${re}:\n${out.slice(-3000)}\n${err.slice(-2000)}`)); });
      });
    },
  };
}

export async function runCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<CliResult> {
  const r = startCli(args, env);
  const timer = setTimeout(() => r.child.kill('SIGKILL'), timeoutMs);
  const res = await r.done;
  clearTimeout(timer);
  return res;
}
