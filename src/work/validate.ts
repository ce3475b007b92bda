// Input checks for work submits: every rule is checked before anything is written, and
// each failure names the field and the limit.
import { ValidationError } from '../errors/index.js';
import type { Json, SubmitItem } from './types.js';

/** pgmq's rule for queue names (letters, digits, underscore; the table prefix must fit 63). */
export const QUEUE_NAME_PATTERN = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
export const QUEUE_NAME_MAX = 47;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TEXT_MAX = 512;

/** Throws unless `name` is a valid pgmq queue name. */
export function validateQueueName(name: unknown, field = 'queue'): string {
  if (typeof name !== 'string' || name === '') throw new ValidationError(field, 'must be a non-empty string');
  if (name.length > QUEUE_NAME_MAX) {
    throw new ValidationError(field, `'${name.slice(0, 60)}' is longer than ${QUEUE_NAME_MAX} characters`, {
      limit: QUEUE_NAME_MAX,
    });
  }
  if (!QUEUE_NAME_PATTERN.test(name)) {
    throw new ValidationError(
      field,
      `${JSON.stringify(name)} is not a valid queue name (letters, digits and _ only, not starting with a digit)`,
    );
  }
  return name;
}

/** Throws unless `id` looks like a work item id (uuid). */
export function validateId(id: unknown, field = 'id'): string {
  if (typeof id !== 'string' || !UUID.test(id)) throw new ValidationError(field, 'must be a uuid');
  return id.toLowerCase();
}

function text(value: unknown, field: string, required: boolean): string | undefined {
  if (value === undefined || value === null) {
    if (required) throw new ValidationError(field, 'is required');
    return undefined;
  }
  if (typeof value !== 'string' || value.trim() === '') {
    throw new ValidationError(field, 'must be a non-empty string');
  }
  if (value.length > TEXT_MAX)
    throw new ValidationError(field, `is longer than ${TEXT_MAX} characters`, { limit: TEXT_MAX });
  return value;
}

/** Serialises a JSON value strictly: no undefined, functions, symbols, BigInt, NaN/Infinity or cycles. */
export function strictJson(value: unknown, field: string): string {
  const seen = new Set<object>();
  const walk = (v: unknown, path: string): void => {
    if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) throw new ValidationError(path, `${String(v)} is not JSON-serialisable`);
      return;
    }
    if (typeof v === 'object') {
      if (seen.has(v)) throw new ValidationError(path, 'contains a cycle, which is not JSON-serialisable');
      if (v instanceof Date) return;
      seen.add(v);
      if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${path}[${i}]`));
      else {
        const proto = Object.getPrototypeOf(v) as unknown;
        if (
          proto !== Object.prototype &&
          proto !== null &&
          typeof (v as { toJSON?: unknown }).toJSON !== 'function'
        ) {
          throw new ValidationError(
            path,
            'must be plain JSON (objects, arrays, strings, numbers, booleans, null)',
          );
        }
        for (const [k, x] of Object.entries(v)) walk(x, `${path}.${k}`);
      }
      seen.delete(v);
      return;
    }
    throw new ValidationError(path, `a ${typeof v} is not JSON-serialisable`);
  };
  walk(value, field);
  return JSON.stringify(value);
}

/** A submit item after validation, ready for SQL. */
export interface NormalisedItem {
  queue: string;
  workType: string;
  dedupKey: string | null;
  source: string;
  triggerInfo: string | null;
  params: string;
  priority: number;
  maxAttempts: number;
  delaySeconds: number | null;
  delayUntil: Date | null;
  parentId: string | null;
}

/** Checks one submit item. `prefix` names it within a batch (e.g. `items[3]`). */
export function normaliseItem(item: SubmitItem, maxParamsBytes: number, prefix = ''): NormalisedItem {
  const f = (name: string) => (prefix === '' ? name : `${prefix}.${name}`);
  if (item === null || typeof item !== 'object')
    throw new ValidationError(prefix || 'item', 'must be an object');
  const queue = validateQueueName(item.queue ?? 'work', f('queue'));
  const workType = text(item.workType, f('workType'), true)!;
  const source = text(item.source, f('source'), true)!;
  const dedupKey = text(item.dedupKey, f('dedupKey'), false) ?? null;
  const params = strictJson(item.params ?? {}, f('params'));
  const size = Buffer.byteLength(params);
  if (size > maxParamsBytes) {
    throw new ValidationError(f('params'), `is ${size} bytes of JSON, over the limit of ${maxParamsBytes}`, {
      limit: maxParamsBytes,
    });
  }
  const triggerInfo = item.triggerInfo === undefined ? null : strictJson(item.triggerInfo, f('triggerInfo'));
  if (triggerInfo !== null && Buffer.byteLength(triggerInfo) > maxParamsBytes) {
    throw new ValidationError(f('triggerInfo'), `is over the limit of ${maxParamsBytes} bytes`, {
      limit: maxParamsBytes,
    });
  }
  const priority = item.priority ?? 0;
  if (!Number.isInteger(priority) || Math.abs(priority) > 2 ** 31 - 1) {
    throw new ValidationError(f('priority'), `must be a 32-bit integer, got ${String(priority)}`);
  }
  const maxAttempts = item.maxAttempts ?? 3;
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > 1000) {
    throw new ValidationError(
      f('maxAttempts'),
      `must be a whole number from 1 to 1000, got ${String(maxAttempts)}`,
      {
        limit: 1,
      },
    );
  }
  let delaySeconds: number | null = null;
  let delayUntil: Date | null = null;
  if (item.delay instanceof Date) {
    if (Number.isNaN(item.delay.getTime())) throw new ValidationError(f('delay'), 'is an invalid Date');
    delayUntil = item.delay;
  } else if (item.delay !== undefined) {
    if (typeof item.delay !== 'number' || !Number.isFinite(item.delay) || item.delay < 0) {
      throw new ValidationError(
        f('delay'),
        `must be a finite number of seconds >= 0 or a Date, got ${String(item.delay)}`,
      );
    }
    if (item.delay > 2 ** 31 - 1)
      throw new ValidationError(f('delay'), 'is too large', { limit: 2 ** 31 - 1 });
    delaySeconds = Math.ceil(item.delay);
  }
  const parentId = item.parentId === undefined ? null : validateId(item.parentId, f('parentId'));
  return {
    queue,
    workType,
    dedupKey,
    source,
    triggerInfo,
    params,
    priority,
    maxAttempts,
    delaySeconds,
    delayUntil,
    parentId,
  };
}

/** Checks a limit in 1..max. */
export function validateLimit(limit: unknown, field = 'limit', max = 1000): number {
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > max) {
    throw new ValidationError(field, `must be a whole number from 1 to ${max}, got ${String(limit)}`, {
      limit: max,
    });
  }
  return limit;
}

export type { Json };
