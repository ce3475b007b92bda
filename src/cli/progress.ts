// Progress for long operations: a bar when stdout is a terminal (and not `--json`), plain
// "label: n/total (p%)" lines on stderr otherwise, at most one per 10% so logs stay short.
import cliProgress from 'cli-progress';
import type { Output } from './output.js';

/** A running progress display. */
export interface Progress {
  /** Sets the number done so far. */
  update(done: number): void;
  /** Ends the display (prints the final state). Idempotent. */
  stop(): void;
}

/** Starts a progress display for `total` units of work. */
export function startProgress(out: Output, label: string, total: number): Progress {
  if (out.isTTY && !out.json) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {value}/{total} {percentage}% · {duration_formatted}`,
        hideCursor: true,
        clearOnComplete: false,
        stream: out.stdout as NodeJS.WriteStream,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0);
    let stopped = false;
    return {
      update: (done) => bar.update(Math.min(done, total)),
      stop() {
        if (stopped) return;
        stopped = true;
        bar.stop();
      },
    };
  }
  let lastDecile = -1;
  let last = 0;
  let stopped = false;
  const print = (done: number) =>
    out.note(`${label}: ${done}/${total} (${total === 0 ? 100 : Math.floor((done / total) * 100)}%)`);
  return {
    update(done) {
      last = Math.min(done, total);
      const decile = total === 0 ? 10 : Math.floor((last / total) * 10);
      if (decile > lastDecile) {
        lastDecile = decile;
        print(last);
      }
    },
    stop() {
      if (stopped) return;
      stopped = true;
      if (lastDecile < 10) print(last);
    },
  };
}
