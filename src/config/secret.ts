// A value that must never leak into logs, errors or serialised output. Every implicit
// conversion yields a placeholder; `reveal()` is the one explicit way to read it.
import { inspect } from 'node:util';

const REDACTED = '[redacted]';

/** A secret string (API key, token, a URL with a password). Read it with `reveal()`. */
export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  /** The secret itself. Call it only where the value is handed to the thing that needs it. */
  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [Symbol.toPrimitive](): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return `Secret(${REDACTED})`;
  }
}

/** `new Secret(value)` for a defined, non-empty value; otherwise `undefined`. */
export function secretOrUndefined(value: string | undefined): Secret | undefined {
  return value === undefined || value === '' ? undefined : new Secret(value);
}
