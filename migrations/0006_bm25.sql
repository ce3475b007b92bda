-- BM25 keyword ranking: the corpus statistics BM25 needs, kept by triggers on `memories`, so
-- every writer (animus's store, update, delete, ingest and re-embed, or plain SQL) keeps them
-- right in its own transaction, and nothing ever rescans the table after this migration.
--
--   memory_lexeme_stats  documents holding each lexeme (document frequency, df)
--   memory_corpus_stats  number of documents, and the sum of their lengths
--
-- A document's length is its number of distinct lexemes, length(tsv): free to read at query
-- time, where a token count would need a stored column computed on every write (see README,
-- "How search works"; on SciFact both give the same nDCG@10 within noise).
--
-- Concurrency: both tables are split into slots. A writing transaction takes a free slot
-- (a transaction-scoped advisory lock) and adds its deltas to that slot's rows only, so
-- concurrent writers do not wait on each other's statistics rows (or deadlock on them) until
-- more than 16 write at once. Readers sum the slots. Counts in one slot can go negative (a
-- delete in another slot than the insert); only the sums mean anything.

-- BM25 reads each candidate's tsvector (term frequencies, length). A row holds a 2 KiB
-- vector kept inline (STORAGE MAIN, migration 0004), so the tsvector was the first thing the
-- toaster moved out of line, making every candidate a TOAST lookup (measured at 100,000
-- memories: keyword p50 28 ms → 11 ms once inline). MAIN keeps it in the row unless the row
-- would not fit a page. Rows stored earlier keep their layout until rewritten
-- (VACUUM FULL memories).
ALTER TABLE memories ALTER COLUMN tsv SET STORAGE MAIN;

CREATE TABLE memory_lexeme_stats (
  lexeme    text NOT NULL,
  slot      smallint NOT NULL,
  documents bigint NOT NULL,
  PRIMARY KEY (lexeme, slot)
) WITH (fillfactor = 70);

CREATE TABLE memory_corpus_stats (
  slot      smallint PRIMARY KEY,
  documents bigint NOT NULL,
  lexemes   bigint NOT NULL
) WITH (fillfactor = 50);

-- The slot of the calling transaction: the first of 16 whose advisory lock (namespace
-- 0x616e6d73, "anms") it holds or can take, starting from one picked by backend pid; when
-- all are taken, it waits for its own. The lock lasts until commit or rollback.
CREATE FUNCTION animus_stats_slot() RETURNS smallint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  start int := pg_backend_pid() % 16;
  s int;
BEGIN
  FOR i IN 0..15 LOOP
    s := (start + i) % 16;
    IF pg_try_advisory_xact_lock(1634626931, s) THEN
      RETURN s;
    END IF;
  END LOOP;
  PERFORM pg_advisory_xact_lock(1634626931, start);
  RETURN start;
END
$$;

-- The statement-level trigger behind every write: the written rows' tsvectors, each with +1
-- (inserted, or the new version of a changed row) or -1 (deleted, or the old version), are
-- summed per lexeme and added to the calling transaction's slot, lexeme rows in lexeme order.
-- Rows whose tsvector did not change (a metadata or embedding update) move nothing. The
-- transition tables differ per event, hence the dynamic statement (planned once per
-- statement, not per row).
CREATE FUNCTION animus_stats_after_write() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  changes text := CASE TG_OP
    WHEN 'INSERT' THEN 'SELECT tsv, 1 AS sign FROM new_rows'
    WHEN 'DELETE' THEN 'SELECT tsv, -1 AS sign FROM old_rows'
    ELSE 'SELECT v.tsv, v.sign FROM old_rows o JOIN new_rows n ON n.id = o.id,
            LATERAL (VALUES (o.tsv, -1), (n.tsv, 1)) AS v(tsv, sign)
          WHERE o.tsv IS DISTINCT FROM n.tsv'
  END;
BEGIN
  EXECUTE format($sql$
    WITH d AS MATERIALIZED (%s),
    slot AS MATERIALIZED (SELECT animus_stats_slot() AS s WHERE EXISTS (SELECT 1 FROM d)),
    lexemes AS (
      INSERT INTO memory_lexeme_stats AS t (lexeme, slot, documents)
      SELECT l.lexeme, slot.s, sum(d.sign)
      FROM d, unnest(tsvector_to_array(d.tsv)) AS l(lexeme), slot
      GROUP BY l.lexeme, slot.s
      HAVING sum(d.sign) <> 0
      ORDER BY l.lexeme
      ON CONFLICT (lexeme, slot) DO UPDATE SET documents = t.documents + excluded.documents)
    INSERT INTO memory_corpus_stats AS c (slot, documents, lexemes)
    SELECT slot.s, sum(d.sign), sum(d.sign * length(d.tsv))
    FROM d, slot
    GROUP BY slot.s
    ON CONFLICT (slot) DO UPDATE
      SET documents = c.documents + excluded.documents, lexemes = c.lexemes + excluded.lexemes
  $sql$, changes);
  RETURN NULL;
END
$$;

CREATE FUNCTION animus_stats_after_truncate() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM memory_lexeme_stats;
  DELETE FROM memory_corpus_stats;
  RETURN NULL;
END
$$;

CREATE TRIGGER memories_stats_insert AFTER INSERT ON memories
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION animus_stats_after_write();
CREATE TRIGGER memories_stats_delete AFTER DELETE ON memories
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION animus_stats_after_write();
CREATE TRIGGER memories_stats_update AFTER UPDATE ON memories
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION animus_stats_after_write();
CREATE TRIGGER memories_stats_truncate AFTER TRUNCATE ON memories
  FOR EACH STATEMENT EXECUTE FUNCTION animus_stats_after_truncate();

-- Recomputes the statistics from the table (repair, or after bulk loads with triggers
-- disabled): one slot, no zero rows. Takes a lock that waits for running writers and
-- holds new ones off until the caller's transaction ends.
CREATE FUNCTION animus_stats_rebuild() RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
  LOCK TABLE memories IN SHARE MODE;
  DELETE FROM memory_lexeme_stats;
  DELETE FROM memory_corpus_stats;
  INSERT INTO memory_lexeme_stats (lexeme, slot, documents)
  SELECT lexeme, 0, count(*) FROM memories, unnest(tsvector_to_array(tsv)) AS lexeme GROUP BY lexeme;
  INSERT INTO memory_corpus_stats (slot, documents, lexemes)
  SELECT 0, count(*), coalesce(sum(length(tsv)), 0) FROM memories;
END
$$;

SELECT animus_stats_rebuild();

-- The query's lexemes with their BM25 weights, rarest first. idf is the non-negative form
-- ln(1 + (N - df + 0.5) / (df + 0.5)); lexemes no memory holds are left out (they match
-- nothing). `selects` marks the lexemes whose documents form the bounded candidate set: the
-- rarest, then the next rarest while their document frequencies add up to at most `budget`
-- (NULL budget: every lexeme, i.e. exhaustive ranking).
CREATE FUNCTION animus_bm25_terms(query text, budget bigint)
RETURNS TABLE (lexeme text, df bigint, idf float8, selects boolean)
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  WITH q AS (
    SELECT l.lexeme, coalesce(sum(s.documents), 0)::bigint AS df
    FROM unnest(tsvector_to_array(to_tsvector('english', query))) AS l(lexeme)
    LEFT JOIN memory_lexeme_stats s ON s.lexeme = l.lexeme
    GROUP BY l.lexeme),
  n AS (SELECT greatest(coalesce(sum(documents), 0), 0)::float8 AS n FROM memory_corpus_stats),
  ranked AS (
    SELECT q.lexeme, q.df, ln(1 + (n.n - q.df + 0.5) / (q.df + 0.5)) AS idf,
      row_number() OVER (ORDER BY q.df, q.lexeme) AS rn,
      sum(q.df) OVER (ORDER BY q.df, q.lexeme) AS running
    FROM q, n
    WHERE q.df > 0)
  SELECT lexeme, df, idf, budget IS NULL OR rn = 1 OR running <= budget
  FROM ranked
  ORDER BY df, lexeme
$$;

-- An OR of the given lexemes as a tsquery (each quoted, so no text is parsed as syntax);
-- NULL for none, which matches nothing.
CREATE FUNCTION animus_lexemes_tsquery(lexemes text[]) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT string_agg('''' || replace(replace(l, '\', '\\'), '''', '''''') || '''', ' | ')::tsquery
  FROM unnest(lexemes) AS l
$$;

-- Average document length (distinct lexemes) of the corpus; 1 when empty.
CREATE FUNCTION animus_bm25_avgdl() RETURNS float8
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN coalesce(sum(documents), 0) > 0 THEN sum(lexemes)::float8 / sum(documents) ELSE 1 END
  FROM memory_corpus_stats
$$;

-- ANALYZE-based candidate bounding is replaced by the exact statistics above, and the OR
-- query by animus_lexemes_tsquery over the lexemes animus_bm25_terms already found.
DROP FUNCTION animus_rare_tsquery(text, float8, int);
DROP FUNCTION animus_or_tsquery(text);
