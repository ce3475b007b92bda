// How commands talk back: results on stdout (human lines, or one JSON document with
// `--json`), problems on stderr. Commands never call console.* directly, so tests can
// capture output and `--json` output stays machine-readable.
import { AnimusError, ConfigError, ValidationError } from '../errors/index.js';
import { toJson } from '../service/json.js';

/** Where a command writes. */
export interface Output {
  /** `--json` was given. */
  readonly json: boolean;
  /** Whether stdout is a terminal (progress bars only there). */
  readonly isTTY: boolean;
  /** A human line on stdout (nothing in JSON mode). */
  line(text?: string): void;
  /** The command's result: JSON in JSON mode, else `human()`'s lines. */
  result(value: unknown, human?: (value: unknown) => string | string[]): void;
  /** A note on stderr (progress in plain mode, warnings). */
  note(text: string): void;
  /** An error on stderr: JSON (`{"error":{…}}`) in JSON mode. */
  error(err: unknown): void;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/** The `{ code, message, field?, variable? }` shape of an error. */
export function describeError(err: unknown): Record<string, string> {
  if (err instanceof ValidationError) return { code: err.code, message: err.message, field: err.field };
  if (err instanceof ConfigError) return { code: err.code, message: err.message, variable: err.variable };
  if (err instanceof AnimusError) return { code: err.code, message: err.message };
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return { code: typeof code === 'string' ? code : 'ERROR', message: err.message };
  }
  return { code: 'ERROR', message: String(err) };
}

/** Creates an {@link Output} over two streams. */
export function createOutput(options: {
  json: boolean;
  stdout?: NodeJS.WritableStream & { isTTY?: boolean };
  stderr?: NodeJS.WritableStream;
}): Output {
  const stdout = options.stdout ?? process.stdout;
  const stderr = options.stderr ?? process.stderr;
  const json = options.json;
  return {
    json,
    isTTY: (stdout as { isTTY?: boolean }).isTTY === true,
    stdout,
    stderr,
    line(text = '') {
      if (!json) stdout.write(`${text}\n`);
    },
    result(value, human) {
      if (json) {
        stdout.write(`${JSON.stringify(toJson(value), null, 2)}\n`);
        return;
      }
      const text = human === undefined ? JSON.stringify(toJson(value), null, 2) : human(value);
      const lines = Array.isArray(text) ? text : [text];
      for (const l of lines) stdout.write(`${l}\n`);
    },
    note(text) {
      stderr.write(`${text}\n`);
    },
    error(err) {
      const d = describeError(err);
      if (json) stderr.write(`${JSON.stringify({ error: d })}\n`);
      else stderr.write(`animus: ${d.message}\n`);
    },
  };
}
