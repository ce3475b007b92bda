// Structured logs: one JSON object per line on stderr (journald keeps each line as one
// entry), stamped with the active trace and span ids, and handed to an OTLP log bridge when
// `initTelemetry` installed one. Secrets never print: `Secret` redacts itself, fields whose
// names look secret are masked, and passwords inside URLs are cut out. Logging never throws.
import { context as otelContext, trace } from '@opentelemetry/api';
import type { Context } from '@opentelemetry/api';

/** Log levels in increasing severity; `silent` turns a logger off. */
export type LoggerLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const RANK: Record<LoggerLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** Extra structured fields of a log line. */
export type LogFields = Record<string, unknown>;

/** A structured logger. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line (and keeps level, name and output). */
  child(fields: LogFields): Logger;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Lowest level written. Default `info`. */
  level?: LoggerLevel;
  /** `name` field of every line, e.g. `animus.worker`. Default `animus`. */
  name?: string;
  /** Where lines go. Default `process.stderr`. */
  stream?: { write(chunk: string): unknown };
  /** Fields added to every line. */
  fields?: LogFields;
}

/** A record handed to the OTLP bridge. */
export interface BridgedLogRecord {
  level: Exclude<LoggerLevel, 'silent'>;
  time: Date;
  name: string;
  msg: string;
  /** Redacted, JSON-safe fields. */
  fields: LogFields;
  context: Context;
}

let bridge: ((record: BridgedLogRecord) => void) | undefined;

/** Installs (or with `undefined` removes) the OTLP log bridge; used by `initTelemetry`. */
export function setLogBridge(fn: ((record: BridgedLogRecord) => void) | undefined): void {
  bridge = fn;
}

// Matched against the key in snake_case, so `apiToken` and `api_key` match,
// `input_tokens` and `dedup_key` do not.
const SECRET_KEY =
  /(^|[_.-])(password|passwd|pass|secret|token|api_key|apikey|private_key|secret_key|authorization|cookie|credentials?)$/;

function looksSecret(key: string): boolean {
  return SECRET_KEY.test(key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase());
}
const URL_PASSWORD = /(\b[a-z][a-z0-9+.-]*:\/\/[^:/?#@\s]*:)[^@/?#\s]+@/gi;

/** Masks passwords in URLs inside a string (`postgres://u:pw@h` → `postgres://u:[redacted]@h`). */
export function redactString(s: string): string {
  return s.replace(URL_PASSWORD, '$1[redacted]@');
}

function safeValue(value: unknown, key: string | undefined, seen: WeakSet<object>, depth: number): unknown {
  if (key !== undefined && looksSecret(key) && value !== undefined && value !== null) return '[redacted]';
  if (typeof value === 'string') return redactString(value);
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'function' || typeof value === 'symbol') return undefined;
  if (typeof value !== 'object' || value === null) return value;
  if (seen.has(value)) return '[circular]';
  if (depth > 8) return '[truncated]';
  seen.add(value);
  try {
    if (value instanceof Error) {
      const e = value as Error & { code?: unknown; cause?: unknown };
      const out: LogFields = { name: e.name, message: redactString(e.message) };
      if (e.code !== undefined) out.code = safeValue(e.code, undefined, seen, depth + 1);
      if (e.stack !== undefined) out.stack = redactString(e.stack);
      if (e.cause !== undefined) out.cause = safeValue(e.cause, undefined, seen, depth + 1);
      return out;
    }
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') {
      return safeValue((toJSON as () => unknown).call(value), key, seen, depth + 1);
    }
    if (Array.isArray(value)) return value.map((v) => safeValue(v, undefined, seen, depth + 1));
    const out: LogFields = {};
    for (const [k, v] of Object.entries(value)) {
      const safe = safeValue(v, k, seen, depth + 1);
      if (safe !== undefined) out[k] = safe;
    }
    return out;
  } finally {
    seen.delete(value);
  }
}

function safeFields(fields: LogFields): LogFields {
  return safeValue(fields, undefined, new WeakSet(), 0) as LogFields;
}

/**
 * Creates a JSON-lines logger. Each line has `time`, `level`, `name`, `msg`, `trace_id` and
 * `span_id` when a span is active, then the fields. Reserved keys in fields are prefixed
 * with `field.` so they cannot overwrite those.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? 'info';
  const name = options.name ?? 'animus';
  const stream = options.stream ?? process.stderr;
  const base = safeFields(options.fields ?? {});
  const min = RANK[level];

  const write = (lvl: Exclude<LoggerLevel, 'silent'>, msg: string, fields: LogFields | undefined): void => {
    if (RANK[lvl] < min) return;
    try {
      const time = new Date();
      const ctx = otelContext.active();
      const sc = trace.getSpanContext(ctx);
      const extra = fields === undefined ? {} : safeFields(fields);
      const line: LogFields = { time: time.toISOString(), level: lvl, name, msg: redactString(msg) };
      if (sc !== undefined && trace.isSpanContextValid(sc)) {
        line.trace_id = sc.traceId;
        line.span_id = sc.spanId;
        line.trace_flags = sc.traceFlags.toString(16).padStart(2, '0');
      }
      const merged = { ...base, ...extra };
      for (const [k, v] of Object.entries(merged)) line[k in line ? `field.${k}` : k] = v;
      stream.write(`${JSON.stringify(line)}\n`);
      if (bridge !== undefined) {
        bridge({ level: lvl, time, name, msg: line.msg as string, fields: merged, context: ctx });
      }
    } catch {
      // A log line is never worth failing the caller.
    }
  };

  return {
    debug: (msg, fields) => write('debug', msg, fields),
    info: (msg, fields) => write('info', msg, fields),
    warn: (msg, fields) => write('warn', msg, fields),
    error: (msg, fields) => write('error', msg, fields),
    child: (fields) =>
      createLogger({ level, name, stream, fields: { ...(options.fields ?? {}), ...fields } }),
  };
}
