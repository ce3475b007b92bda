// Embeddings for benchmarks that bring their own vectors: any call means the benchmark
// measured the wrong thing (embedding instead of storage), so it fails loudly.
import { Embeddings } from '@langchain/core/embeddings';

export class PrecomputedOnly extends Embeddings {
  constructor(readonly dimensions: number) {
    super({});
  }

  override embedDocuments(): Promise<number[][]> {
    return Promise.reject(new Error('benchmark embeddings: vectors must be precomputed'));
  }

  override embedQuery(): Promise<number[]> {
    return Promise.reject(new Error('benchmark embeddings: vectors must be precomputed'));
  }
}
