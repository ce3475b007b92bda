// Output plumbing of the CLI: progress as a bar on a terminal and as sparse plain lines
// otherwise, JSON errors on stderr, and the error → exit code table.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  AnimusError,
  ConfigError,
  IllegalTransitionError,
  NotFoundError,
  ValidationError,
} from '../../src/errors/index.js';
import { ExitCode, exitCodeFor } from '../../src/cli/exit-codes.js';
import { createOutput } from '../../src/cli/output.js';
import { startProgress } from '../../src/cli/progress.js';

class Capture extends Writable {
  text = '';
  isTTY: boolean;
  columns = 100;
  constructor(tty: boolean) {
    super();
    this.isTTY = tty;
  }
  override _write(chunk: Buffer, _enc: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
  cursorTo(): boolean {
    return true;
  }
  clearLine(): boolean {
    return true;
  }
  moveCursor(): boolean {
    return true;
  }
}

describe('progress', () => {
  it('draws a bar on a terminal', () => {
    const stdout = new Capture(true);
    const out = createOutput({ json: false, stdout, stderr: new Capture(false) });
    const p = startProgress(out, 'ingest', 10);
    p.update(5);
    p.update(10);
    p.stop();
    expect(stdout.text).toContain('ingest [');
    expect(stdout.text).toContain('10/10');
  });

  it('prints at most one plain line per 10% elsewhere, always the last', () => {
    const stderr = new Capture(false);
    const out = createOutput({ json: false, stdout: new Capture(false), stderr });
    const p = startProgress(out, 'import', 200);
    for (let i = 1; i <= 199; i++) p.update(i);
    p.stop();
    const lines = stderr.text.trim().split('\n');
    expect(lines.length).toBeLessThanOrEqual(11);
    expect(lines.at(-1)).toBe('import: 199/200 (99%)');
    expect(lines[0]).toBe('import: 1/200 (0%)');
  });

  it('never draws a bar in JSON mode, even on a terminal', () => {
    const stdout = new Capture(true);
    const out = createOutput({ json: true, stdout, stderr: new Capture(false) });
    const p = startProgress(out, 'x', 2);
    p.update(2);
    p.stop();
    expect(stdout.text).toBe('');
  });
});

describe('errors and exit codes', () => {
  it('maps errors to the documented codes', () => {
    expect(exitCodeFor(new ConfigError('X', 'bad'))).toBe(ExitCode.config);
    expect(exitCodeFor(new ValidationError('f', 'bad'))).toBe(ExitCode.dataError);
    expect(exitCodeFor(new NotFoundError('work item', 'x'))).toBe(ExitCode.failure);
    expect(exitCodeFor(new IllegalTransitionError('x', 'completed', 'queued'))).toBe(ExitCode.failure);
    expect(exitCodeFor(new AnimusError('DATABASE_UNAVAILABLE', 'down'))).toBe(ExitCode.unavailable);
    expect(exitCodeFor(new AnimusError('DATABASE_LOCKED', 'held'))).toBe(ExitCode.unavailable);
    expect(exitCodeFor(new AnimusError('SCHEMA_MISMATCH', 'edited'))).toBe(ExitCode.config);
    expect(exitCodeFor(Object.assign(new Error('gone'), { code: 'ENOENT' }))).toBe(ExitCode.noInput);
    expect(exitCodeFor(new TypeError('bug'))).toBe(ExitCode.software);
    const listen = (code: string) => Object.assign(new Error(code), { code, syscall: 'listen' });
    expect(exitCodeFor(listen('EADDRINUSE'))).toBe(ExitCode.unavailable);
    expect(exitCodeFor(listen('EACCES'))).toBe(ExitCode.config);
  });

  it('writes JSON errors to stderr with the field named', () => {
    const stderr = new Capture(false);
    const stdout = new Capture(false);
    createOutput({ json: true, stdout, stderr }).error(new ValidationError('params.source', 'is required'));
    expect(JSON.parse(stderr.text)).toEqual({
      error: { code: 'VALIDATION_FAILED', message: 'params.source: is required', field: 'params.source' },
    });
    expect(stdout.text).toBe('');
  });
});
