// What the service and the CLI need from the Animus client, as a structural type: the HTTP
// routes, CLI commands and the ingest handler depend on these few calls only, so `Animus`
// satisfies it and nothing here reaches into the client's internals.
import type { SubmitItem, SubmitResult, WorkFilter } from '../work/types.js';

/** A memory to store. */
export interface MemoryInput {
  content: string;
  memoryType: string;
  source?: string;
  metadata?: Record<string, unknown>;
  /** A precomputed embedding of the configured dimension; omitted = embedded by the store. */
  embedding?: number[];
}

/** Filters accepted by memory searches. */
export interface MemoryFilters {
  memoryType?: string;
  source?: string;
  metadata?: Record<string, unknown>;
}

/** The subset of the Animus client used by `animus serve` and the CLI. */
export interface ServiceClient {
  work: {
    submit(item: SubmitItem): Promise<SubmitResult>;
    get(id: string): Promise<unknown>;
    list(filter: WorkFilter): Promise<unknown[]>;
    retry(id: string): Promise<unknown>;
    cancel(id: string): Promise<unknown>;
    stats(): Promise<unknown>;
  };
  memory: {
    store(entries: MemoryInput[]): Promise<unknown>;
    search(query: string, options: { limit?: number; filters?: MemoryFilters }): Promise<unknown[]>;
    textSearch(query: string, options: { limit?: number; filters?: MemoryFilters }): Promise<unknown[]>;
    hybridSearch(options: { text: string; limit?: number; filters?: MemoryFilters }): Promise<unknown[]>;
    count(): Promise<number>;
  };
  health(): Promise<{ database: { reachable: boolean } }>;
}

/** Search modes offered by the API and the CLI. */
export type SearchMode = 'vector' | 'text' | 'hybrid';

/** One search, in whichever mode. */
export interface SearchRequest {
  query: string;
  mode: SearchMode;
  limit: number;
  filters?: MemoryFilters;
}

/** Runs a search in the asked mode. */
export async function runSearch(client: ServiceClient, request: SearchRequest): Promise<unknown[]> {
  const common = {
    limit: request.limit,
    ...(request.filters === undefined ? {} : { filters: request.filters }),
  };
  switch (request.mode) {
    case 'vector':
      return client.memory.search(request.query, common);
    case 'text':
      return client.memory.textSearch(request.query, common);
    case 'hybrid':
      return client.memory.hybridSearch({ text: request.query, ...common });
  }
}
