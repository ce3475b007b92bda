// Synthetic memories for the memory benchmark: clustered unit vectors (so HNSW recall is
// measured on structure, not uniform noise) and Zipf-distributed pseudo-word texts (so
// keyword search sees realistic term frequencies). Row i is generated from i alone, so a
// batch can be produced on demand and every run sees the same data.
import { seeded } from './stats.js';

const SYLLABLES = [
  'ka',
  'lo',
  'mi',
  'ne',
  'ru',
  'sa',
  'ti',
  'vo',
  'ze',
  'pa',
  'do',
  'gu',
  'bi',
  'fe',
  'ho',
  'ja',
];
const VOCAB_SIZE = 5000;
const CLUSTERS = 200;

function word(i: number): string {
  let w = '';
  let n = i + SYLLABLES.length * SYLLABLES.length;
  while (n > 0) {
    w += SYLLABLES[n % SYLLABLES.length];
    n = Math.floor(n / SYLLABLES.length);
  }
  return w;
}

/** The vocabulary, most frequent first. */
export const VOCAB: readonly string[] = Array.from({ length: VOCAB_SIZE }, (_, i) => word(i));
// Zipf weights 1/(rank + 50): no word is as common as a stop word.
const CUMULATIVE = (() => {
  const out = new Float64Array(VOCAB_SIZE);
  let sum = 0;
  for (let r = 0; r < VOCAB_SIZE; r++) {
    sum += 1 / (r + 50);
    out[r] = sum;
  }
  return out.map((v) => v / sum);
})();

function sampleWord(rand: () => number): string {
  const x = rand();
  let lo = 0;
  let hi = VOCAB_SIZE - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (CUMULATIVE[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return VOCAB[lo]!;
}

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
}

function normalise(v: number[]): number[] {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
}

const centroidCache = new Map<string, number[][]>();
function centroids(dims: number): number[][] {
  const key = String(dims);
  if (!centroidCache.has(key)) {
    const rand = seeded(1234);
    centroidCache.set(
      key,
      Array.from({ length: CLUSTERS }, () => normalise(Array.from({ length: dims }, () => gaussian(rand)))),
    );
  }
  return centroidCache.get(key)!;
}

/** A vector near a random cluster centre. */
function clustered(rand: () => number, dims: number, spread: number): number[] {
  const c = centroids(dims)[Math.floor(rand() * CLUSTERS)]!;
  return normalise(c.map((x) => x + gaussian(rand) * spread));
}

/** Row i of the synthetic data set. */
export function syntheticMemory(
  i: number,
  dims: number,
): { content: string; memoryType: string; source: string; embedding: number[] } {
  const rand = seeded(i * 7919 + 17);
  const words = 20 + Math.floor(rand() * 21);
  const content = Array.from({ length: words }, () => sampleWord(rand)).join(' ');
  return {
    content: `${content} m${i}`,
    // 1% of rows are 'rare': the selectivity of the filtered-search measurement.
    memoryType: i % 100 === 42 ? 'rare' : 'common',
    source: `source-${i % 20}`,
    embedding: clustered(rand, dims, 0.06),
  };
}

/** Query q: a vector near a cluster and 4–8 words. */
export function syntheticQuery(q: number, dims: number): { text: string; embedding: number[] } {
  const rand = seeded(q * 104729 + 99);
  const words = 4 + Math.floor(rand() * 5);
  return {
    text: Array.from({ length: words }, () => sampleWord(rand)).join(' '),
    embedding: clustered(rand, dims, 0.06),
  };
}
