// Input checks for the memory API. Everything is checked before anything is embedded or
// written, and every failure is a ValidationError naming the field (e.g. `entries[3].content`).
// Values reach SQL only as parameters; nothing here is ever interpolated.
import { ValidationError } from '../errors/index.js';
import type { Bm25Parameters, MemoryEntry, MemoryFilters, MemoryPatch } from './types.js';

/** Largest accepted content, in characters. */
export const MAX_CONTENT_CHARS = 200_000;
/** Largest accepted serialised metadata, in bytes. */
export const MAX_METADATA_BYTES = 64 * 1024;
/** Most entries per `store` call. */
export const MAX_ENTRIES = 10_000;
/** Largest `limit` of a search. */
export const MAX_LIMIT = 1000;
const MAX_LABEL_CHARS = 1000;
const MAX_JSON_DEPTH = 32;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const FILTER_KEYS = new Set(['memoryType', 'source', 'metadata', 'createdAfter', 'createdBefore']);

function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

/** Postgres text cannot hold NUL; say so instead of failing inside the database. */
function checkText(field: string, value: string): void {
  if (value.includes('\u0000')) throw new ValidationError(field, 'must not contain the NUL character');
}

/** Non-empty text, not whitespace only, at most `max` characters. */
export function checkContent(field: string, value: unknown): string {
  if (typeof value !== 'string') throw new ValidationError(field, `must be a string, got ${typeof value}`);
  if (value.trim() === '') throw new ValidationError(field, 'must not be empty or whitespace only');
  if (value.length > MAX_CONTENT_CHARS) {
    throw new ValidationError(field, `is longer than ${MAX_CONTENT_CHARS} characters`, {
      limit: MAX_CONTENT_CHARS,
    });
  }
  checkText(field, value);
  return value;
}

/** A short non-empty label (memory type, source). */
export function checkLabel(field: string, value: unknown): string {
  if (typeof value !== 'string') throw new ValidationError(field, `must be a string, got ${typeof value}`);
  if (value.trim() === '') throw new ValidationError(field, 'must not be empty');
  if (value.length > MAX_LABEL_CHARS) {
    throw new ValidationError(field, `is longer than ${MAX_LABEL_CHARS} characters`, {
      limit: MAX_LABEL_CHARS,
    });
  }
  checkText(field, value);
  return value;
}

function checkJson(field: string, value: unknown, depth: number): void {
  if (depth > MAX_JSON_DEPTH) {
    throw new ValidationError(field, `nests deeper than ${MAX_JSON_DEPTH} levels`, { limit: MAX_JSON_DEPTH });
  }
  if (value === null || typeof value === 'boolean') return;
  if (typeof value === 'string') return checkText(field, value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new ValidationError(field, `must be a finite number, got ${value}`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => checkJson(`${field}[${i}]`, v, depth + 1));
    return;
  }
  if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      checkText(`${field} key`, k);
      checkJson(`${field}.${k}`, v, depth + 1);
    }
    return;
  }
  throw new ValidationError(field, `is not JSON (got ${typeof value})`);
}

/** A plain JSON object of bounded size; keys may be any string (they are never SQL). */
export function checkMetadata(field: string, value: unknown): Record<string, unknown> {
  if (!isPlainObject(value)) {
    throw new ValidationError(
      field,
      `must be a JSON object, got ${Array.isArray(value) ? 'an array' : typeof value}`,
    );
  }
  checkJson(field, value, 0);
  const bytes = Buffer.byteLength(JSON.stringify(value));
  if (bytes > MAX_METADATA_BYTES) {
    throw new ValidationError(field, `is ${bytes} bytes serialised, more than ${MAX_METADATA_BYTES}`, {
      limit: MAX_METADATA_BYTES,
    });
  }
  return value;
}

/** The largest finite 4-byte float: pgvector stores single precision. */
const FLOAT4_MAX = 3.4028234663852886e38;

/** A vector of exactly `dimensions` finite numbers within the 4-byte float range. */
export function checkVector(field: string, value: unknown, dimensions: number): number[] {
  if (!Array.isArray(value) && !(value instanceof Float32Array) && !(value instanceof Float64Array)) {
    throw new ValidationError(field, 'must be an array of numbers');
  }
  if (value.length !== dimensions) {
    throw new ValidationError(field, `must have ${dimensions} numbers, got ${value.length}`, {
      limit: dimensions,
    });
  }
  const out = Array.from(value as ArrayLike<unknown>);
  for (let i = 0; i < out.length; i++) {
    const v = out[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new ValidationError(`${field}[${i}]`, `must be a finite number, got ${String(v)}`);
    }
    if (Math.abs(v) > FLOAT4_MAX) {
      throw new ValidationError(`${field}[${i}]`, `is outside the range of a 4-byte float, got ${String(v)}`);
    }
  }
  return out as number[];
}

/** A search limit within 1..1000 (default 10). */
export function checkLimit(field: string, value: unknown, fallback = 10): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_LIMIT) {
    throw new ValidationError(field, `must be a whole number from 1 to ${MAX_LIMIT}, got ${String(value)}`, {
      limit: MAX_LIMIT,
    });
  }
  return value;
}

/** A memory id (uuid). */
export function checkId(field: string, value: unknown): string {
  if (typeof value !== 'string' || !UUID.test(value)) {
    throw new ValidationError(field, `must be a memory id (uuid), got ${JSON.stringify(value)}`);
  }
  return value.toLowerCase();
}

/** An entry of `store`, normalised. */
export interface CheckedEntry {
  content: string;
  memoryType: string;
  source: string | null;
  metadata: Record<string, unknown>;
  embedding: number[] | undefined;
}

const ENTRY_KEYS = new Set(['content', 'memoryType', 'source', 'metadata', 'embedding']);

/** Checks every entry of a `store` call; throws on the first bad one. */
export function checkEntries(entries: unknown, dimensions: number): CheckedEntry[] {
  if (!Array.isArray(entries)) throw new ValidationError('entries', 'must be an array of memory entries');
  if (entries.length > MAX_ENTRIES) {
    throw new ValidationError('entries', `holds ${entries.length} entries, more than ${MAX_ENTRIES}`, {
      limit: MAX_ENTRIES,
    });
  }
  return entries.map((raw: unknown, i) => {
    const f = `entries[${i}]`;
    if (!isPlainObject(raw)) throw new ValidationError(f, 'must be an object');
    for (const key of Object.keys(raw)) {
      if (!ENTRY_KEYS.has(key)) throw new ValidationError(`${f}.${key}`, 'is not a memory entry field');
    }
    const e = raw as unknown as MemoryEntry;
    return {
      content: checkContent(`${f}.content`, e.content),
      memoryType: checkLabel(`${f}.memoryType`, e.memoryType),
      source: e.source === undefined || e.source === null ? null : checkLabel(`${f}.source`, e.source),
      metadata: e.metadata === undefined ? {} : checkMetadata(`${f}.metadata`, e.metadata),
      embedding:
        e.embedding === undefined ? undefined : checkVector(`${f}.embedding`, e.embedding, dimensions),
    };
  });
}

/** Checks a patch of `update`; at least one field must be given. */
export function checkPatch(patch: unknown): MemoryPatch {
  if (!isPlainObject(patch)) throw new ValidationError('patch', 'must be an object');
  const allowed = new Set(['content', 'memoryType', 'source', 'metadata']);
  for (const key of Object.keys(patch)) {
    if (!allowed.has(key)) throw new ValidationError(`patch.${key}`, 'is not a field that can be updated');
  }
  const p = patch as MemoryPatch;
  const out: MemoryPatch = {};
  if (p.content !== undefined) out.content = checkContent('patch.content', p.content);
  if (p.memoryType !== undefined) out.memoryType = checkLabel('patch.memoryType', p.memoryType);
  if (p.source !== undefined) out.source = p.source === null ? null : checkLabel('patch.source', p.source);
  if (p.metadata !== undefined) out.metadata = checkMetadata('patch.metadata', p.metadata);
  if (Object.keys(out).length === 0) throw new ValidationError('patch', 'changes nothing');
  return out;
}

function labelList(field: string, value: unknown): string[] {
  const list = Array.isArray(value) ? value : [value];
  if (list.length === 0 || list.length > MAX_LIMIT) {
    throw new ValidationError(field, `must name 1 to ${MAX_LIMIT} values`, { limit: MAX_LIMIT });
  }
  return list.map((v, i) => checkLabel(Array.isArray(value) ? `${field}[${i}]` : field, v));
}

function instant(field: string, value: unknown): Date {
  const d = value instanceof Date ? value : typeof value === 'string' ? new Date(value) : undefined;
  if (d === undefined || Number.isNaN(d.getTime())) {
    throw new ValidationError(field, `must be a Date or an ISO 8601 timestamp, got ${JSON.stringify(value)}`);
  }
  return d;
}

/** Filters, normalised: lists, dates, a checked metadata object. */
export interface CheckedFilters {
  memoryTypes: string[] | undefined;
  sources: string[] | undefined;
  metadata: Record<string, unknown> | undefined;
  createdAfter: Date | undefined;
  createdBefore: Date | undefined;
}

/** Checks search filters; unknown keys are rejected by name. */
export function checkFilters(filters: unknown): CheckedFilters {
  const out: CheckedFilters = {
    memoryTypes: undefined,
    sources: undefined,
    metadata: undefined,
    createdAfter: undefined,
    createdBefore: undefined,
  };
  if (filters === undefined) return out;
  if (!isPlainObject(filters)) throw new ValidationError('filters', 'must be an object');
  for (const key of Object.keys(filters)) {
    if (!FILTER_KEYS.has(key)) {
      throw new ValidationError(`filters.${key}`, `is not a filter (known: ${[...FILTER_KEYS].join(', ')})`);
    }
  }
  const f = filters as MemoryFilters;
  if (f.memoryType !== undefined) out.memoryTypes = labelList('filters.memoryType', f.memoryType);
  if (f.source !== undefined) out.sources = labelList('filters.source', f.source);
  if (f.metadata !== undefined) out.metadata = checkMetadata('filters.metadata', f.metadata);
  if (f.createdAfter !== undefined) out.createdAfter = instant('filters.createdAfter', f.createdAfter);
  if (f.createdBefore !== undefined) out.createdBefore = instant('filters.createdBefore', f.createdBefore);
  return out;
}

/** Whether any filter is set. */
export function hasFilters(f: CheckedFilters): boolean {
  return Object.values(f).some((v) => v !== undefined);
}

/** BM25 parameters: k1 a finite number ≥ 0, b from 0 to 1. */
export function checkBm25(p: Bm25Parameters): Bm25Parameters {
  if (typeof p.k1 !== 'number' || !Number.isFinite(p.k1) || p.k1 < 0) {
    throw new ValidationError('bm25.k1', `must be a finite number ≥ 0, got ${String(p.k1)}`);
  }
  if (typeof p.b !== 'number' || !Number.isFinite(p.b) || p.b < 0 || p.b > 1) {
    throw new ValidationError('bm25.b', `must be a number from 0 to 1, got ${String(p.b)}`);
  }
  return { k1: p.k1, b: p.b };
}
