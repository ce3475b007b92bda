// Runtime SQL of the memory module, as named constants. Every statement takes the five
// filter parameters at $1..$5 (NULL = not filtering) so the text never changes with the
// filters; pg plans unnamed statements with the actual values, so unused filters fold away.

/** Columns of a memory row, as `m.*` minus the embeddings and tsvector. */
const COLUMNS = 'm.id, m.content, m.memory_type, m.source, m.metadata, m.created_at, m.updated_at';

/** $1 memory types, $2 sources, $3 metadata containment, $4 created ≥, $5 created <. */
const FILTERS = `($1::text[] IS NULL OR m.memory_type = ANY ($1::text[]))
  AND ($2::text[] IS NULL OR m.source = ANY ($2::text[]))
  AND ($3::jsonb IS NULL OR m.metadata @> $3::jsonb)
  AND ($4::timestamptz IS NULL OR m.created_at >= $4::timestamptz)
  AND ($5::timestamptz IS NULL OR m.created_at < $5::timestamptz)`;

/**
 * Per-session search settings: iterative HNSW scans keep a filtered search going until it
 * has `limit` rows (relaxed order, so results are re-sorted by distance outside).
 */
export const SEARCH_SESSION_SETTINGS = `SELECT set_config('hnsw.iterative_scan', 'relaxed_order', $1::boolean),
  set_config('hnsw.ef_search', $2::text, $1::boolean)`;

/** Vector search through the HNSW index. $6 query vector, $7 limit. */
export const VECTOR_SEARCH = `WITH hits AS MATERIALIZED (
  SELECT ${COLUMNS}, m.embedding <=> $6::vector AS distance
  FROM memories m
  WHERE ${FILTERS}
  ORDER BY m.embedding <=> $6::vector
  LIMIT $7)
SELECT * FROM hits ORDER BY distance, id`;

/**
 * Exact vector search (no index: the `+ 0` hides the ordering from pgvector). Used when a
 * filtered index scan came back short, so a filter never hides rows that match.
 */
export const VECTOR_SEARCH_EXACT = `SELECT ${COLUMNS}, m.embedding <=> $6::vector AS distance
FROM memories m
WHERE ${FILTERS}
ORDER BY (m.embedding <=> $6::vector) + 0, m.id
LIMIT $7`;

/** How keyword hits are scored: BM25 (default) or Postgres's ts_rank. */
export type KeywordRanking = 'bm25' | 'ts_rank';

/**
 * The keyword side as CTEs `terms`, `q` and `keyword` (id, score, rank; at most `n` rows):
 * the query's lexemes with their BM25 weights from the write-maintained statistics
 * (`animus_bm25_terms`), then the best `n` candidates (rows holding a selecting lexeme, found
 * through the GIN index) scored over every query lexeme, then — only when the candidates are
 * fewer than `fill` — the best `fill` of the other rows holding any query lexeme, ranked
 * after them, so OR semantics still give `fill` rows when that many match. The fill-up scan
 * is skipped outright (a one-time filter) when the candidates suffice: it ranks every match,
 * so hybrid search fills up to its `limit`, not to its (larger) `candidates`. Parameters:
 * text, candidate budget (NULL = every matching row), `n`, `fill` (≤ n), then k1 and b
 * (BM25) or the normalisation bits (ts_rank).
 *
 * BM25: Σ idf · tf · (k1 + 1) / (tf + k1 · (1 − b + b · dl / avgdl)), where tf is the number
 * of positions of the lexeme in the memory's tsvector (found by marking the query's lexemes
 * with weight A and keeping only those), dl = length(tsv) (distinct lexemes) and avgdl its
 * corpus mean.
 */
function keywordCtes(
  ranking: KeywordRanking,
  p: { text: string; budget: string; n: string; fill: string; a: string; b?: string },
): string {
  // BM25: one scalar subquery per candidate over its (few) query lexemes; a lexeme's idf is
  // found by its position in the sorted lexeme array (no join per row).
  const score =
    ranking === 'bm25'
      ? `(SELECT sum(q.idfs[array_position(q.lexemes, f.lexeme)] * tf.n * (${p.a}::float8 + 1)
        / (tf.n + ${p.a}::float8 * (1 - ${p.b}::float8 + ${p.b}::float8 * length(m.tsv) / q.avgdl)))
      FROM unnest(ts_filter(setweight(m.tsv, 'A', q.lexemes), '{a}')) AS f,
        LATERAL (SELECT coalesce(array_length(f.positions, 1), 1)::float8 AS n) AS tf)`
      : `ts_rank(m.tsv, q.every, ${p.a}::int)`;
  return `terms AS MATERIALIZED (SELECT * FROM animus_bm25_terms(${p.text}::text, ${p.budget}::bigint)),
q AS MATERIALIZED (
  SELECT array_agg(lexeme ORDER BY lexeme) AS lexemes,
    array_agg(idf ORDER BY lexeme) AS idfs,
    animus_lexemes_tsquery(array_agg(lexeme)) AS every,
    CASE WHEN min(df) > ${p.budget}::bigint AND count(*) > 1
      -- Even the rarest lexeme is in more memories than the budget: candidates must also
      -- hold another query lexeme (a memory sharing one common word scores low anyway).
      THEN animus_lexemes_tsquery((array_agg(lexeme ORDER BY df, lexeme))[1:1])
        && animus_lexemes_tsquery((array_agg(lexeme ORDER BY df, lexeme))[2:])
      ELSE animus_lexemes_tsquery(array_agg(lexeme) FILTER (WHERE selects))
    END AS selecting,
    animus_bm25_avgdl() AS avgdl
  FROM terms),
keyword_candidates AS MATERIALIZED (
  SELECT m.id, ${score} AS score
  FROM memories m CROSS JOIN q
  WHERE m.tsv @@ (SELECT selecting FROM q) AND ${FILTERS}
  ORDER BY 2 DESC, 1 LIMIT ${p.n}),
keyword_fill AS (
  SELECT m.id, ${score} AS score
  FROM memories m CROSS JOIN q
  WHERE (SELECT count(*) FROM keyword_candidates) < ${p.fill}
    AND m.tsv @@ (SELECT every FROM q) AND NOT m.tsv @@ (SELECT selecting FROM q) AND ${FILTERS}
  ORDER BY 2 DESC, 1 LIMIT ${p.fill}),
keyword AS MATERIALIZED (
  SELECT id, score, row_number() OVER (ORDER BY part, score DESC, id) AS rank
  FROM (SELECT id, score, 1 AS part FROM keyword_candidates
        UNION ALL SELECT id, score, 2 AS part FROM keyword_fill) AS parts
  ORDER BY rank LIMIT ${p.n})`;
}

/**
 * Keyword search: the `keyword` CTEs with n = limit. $6 text, $7 limit, $8 candidate budget,
 * $9/$10 k1 and b (BM25) or $9 normalisation (ts_rank).
 */
export function textSearch(ranking: KeywordRanking): string {
  return `WITH ${keywordCtes(ranking, { text: '$6', budget: '$8', n: '$7', fill: '$7', a: '$9', b: '$10' })}
SELECT ${COLUMNS}, k.score
FROM keyword k JOIN memories m ON m.id = k.id
ORDER BY k.rank`;
}

/**
 * Hybrid search in one statement: `candidates` from each side, fused by weighted reciprocal
 * rank, score = wv / (k + vector_rank) + wk / (k + keyword_rank), a missing side adding 0.
 * $6 vector, $7 text, $8 candidates, $9 limit, $10 wv, $11 wk, $12 k, $13 keyword candidate
 * budget, $14/$15 k1 and b (BM25) or $14 normalisation (ts_rank).
 */
export function hybridSearch(ranking: KeywordRanking): string {
  return `WITH dense AS MATERIALIZED (
  SELECT m.id, m.embedding <=> $6::vector AS distance
  FROM memories m
  WHERE ${FILTERS}
  ORDER BY m.embedding <=> $6::vector
  LIMIT $8),
dense_ranked AS (
  SELECT id, distance, row_number() OVER (ORDER BY distance, id) AS rank FROM dense),
${keywordCtes(ranking, { text: '$7', budget: '$13', n: '$8', fill: '$9', a: '$14', b: '$15' })},
fused AS (
  SELECT coalesce(d.id, s.id) AS id,
    coalesce($10::float8 / ($12::float8 + d.rank), 0) + coalesce($11::float8 / ($12::float8 + s.rank), 0) AS fused_score,
    d.rank AS vector_rank, 1 - d.distance AS vector_score,
    s.rank AS keyword_rank, s.score AS keyword_score
  FROM dense_ranked d FULL JOIN keyword s ON s.id = d.id
  ORDER BY fused_score DESC, id
  LIMIT $9)
SELECT ${COLUMNS}, f.fused_score, f.vector_rank, f.vector_score, f.keyword_rank, f.keyword_score
FROM fused f JOIN memories m ON m.id = f.id
ORDER BY f.fused_score DESC, m.id`;
}

/** Count of memories matching the filters. */
export const COUNT = `SELECT count(*)::bigint AS n FROM memories m WHERE ${FILTERS}`;

/** Which identities already exist. $1 hashes (hex), $2 types, $3 sources (NULL allowed). */
export const FIND_EXISTING = `SELECT m.id, i.ord::int AS ord
FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS i(hash, memory_type, source, ord)
JOIN memories m ON m.content_hash = decode(i.hash, 'hex')
  AND m.memory_type = i.memory_type
  AND coalesce(m.source, '') = coalesce(i.source, '')`;

/** Bulk insert; an identity already present is skipped (and found by FIND_EXISTING). */
export const INSERT_MEMORIES = `INSERT INTO memories (content, memory_type, source, metadata, content_hash, embedding)
SELECT c, t, s, md, decode(h, 'hex'), e
FROM unnest($1::text[], $2::text[], $3::text[], $4::jsonb[], $5::text[], $6::vector[]) AS i(c, t, s, md, h, e)
ON CONFLICT (content_hash, memory_type, (coalesce(source, ''))) DO NOTHING
RETURNING id, encode(content_hash, 'hex') AS hash, memory_type, source`;

/** One memory by id. */
export const GET_MEMORY = `SELECT ${COLUMNS} FROM memories m WHERE m.id = $1::uuid`;

/** One memory with its stored embedding. */
export const GET_EMBEDDING = `SELECT m.embedding FROM memories m WHERE m.id = $1::uuid`;

/**
 * Update: NULL keeps a field; a new content comes with its hash and embedding, and clears a
 * pending re-embedding so `reembed` picks the row up again. $6 says whether source is set.
 */
export const UPDATE_MEMORY = `UPDATE memories m SET
  content = coalesce($2::text, m.content),
  content_hash = coalesce(decode($3::text, 'hex'), m.content_hash),
  embedding = coalesce($4::vector, m.embedding),
  embedding_next = CASE WHEN $4::vector IS NULL THEN m.embedding_next END,
  memory_type = coalesce($5::text, m.memory_type),
  source = CASE WHEN $6::boolean THEN $7::text ELSE m.source END,
  metadata = coalesce($8::jsonb, m.metadata),
  updated_at = now()
WHERE m.id = $1::uuid
RETURNING ${COLUMNS}`;

/** Delete by ids. */
export const DELETE_MEMORIES = `DELETE FROM memories WHERE id = ANY ($1::uuid[])`;
