// How hybrid search weighs its two sides: weighted reciprocal-rank fusion, a memory scoring
// Σ weight / (k + rank) over the sides that ranked it. The weights follow one rule, set by
// which embedding model is configured (not tuned on an evaluation split):
//
// - A strong embedding model (any provider's model other than the bundled one): equal-weight
//   RRF with k = 60 (Cormack, Clarke and Büttcher, 2009). Both sides vote; a memory both
//   rank well wins. Tested on a labelled set of animus's own through the OpenAI-compatible
//   path (test/memory/fusion-rule.test.ts), where it beats both sides.
// - The bundled Universal Sentence Encoder Lite: keyword first. It is far weaker than BM25
//   on retrieval (SciFact dev nDCG@10 0.21 against 0.69), so equal votes would let it pull
//   good keyword hits down (equal RRF: 0.49). Its weight is made too small ever to reorder
//   two keyword hits: the largest vector contribution, wv / (k + 1), stays below the
//   smallest gap between adjacent keyword ranks, wk / ((k + C)(k + C + 1)), for every
//   candidate count C up to 1000. So the keyword ranking comes first, unchanged, and memories
//   only the vector side found (a paraphrase with no word in common) follow in vector order:
//   hybrid is never worse than keyword alone and still recalls what keywords miss.
import type { Embeddings } from '@langchain/core/embeddings';
import { LOCAL_MODEL, LocalEmbeddings } from '../llm/index.js';
import type { FusionWeights } from './types.js';

/** Equal-weight RRF with the usual k = 60: the default for strong embedding models. */
export const EQUAL_FUSION: FusionWeights = { vector: 1, keyword: 1, k: 60 };

/** Largest candidate count the keyword-first weight is derived for (hybrid's maximum). */
const MAX_CANDIDATES = 1000;

/**
 * Keyword first, for the bundled local model: wv = wk · (k + 1) / ((k + C)(k + C + 1)) / 2
 * with C = 1000, half the largest weight that cannot reorder keyword hits.
 */
export const LOCAL_MODEL_FUSION: FusionWeights = {
  vector: (60 + 1) / ((60 + MAX_CANDIDATES) * (60 + MAX_CANDIDATES + 1)) / 2,
  keyword: 1,
  k: 60,
};

/**
 * The default fusion for an embeddings implementation: keyword first for the bundled local
 * model, directly or behind a wrapper (e.g. tracing) that exposes `model`; equal RRF otherwise.
 */
export function defaultFusion(embeddings: Embeddings): FusionWeights {
  const model = (embeddings as { model?: unknown }).model;
  return embeddings instanceof LocalEmbeddings || model === LOCAL_MODEL ? LOCAL_MODEL_FUSION : EQUAL_FUSION;
}

/** A side's contribution: `weight / (k + rank)`, or 0 when the side did not rank it. */
export function reciprocalRank(rank: number | null, weight: number, k: number): number {
  return rank === null ? 0 : weight / (k + rank);
}
