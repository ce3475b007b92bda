// `animus serve` in a process: start the service, turn SIGTERM/SIGINT into a drain, and
// report through the exit code what happened (0 clean, 75 drain timed out). A second
// signal during the drain stops waiting: unfinished items return after their visibility timeout.
import { startService } from '../service/service.js';
import { ExitCode } from './exit-codes.js';
import type { CommandContext } from './program.js';

/** Runs the service until a signal; resolves to the exit code. */
export async function runServeCommand(
  ctx: CommandContext,
  opts: { drainTimeout: number; vt: number },
): Promise<number> {
  const service = await startService({
    config: ctx.config(),
    drainTimeoutMs: opts.drainTimeout,
    vt: opts.vt,
    env: ctx.env,
  });
  return new Promise<number>((resolveExit) => {
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals) => {
      signals++;
      if (signals > 1) {
        ctx.out().note(`animus: ${signal} again, not waiting for in-flight work (it returns to the queue)`);
        resolveExit(ExitCode.tempFail);
        return;
      }
      service.drain(signal).then(
        (result) => {
          process.off('SIGTERM', onSignal);
          process.off('SIGINT', onSignal);
          resolveExit(result.clean ? ExitCode.ok : ExitCode.tempFail);
        },
        (err: unknown) => {
          ctx.out().error(err);
          resolveExit(ExitCode.software);
        },
      );
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
