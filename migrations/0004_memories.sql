-- Memories: content, an embedding of the configured dimension, and a generated tsvector
-- for keyword search. The dimension is recorded so every start can check it.
-- `embedding_next` (any dimension) holds re-embedded vectors while `animus memory reembed`
-- runs; the final swap makes it the new `embedding` column.
CREATE TABLE memories (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  content        text NOT NULL CHECK (btrim(content) <> ''),
  memory_type    text NOT NULL CHECK (memory_type <> ''),
  source         text,
  metadata       jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(metadata) = 'object'),
  content_hash   bytea NOT NULL,
  embedding      vector({{embedding_dimensions}}) NOT NULL,
  embedding_next vector,
  tsv            tsvector GENERATED ALWAYS AS (to_tsvector('english', content)) STORED,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);

-- A 512-dimension vector (2 KiB) is just over the TOAST threshold: stored out of line, the
-- planner would cost a sequential scan by the main table alone, pick it over HNSW, and pay
-- for detoasting every row. MAIN keeps vectors inline (out of line only as a last resort).
ALTER TABLE memories ALTER COLUMN embedding SET STORAGE MAIN, ALTER COLUMN embedding_next SET STORAGE MAIN;

-- Idempotent store: the same content, type and source is stored once.
CREATE UNIQUE INDEX memories_identity ON memories (content_hash, memory_type, (coalesce(source, '')));
CREATE INDEX memories_embedding_hnsw ON memories USING hnsw (embedding vector_cosine_ops);
CREATE INDEX memories_tsv ON memories USING gin (tsv);
CREATE INDEX memories_metadata ON memories USING gin (metadata jsonb_path_ops);
CREATE INDEX memories_type_created ON memories (memory_type, created_at);
CREATE INDEX memories_source ON memories (source) WHERE source IS NOT NULL;
CREATE INDEX memories_created ON memories (created_at);

-- Keyword queries are whole sentences: AND semantics would match almost nothing, so the
-- query becomes an OR of its English lexemes. Each lexeme is quoted for tsquery input
-- (backslash and quote escaped), so no query text is ever parsed as tsquery syntax.
CREATE FUNCTION animus_or_tsquery(query text) RETURNS tsquery
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT coalesce(
    string_agg('''' || replace(replace(lexeme, '\', '\\'), '''', '''''') || '''', ' | ')::tsquery,
    ''::tsquery)
  FROM unnest(tsvector_to_array(to_tsvector('english', query))) AS lexeme
$$;

-- The keyword candidate set, bounded: an OR of only the query's rarer lexemes (document
-- frequency at most max_freq, from ANALYZE's most-common-element statistics of `tsv`;
-- lexemes not listed there are rarer than every listed one), plus the min_terms rarest
-- whatever their frequency. Ranking still uses every lexeme (animus_or_tsquery); this only
-- decides which rows the GIN index hands to ts_rank. Without statistics yet, every lexeme
-- is kept, i.e. the unbounded query.
CREATE FUNCTION animus_rare_tsquery(query text, max_freq float8, min_terms int) RETURNS tsquery
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
  WITH stats AS (
    SELECT most_common_elems::text::text[] AS elems, most_common_elem_freqs AS freqs
    FROM pg_stats
    WHERE schemaname = current_schema() AND tablename = 'memories' AND attname = 'tsv'),
  lexemes AS (
    SELECT lexeme,
      coalesce((SELECT s.freqs[array_position(s.elems, lexeme)] FROM stats s), 0) AS freq
    FROM unnest(tsvector_to_array(to_tsvector('english', query))) AS lexeme),
  picked AS (
    SELECT lexeme FROM lexemes WHERE freq <= max_freq
    UNION
    (SELECT lexeme FROM lexemes ORDER BY freq, lexeme LIMIT min_terms))
  SELECT coalesce(
    string_agg('''' || replace(replace(lexeme, '\', '\\'), '''', '''''') || '''', ' | ')::tsquery,
    ''::tsquery)
  FROM picked
$$;

INSERT INTO animus_settings (key, value) VALUES ('embedding_dimensions', '{{embedding_dimensions}}')
ON CONFLICT (key) DO NOTHING;
