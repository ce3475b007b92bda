// JSON schemas of the HTTP API's requests: Fastify validates every request against them
// before a handler runs (so bad input never reaches the database), and @fastify/swagger
// publishes them as the OpenAPI document. Unknown fields are rejected, not dropped.

const workState = {
  type: 'string',
  enum: ['queued', 'running', 'completed', 'dead', 'cancelled', 'merged'],
} as const;

const shortText = (description: string) =>
  ({ type: 'string', minLength: 1, maxLength: 512, description }) as const;

/** Path parameter `:id` of a work item. */
export const workIdParams = {
  type: 'object',
  required: ['id'],
  additionalProperties: false,
  properties: { id: { type: 'string', format: 'uuid', description: 'Work item id' } },
} as const;

/** `POST /v1/work`. */
export const submitWorkBody = {
  type: 'object',
  required: ['workType', 'source'],
  additionalProperties: false,
  properties: {
    queue: {
      type: 'string',
      pattern: '^[a-zA-Z_][a-zA-Z0-9_]*$',
      maxLength: 47,
      description: 'pgmq queue (default `work`)',
    },
    workType: shortText('Kind of work; selects the handler, e.g. `memory.ingest`'),
    dedupKey: shortText('While an item with this (workType, dedupKey) is active, submits merge into it'),
    source: shortText('Where the work came from (provenance)'),
    triggerInfo: { description: 'Details of the trigger, kept as provenance (any JSON)' },
    params: { description: 'Handler input (any JSON, default {})' },
    priority: { type: 'integer', minimum: -1000, maximum: 1000 },
    maxAttempts: { type: 'integer', minimum: 1, maximum: 100 },
    delaySeconds: { type: 'integer', minimum: 0, maximum: 31_536_000 },
    parentId: { type: 'string', format: 'uuid' },
  },
} as const;

/** `GET /v1/work` query string. */
export const listWorkQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    state: workState,
    workType: shortText('Only this work type'),
    queue: { type: 'string', maxLength: 47 },
    source: shortText('Only items from this source'),
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    before: { type: 'string', format: 'date-time', description: 'Only items created before this time' },
  },
} as const;

const metadata = {
  type: 'object',
  description: 'Free-form JSON object stored with the memory',
} as const;

/** One entry of `POST /v1/memories`. */
const memoryEntry = {
  type: 'object',
  required: ['content'],
  additionalProperties: false,
  properties: {
    content: { type: 'string', minLength: 1, maxLength: 100_000 },
    memoryType: { type: 'string', minLength: 1, maxLength: 64, default: 'semantic' },
    source: shortText('Where the memory came from'),
    metadata,
  },
} as const;

/** `POST /v1/memories`: store memories now (embedded synchronously). */
export const storeMemoriesBody = {
  type: 'object',
  required: ['memories'],
  additionalProperties: false,
  properties: {
    memories: { type: 'array', minItems: 1, maxItems: 256, items: memoryEntry },
  },
} as const;

/** `POST /v1/memories/search`. */
export const searchMemoriesBody = {
  type: 'object',
  required: ['query'],
  additionalProperties: false,
  properties: {
    query: { type: 'string', minLength: 1, maxLength: 4096 },
    mode: { type: 'string', enum: ['vector', 'text', 'hybrid'], default: 'hybrid' },
    limit: { type: 'integer', minimum: 1, maximum: 100, default: 10 },
    filters: {
      type: 'object',
      additionalProperties: false,
      properties: {
        memoryType: { type: 'string', minLength: 1, maxLength: 64 },
        source: shortText('Only memories from this source'),
        metadata: { ...metadata, description: 'Only memories whose metadata contains this object' },
      },
    },
  },
} as const;

/** The error body every 4xx/5xx carries. */
export const errorResponse = {
  type: 'object',
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      properties: {
        code: { type: 'string' },
        message: { type: 'string' },
        field: { type: 'string' },
      },
    },
  },
} as const;

/** Request body types, as handlers see them after validation. */
export interface SubmitWorkBody {
  queue?: string;
  workType: string;
  dedupKey?: string;
  source: string;
  triggerInfo?: unknown;
  params?: unknown;
  priority?: number;
  maxAttempts?: number;
  delaySeconds?: number;
  parentId?: string;
}

export interface ListWorkQuery {
  state?: string;
  workType?: string;
  queue?: string;
  source?: string;
  limit?: number;
  before?: string;
}

export interface StoreMemoriesBody {
  memories: { content: string; memoryType?: string; source?: string; metadata?: Record<string, unknown> }[];
}

export interface SearchMemoriesBody {
  query: string;
  mode?: 'vector' | 'text' | 'hybrid';
  limit?: number;
  filters?: { memoryType?: string; source?: string; metadata?: Record<string, unknown> };
}
