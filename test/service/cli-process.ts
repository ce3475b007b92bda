// Runs the real `animus` CLI in a child process (through tsx, from the sources) and reads
// its JSON log lines, for the tests that need a process boundary: exit codes and signals.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
/** The CLI entry point. */
export const CLI_MAIN = join(root, 'src', 'cli', 'main.ts');

/** A running CLI process. */
export interface CliProcess {
  readonly child: ChildProcess;
  /** Log lines parsed from stderr so far (non-JSON lines are kept as `{ raw }`). */
  readonly logs: Record<string, unknown>[];
  stdout(): string;
  /** Resolves with the first log line matching `pred` (rejects when the process exits first). */
  waitForLog(
    pred: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** Resolves with the exit code. */
  exited: Promise<number>;
}

/** Spawns `node --import tsx src/cli/main.ts ...args` with `env` added to a clean environment. */
export function spawnCli(args: string[], env: Record<string, string>): CliProcess {
  const base: Record<string, string> = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? '/tmp',
  };
  const child = spawn(process.execPath, ['--import', 'tsx', CLI_MAIN, ...args], {
    cwd: root,
    env: { ...base, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const waiters: {
    pred: (l: Record<string, unknown>) => boolean;
    resolve: (l: Record<string, unknown>) => void;
  }[] = [];
  let out = '';
  let pending = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => {
    pending += d.toString();
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const text = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        line = { raw: text };
      }
      logs.push(line);
      for (const w of [...waiters]) {
        if (w.pred(line)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
    }
  });
  const exited = new Promise<number>((resolve) =>
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))),
  );
  return {
    child,
    logs,
    stdout: () => out,
    exited,
    waitForLog(pred, timeoutMs = 90_000) {
      const found = logs.find(pred);
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `no matching log line within ${timeoutMs} ms; got: ${JSON.stringify(logs).slice(0, 2000)}`,
              ),
            ),
          timeoutMs,
        );
        waiters.push({
          pred,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`process exited (${code}) first; logs: ${JSON.stringify(logs).slice(0, 2000)}`));
        });
      });
    },
  };
}

/** Runs the CLI to completion. */
export async function runCliProcess(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = spawnCli(args, env);
  const code = await p.exited;
  return {
    code,
    stdout: p.stdout(),
    stderr: p.logs.map((l) => (typeof l.raw === 'string' ? l.raw : JSON.stringify(l))).join('\n'),
  };
}
