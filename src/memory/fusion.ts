// How hybrid search weighs its two sides. Weighted reciprocal-rank fusion: a memory scores
// Σ weight / (k + rank) over the sides that ranked it. Equal weights only help when both
// sides are comparably good; with the bundled local model keyword ranking is far stronger
// (SciFact nDCG@10 0.21 dense vs 0.65 keyword, equal-weight fusion 0.49), so there the
// dense side gets a weight small enough never to pull a keyword hit down.
import type { Embeddings } from '@langchain/core/embeddings';
import { LOCAL_MODEL, LocalEmbeddings } from '../llm/index.js';
import type { FusionWeights } from './types.js';

/** Equal-weight RRF with the usual k = 60: the default for strong embedding models. */
export const EQUAL_FUSION: FusionWeights = { vector: 1, keyword: 1, k: 60 };

/**
 * Fusion for the bundled Universal Sentence Encoder Lite, from the SciFact dev split
 * (nDCG@10 by vector weight: 0 → 0.648, 0.01 → 0.648, 0.02 → 0.651, 0.05 → 0.636,
 * 0.1 → 0.626, 0.25 → 0.598, 1 → 0.491; standard error ≈ 0.032). 0.01 keeps the keyword
 * order (0.01/61 is below the gap between adjacent keyword ranks) and ranks memories only
 * the vector side found after the keyword hits; 0.02's gain is within noise.
 */
export const LOCAL_MODEL_FUSION: FusionWeights = { vector: 0.01, keyword: 1, k: 60 };

/**
 * The default fusion for an embeddings implementation: the local model's when it is the
 * bundled model, directly or behind a wrapper (e.g. tracing) that exposes `model`.
 */
export function defaultFusion(embeddings: Embeddings): FusionWeights {
  const model = (embeddings as { model?: unknown }).model;
  return embeddings instanceof LocalEmbeddings || model === LOCAL_MODEL ? LOCAL_MODEL_FUSION : EQUAL_FUSION;
}

/** A side's contribution: `weight / (k + rank)`, or 0 when the side did not rank it. */
export function reciprocalRank(rank: number | null, weight: number, k: number): number {
  return rank === null ? 0 : weight / (k + rank);
}
