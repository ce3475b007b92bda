// Exit codes of the `animus` CLI and service, after BSD sysexits so systemd units and scripts
// can act on them (RestartPreventExitStatus=64 78: restarting cannot fix usage or config).
// `exitCodeFor` maps an error to its code by class and `code`, never by message text.
import { AnimusError, ConfigError, NotFoundError, ValidationError } from '../errors/index.js';

/** Every exit code animus uses. */
export const ExitCode = {
  /** Done. `serve`: drained cleanly after SIGTERM/SIGINT. */
  ok: 0,
  /** The command ran and the answer is "no": a doctor check failed, an item was not found, a state change is not allowed. */
  failure: 1,
  /** Bad command line: unknown command or option, missing argument. */
  usage: 64,
  /** Bad input data: a value failed validation (the message names the field). */
  dataError: 65,
  /** An input file or directory does not exist or cannot be read. */
  noInput: 66,
  /** The database (or another service animus needs) cannot be reached. */
  unavailable: 69,
  /** An internal error: a bug, or something animus did not expect. */
  software: 70,
  /** `serve`: the drain timed out; unfinished items go back to their queue. Safe to restart. */
  tempFail: 75,
  /** The configuration is invalid or the database does not match it (schema, dimensions). */
  config: 78,
  /** Interrupted by SIGINT before finishing (`demo`, `memory import --wait`). */
  interrupted: 130,
} as const;

/** An exit code value. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

/** The exit code for an error that ends a command. */
export function exitCodeFor(err: unknown): ExitCodeValue {
  if (err instanceof ConfigError) return ExitCode.config;
  if (err instanceof ValidationError) return ExitCode.dataError;
  if (err instanceof NotFoundError) return ExitCode.failure;
  if (err instanceof AnimusError) {
    switch (err.code) {
      case 'DATABASE_UNAVAILABLE':
      case 'DATABASE_LOCKED':
        return ExitCode.unavailable;
      case 'SCHEMA_MISMATCH':
      case 'EXTENSION_MISSING':
      case 'MIGRATION_FAILED':
        return ExitCode.config;
      case 'ILLEGAL_TRANSITION':
        return ExitCode.failure;
      case 'PROVIDER_FAILED':
        return ExitCode.unavailable;
      default:
        return ExitCode.software;
    }
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if ((err as NodeJS.ErrnoException | undefined)?.syscall === 'listen') {
    // The port is taken (may free up: retry) or not ours to bind (fix the config).
    return code === 'EADDRINUSE' ? ExitCode.unavailable : ExitCode.config;
  }
  if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR' || code === 'ENOTDIR')
    return ExitCode.noInput;
  if (code === 'ECONNREFUSED' || code === 'ETIMEDOUT') return ExitCode.unavailable;
  return ExitCode.software;
}
