// LangChain's VectorStore over animus memories, so chains and retrievers use animus
// directly. A Document maps to a memory: pageContent ↔ content, metadata ↔ metadata, with
// the memory type (and source) taken from options or from reserved metadata keys.
import { Document, type DocumentInterface } from '@langchain/core/documents';
import type { EmbeddingsInterface } from '@langchain/core/embeddings';
import { VectorStore } from '@langchain/core/vectorstores';
import type { MemoryStore } from './memory-store.js';
import type { Memory, MemoryEntry, MemoryFilters } from './types.js';

/** Options of {@link AnimusVectorStore}. */
export interface AnimusVectorStoreOptions {
  /** Memory type of added documents without a `memoryType` metadata key. Default `semantic`. */
  memoryType?: string;
  /** Source of added documents without a `source` metadata key. Default none. */
  source?: string;
}

/** Turns a memory into a LangChain Document (id, content, metadata + type/source/createdAt). */
export function memoryToDocument(memory: Memory): Document {
  return new Document({
    id: memory.id,
    pageContent: memory.content,
    metadata: {
      ...memory.metadata,
      memoryType: memory.memoryType,
      source: memory.source,
      createdAt: memory.createdAt.toISOString(),
    },
  });
}

/**
 * A LangChain `VectorStore` backed by a {@link MemoryStore}. Filters are animus
 * {@link MemoryFilters}; scores are cosine similarities (higher is closer).
 */
export class AnimusVectorStore extends VectorStore {
  declare FilterType: MemoryFilters;
  readonly memories: MemoryStore;
  readonly #memoryType: string;
  readonly #source: string | undefined;

  constructor(memories: MemoryStore, options: AnimusVectorStoreOptions = {}) {
    super(memories.embeddings as EmbeddingsInterface, {});
    this.memories = memories;
    this.#memoryType = options.memoryType ?? 'semantic';
    this.#source = options.source;
  }

  override _vectorstoreType(): string {
    return 'animus';
  }

  #entry(doc: DocumentInterface, embedding?: number[]): MemoryEntry {
    const {
      memoryType,
      source,
      createdAt: _createdAt,
      ...metadata
    } = (doc.metadata ?? {}) as Record<string, unknown>;
    const entry: MemoryEntry = {
      content: doc.pageContent,
      memoryType: typeof memoryType === 'string' ? memoryType : this.#memoryType,
      metadata,
    };
    const src = typeof source === 'string' ? source : this.#source;
    if (src !== undefined) entry.source = src;
    if (embedding !== undefined) entry.embedding = embedding;
    return entry;
  }

  /** Stores documents with precomputed vectors; returns the memory ids. */
  override async addVectors(vectors: number[][], documents: DocumentInterface[]): Promise<string[]> {
    const stored = await this.memories.store(documents.map((d, i) => this.#entry(d, vectors[i])));
    return stored.map((s) => s.id);
  }

  /** Stores documents (embedded by the memory store); returns the memory ids. */
  override async addDocuments(documents: DocumentInterface[]): Promise<string[]> {
    const stored = await this.memories.store(documents.map((d) => this.#entry(d)));
    return stored.map((s) => s.id);
  }

  override async similaritySearchVectorWithScore(
    query: number[],
    k: number,
    filter?: MemoryFilters,
  ): Promise<[DocumentInterface, number][]> {
    const hits = await this.memories.search(query, {
      limit: k,
      ...(filter === undefined ? {} : { filters: filter }),
    });
    return hits.map((h) => [memoryToDocument(h.memory), h.score]);
  }

  /** Deletes memories by id. */
  override async delete(params: { ids: string[] }): Promise<void> {
    await this.memories.delete(params.ids);
  }

  /** Not supported: build a MemoryStore first, then `new AnimusVectorStore(store)`. */
  static override fromTexts(): Promise<VectorStore> {
    return Promise.reject(
      new Error('AnimusVectorStore.fromTexts: construct it with new AnimusVectorStore(memoryStore)'),
    );
  }
}
