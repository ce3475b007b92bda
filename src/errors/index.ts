// The error vocabulary of animus: one base class with a stable `code`, and a few
// subclasses that carry the data a caller needs to act (which variable, which field, which
// limit). Callers branch on `code` or `instanceof`, never on message text.

/** Stable machine-readable error codes. */
export type AnimusErrorCode =
  | 'CONFIG_INVALID'
  | 'VALIDATION_FAILED'
  | 'NOT_FOUND'
  | 'SCHEMA_MISMATCH'
  | 'MIGRATION_FAILED'
  | 'DATABASE_UNAVAILABLE'
  | 'DATABASE_LOCKED'
  | 'EXTENSION_MISSING'
  | 'ILLEGAL_TRANSITION'
  | 'PROVIDER_FAILED'
  | 'NO_CHAT_MODEL'
  | 'PERMANENT_FAILURE'
  | 'CLOSED';

/** Base class of every error animus throws on purpose. */
export class AnimusError extends Error {
  /** Stable identifier of the error kind. */
  readonly code: AnimusErrorCode;

  constructor(code: AnimusErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }
}

/** A configuration variable is missing or malformed. Never carries a secret's value. */
export class ConfigError extends AnimusError {
  /** The variable (or option) that was wrong, e.g. `DATABASE_URL`. */
  readonly variable: string;

  constructor(variable: string, message: string, options?: { cause?: unknown }) {
    super('CONFIG_INVALID', message, options);
    this.variable = variable;
  }
}

/** Input was rejected before anything was written. */
export class ValidationError extends AnimusError {
  /** The field that was wrong, e.g. `params` or `items[3].workType`. */
  readonly field: string;
  /** The limit that was crossed, when there is one. */
  readonly limit: number | string | undefined;

  constructor(field: string, message: string, options?: { limit?: number | string; cause?: unknown }) {
    super('VALIDATION_FAILED', `${field}: ${message}`, options);
    this.field = field;
    this.limit = options?.limit;
  }
}

/** The thing asked for does not exist. */
export class NotFoundError extends AnimusError {
  readonly entity: string;
  readonly id: string;

  constructor(entity: string, id: string | number | bigint) {
    super('NOT_FOUND', `${entity} ${String(id)} not found`);
    this.entity = entity;
    this.id = String(id);
  }
}

/** The database's schema does not match what this build expects. */
export class SchemaMismatchError extends AnimusError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('SCHEMA_MISMATCH', message, options);
  }
}

/** A state change was asked for that the lifecycle does not allow from the current state. */
export class IllegalTransitionError extends AnimusError {
  readonly id: string;
  readonly from: string | undefined;
  readonly to: string;

  constructor(id: string, from: string | undefined, to: string) {
    super(
      'ILLEGAL_TRANSITION',
      from === undefined
        ? `work item ${id}: cannot move to '${to}' (item not found)`
        : `work item ${id}: cannot move from '${from}' to '${to}'`,
    );
    this.id = id;
    this.from = from;
    this.to = to;
  }
}

/** An LLM or embedding provider failed. `retryable` says whether trying again may help. */
export class ProviderError extends AnimusError {
  readonly provider: string;
  readonly model: string;
  readonly retryable: boolean;
  readonly status: number | undefined;

  constructor(
    provider: string,
    model: string,
    message: string,
    options: { retryable: boolean; status?: number; cause?: unknown },
  ) {
    super('PROVIDER_FAILED', `${provider} model '${model}': ${message}`, options);
    this.provider = provider;
    this.model = model;
    this.retryable = options.retryable;
    this.status = options.status;
  }
}

/**
 * Thrown by a work handler to fail an item for good: no retries, the item goes `dead`
 * with this error kept (River's JobCancel).
 */
export class PermanentFailure extends AnimusError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PERMANENT_FAILURE', message, options);
  }
}

/** SQLSTATE codes animus reacts to; classified by code, never by message text. */
export const SqlState = {
  uniqueViolation: '23505',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  undefinedTable: '42P01',
  undefinedFunction: '42883',
  undefinedFile: '58P01',
  featureNotSupported: '0A000',
  invalidParameterValue: '22023',
  raiseException: 'P0001',
  lockNotAvailable: '55P03',
  insufficientPrivilege: '42501',
  checkViolation: '23514',
  foreignKeyViolation: '23503',
} as const;

/** The SQLSTATE of a `pg` error, if it is one. */
export function sqlState(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}
