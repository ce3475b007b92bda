// The bundled offline model: loads from the package (no network), gives 512-dimension
// vectors, batches, and ranks a paraphrase above an unrelated sentence.
import { describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { createEmbeddings, LOCAL_DIMENSIONS, LocalEmbeddings } from '../../src/llm/index.js';
import { cosineDistance } from '../memory/fake-embeddings.js';

describe('local embeddings (Universal Sentence Encoder Lite)', () => {
  it('is the default and ranks a paraphrase above an unrelated sentence', async () => {
    const embeddings = createEmbeddings(resolveConfig({}));
    expect(embeddings).toBeInstanceOf(LocalEmbeddings);
    const [query, paraphrase, unrelated] = await embeddings.embedDocuments([
      'How do I reset my password?',
      'What are the steps to change my login password?',
      'The volcano erupted last night, covering the village in ash.',
    ]);
    expect(query).toHaveLength(LOCAL_DIMENSIONS);
    expect(cosineDistance(query!, paraphrase!)).toBeLessThan(cosineDistance(query!, unrelated!));
  });

  it('batches without changing results, and embeds queries like documents', async () => {
    const texts = Array.from({ length: 7 }, (_, i) => `sentence ${i} about gardens and rivers`);
    const small = new LocalEmbeddings({ batchSize: 3 });
    const big = new LocalEmbeddings({ batchSize: 64 });
    const a = await small.embedDocuments(texts);
    const b = await big.embedDocuments(texts);
    expect(a).toHaveLength(7);
    for (let i = 0; i < 7; i++) expect(cosineDistance(a[i]!, b[i]!)).toBeLessThan(1e-4);
    const q = await small.embedQuery(texts[4]!);
    expect(cosineDistance(q, a[4]!)).toBeLessThan(1e-4);
    expect(await small.embedDocuments([])).toEqual([]);
  });
});
