// The hybrid fusion rule (src/memory/fusion.ts) on a small labelled set of animus's own.
// A strong model: embeddings served by a local OpenAI-compatible server and read through the
// real @langchain/openai client, from a model that knows synonyms (it maps words to concepts)
// but not identifiers (those are noise to it) — so keyword search misses paraphrases, dense
// search misses ticket numbers, and the default fusion for such a model must beat both.
// The local-model rule: keyword order is kept exactly, vector-only hits follow.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/config/index.js';
import { createEmbeddings } from '../../src/llm/index.js';
import { defaultFusion, EQUAL_FUSION, LOCAL_MODEL_FUSION, MemoryStore } from '../../src/memory/index.js';
import { createTestDatabase, type TestDatabase, testKind } from '../support/database.js';
import { fakeEmbedding, type OpenAITestServer, startOpenAIServer } from '../support/openai-server.js';

const DIMS = 64;
const CONCEPTS: string[][] = [
  ['car', 'automobile', 'vehicle'],
  ['doctor', 'physician', 'clinician'],
  ['repair', 'fix', 'mend', 'broken'],
  ['payment', 'invoice', 'bill', 'billing', 'paid'],
  ['password', 'credential', 'login'],
  ['flight', 'airplane', 'plane'],
  ['delay', 'late', 'postponed'],
  ['dog', 'puppy', 'canine'],
  ['food', 'meal', 'dinner'],
  ['storm', 'rain', 'weather'],
  ['appointment', 'visit', 'consultation'],
];
const CONCEPT_OF = new Map(CONCEPTS.flatMap((words, i) => words.map((w) => [w, i] as const)));

/** The "strong" model: concept one-hots for known words, a little per-word noise for every word. */
function strongEmbedding(text: string, dims: number): number[] {
  const v = new Array<number>(dims).fill(0);
  for (const raw of text.toLowerCase().split(/\s+/)) {
    const word = raw.replace(/[^a-z0-9-]/g, '');
    if (word === '') continue;
    const concept = CONCEPT_OF.get(word) ?? CONCEPT_OF.get(word.replace(/s$/, ''));
    if (concept !== undefined) v[concept]! += 1;
    fakeEmbedding(word, dims).forEach((x, i) => (v[i]! += 0.3 * x));
  }
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => x / norm);
}

const DOCS: Record<string, string> = {
  a1: 'The automobile needs a fix at the garage',
  a2: 'Schedule the vehicle inspection for Tuesday',
  a3: 'Physician consultation moved to Friday morning',
  a4: 'Invoice INV-88231 was paid late',
  a5: 'Reset the credential for account ZX-4410',
  a6: 'The plane to Oslo is postponed until noon',
  a7: 'Bought a meal for the puppy',
  a8: 'Rain expected over the weekend',
  a9: 'Billing system outage, ticket T-5521',
  a10: 'Clinician notes about the canine patient',
  d1: 'The fix for the login page shipped',
  d2: 'Dinner plans for Friday',
  d3: 'Garage door opener battery is flat',
  d4: 'Ticket T-5520 closed as duplicate',
  d5: 'Account ZX-4411 created yesterday',
  d6: 'Tuesday team meeting notes',
  d7: 'The garage sale starts at noon',
  d8: 'Oslo office moved to a new floor',
};
const QUERIES: { text: string; relevant: string[] }[] = [
  { text: 'car repair', relevant: ['a1'] },
  { text: 'doctor appointment', relevant: ['a3'] },
  { text: 'late flight', relevant: ['a6'] },
  { text: 'dog food', relevant: ['a7'] },
  { text: 'storm forecast', relevant: ['a8'] },
  { text: 'INV-88231', relevant: ['a4'] },
  { text: 'ticket T-5521', relevant: ['a9'] },
  { text: 'ZX-4410 login', relevant: ['a5'] },
  { text: 'veterinarian notes canine', relevant: ['a10'] },
  { text: 'vehicle inspection Tuesday', relevant: ['a2'] },
];

function ndcgAt10(ranked: string[], relevant: string[]): number {
  let dcg = 0;
  ranked.slice(0, 10).forEach((id, i) => {
    if (relevant.includes(id)) dcg += 1 / Math.log2(i + 2);
  });
  let ideal = 0;
  for (let i = 0; i < Math.min(10, relevant.length); i++) ideal += 1 / Math.log2(i + 2);
  return dcg / ideal;
}

let server: OpenAITestServer;
let db: TestDatabase;
let memories: MemoryStore;
const label = new Map<string, string>();

beforeAll(async () => {
  server = await startOpenAIServer({ defaultDimensions: DIMS });
  server.setEmbedder((text, dims) => strongEmbedding(text, dims));
  db = await createTestDatabase({ embeddingDimensions: DIMS });
  const config = resolveConfig({
    embedding: { provider: 'openai', model: 'strong-embedder', dimensions: DIMS },
    openai: { apiKey: 'sk-test-key', baseUrl: server.url },
  });
  memories = new MemoryStore({ pool: db.pool, embeddings: createEmbeddings(config), dimensions: DIMS });
  const stored = await memories.store(
    Object.values(DOCS).map((content) => ({ content, memoryType: 'note' })),
  );
  Object.keys(DOCS).forEach((key, i) => label.set(stored[i]!.id, key));
}, 120_000);
afterAll(async () => {
  await db?.close();
  await server?.close();
});

describe(`fusion rule (${testKind})`, () => {
  it('a strong model gets equal-weight RRF, and it beats both sides on the labelled set', async () => {
    expect(memories.fusion).toEqual(EQUAL_FUSION);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const dense: number[] = [];
    const keyword: number[] = [];
    const hybrid: number[] = [];
    for (const q of QUERIES) {
      const ids = (hits: { memory: { id: string } }[]) => hits.map((h) => label.get(h.memory.id)!);
      dense.push(ndcgAt10(ids(await memories.search(q.text, { limit: 10 })), q.relevant));
      keyword.push(ndcgAt10(ids(await memories.textSearch(q.text, { limit: 10 })), q.relevant));
      hybrid.push(ndcgAt10(ids(await memories.hybridSearch({ text: q.text, limit: 10 })), q.relevant));
    }
    // Each side fails where it should: keyword on paraphrases, dense on identifiers.
    expect(keyword[0]).toBe(0); // 'car repair': no word in common with a1
    expect(dense[5]).toBeLessThan(1); // 'INV-88231': noise to the model
    expect(keyword[5]).toBe(1);
    expect(mean(hybrid)).toBeGreaterThan(mean(dense));
    expect(mean(hybrid)).toBeGreaterThan(mean(keyword));
  });

  it('the local-model rule keeps the keyword order and appends what only the vector side found', async () => {
    for (const q of QUERIES) {
      const keyword = await memories.textSearch(q.text, { limit: 10 });
      const hybrid = await memories.hybridSearch({ text: q.text, limit: 10, fusion: LOCAL_MODEL_FUSION });
      expect(hybrid.slice(0, keyword.length).map((h) => h.memory.id)).toEqual(
        keyword.map((h) => h.memory.id),
      );
      for (const h of hybrid.slice(keyword.length)) expect(h.keywordRank).toBeNull();
      const vectorOnly = hybrid.slice(keyword.length).map((h) => h.vectorRank!);
      expect(vectorOnly).toEqual([...vectorOnly].sort((a, b) => a - b));
    }
    // The weight is below the smallest keyword rank gap at 1000 candidates (see fusion.ts).
    const { vector, keyword, k } = LOCAL_MODEL_FUSION;
    expect(vector / (k + 1)).toBeLessThan(keyword / ((k + 1000) * (k + 1001)));
    expect(defaultFusion(createEmbeddings(resolveConfig({})))).toEqual(LOCAL_MODEL_FUSION);
  });
});
