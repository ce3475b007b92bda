// Deterministic embeddings for memory tests: a text maps to a fixed unit vector, or to a
// vector the test chose (`set`). Calls are counted; `failWith` makes the provider fail.
import { Embeddings } from '@langchain/core/embeddings';
import { ProviderError } from '../../src/errors/index.js';
import { fakeEmbedding } from '../support/openai-server.js';

export class FakeEmbeddings extends Embeddings {
  readonly provider = 'fake';
  readonly model = 'fake-model';
  readonly vectors = new Map<string, number[]>();
  calls = 0;
  embeddedTexts = 0;
  failWith: Error | undefined;

  constructor(readonly dimensions: number) {
    super({});
  }

  set(text: string, vector: number[]): void {
    this.vectors.set(text, vector);
  }

  override async embedDocuments(texts: string[]): Promise<number[][]> {
    this.calls += 1;
    if (this.failWith !== undefined) throw this.failWith;
    this.embeddedTexts += texts.length;
    return texts.map((t) => this.vectors.get(t) ?? fakeEmbedding(t, this.dimensions));
  }

  override async embedQuery(text: string): Promise<number[]> {
    return (await this.embedDocuments([text]))[0]!;
  }

  static providerDown(): ProviderError {
    return new ProviderError('fake', 'fake-model', 'connection refused', { retryable: true });
  }
}

/** The seeded generator the benchmarks use, so test data sets are the same every run. */
export { seeded } from '../../bench/lib/stats.js';

/** A random unit vector. */
export function randomUnit(rand: () => number, dims: number): number[] {
  const v = Array.from({ length: dims }, () => rand() * 2 - 1);
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

/** Cosine distance of two vectors. */
export function cosineDistance(a: number[], b: number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return 1 - dot / Math.sqrt(na * nb);
}
