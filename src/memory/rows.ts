// Mapping between `memories` rows and the public types, and the parameter encodings
// shared by the memory SQL (identity hash, filter parameters $1..$5).
import { createHash } from 'node:crypto';
import type { Memory } from './types.js';
import type { CheckedFilters } from './validate.js';

/** A row as selected by the memory SQL. */
export interface MemoryRow {
  id: string;
  content: string;
  memory_type: string;
  source: string | null;
  metadata: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
}

/** Maps a row to the public type. */
export function toMemory(r: MemoryRow): Memory {
  return {
    id: r.id,
    content: r.content,
    memoryType: r.memory_type,
    source: r.source,
    metadata: r.metadata,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** sha256 of the content, hex: the content part of a memory's identity. */
export function contentHash(content: string): string {
  return createHash('sha256').update(content, 'utf8').digest('hex');
}

/** One key per (content, type, source) identity. */
export function identityKey(hash: string, memoryType: string, source: string | null): string {
  return JSON.stringify([hash, memoryType, source ?? '']);
}

/** Checked filters as parameters $1..$5. */
export function filterParams(f: CheckedFilters): unknown[] {
  return [
    f.memoryTypes ?? null,
    f.sources ?? null,
    f.metadata === undefined ? null : JSON.stringify(f.metadata),
    f.createdAfter ?? null,
    f.createdBefore ?? null,
  ];
}
