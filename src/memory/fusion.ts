// How hybrid search weighs its two sides. Weighted reciprocal-rank fusion: a memory scores
// Σ weight / (k + rank) over the sides that ranked it. Equal weights only help when both
// sides are comparably good; with the bundled local model keyword ranking is far stronger
// (SciFact nDCG@10 0.21 dense vs 0.6 keyword), so the default leans on keywords there.
import type { Embeddings } from '@langchain/core/embeddings';
import { LocalEmbeddings } from '../llm/index.js';
import type { FusionWeights } from './types.js';

/** Equal-weight RRF with the usual k = 60: the default for strong embedding models. */
export const EQUAL_FUSION: FusionWeights = { vector: 1, keyword: 1, k: 60 };

/**
 * Fusion for the bundled Universal Sentence Encoder Lite, chosen on the SciFact dev split
 * (docs/memory.md has the numbers): the dense side mostly breaks ties among keyword hits.
 */
export const LOCAL_MODEL_FUSION: FusionWeights = { vector: 0.25, keyword: 1, k: 60 };

/** The default fusion for an embeddings implementation. */
export function defaultFusion(embeddings: Embeddings): FusionWeights {
  return embeddings instanceof LocalEmbeddings ? LOCAL_MODEL_FUSION : EQUAL_FUSION;
}

/** A side's contribution: `weight / (k + rank)`, or 0 when the side did not rank it. */
export function reciprocalRank(rank: number | null, weight: number, k: number): number {
  return rank === null ? 0 : weight / (k + rank);
}
