// SQL of the service's ingest handler. It reads and prunes one source's memories by the
// `documentHash` the handler writes into their metadata; storing goes through the memory
// store (embedding, dedup), never through here.

/** Versions of a source present now: one row per document hash, with its chunk count. */
export const INGEST_SOURCE_STATE = `
SELECT metadata->>'documentHash' AS document_hash, count(*)::int AS chunks
  FROM memories
 WHERE source = $1 AND memory_type = $2
 GROUP BY 1`;

/** Removes a source's memories from any other version of the document. */
export const INGEST_DELETE_STALE = `
DELETE FROM memories
 WHERE source = $1 AND memory_type = $2
   AND (metadata->>'documentHash') IS DISTINCT FROM $3`;

/** Serialises ingests of one source (and memory type) until the transaction ends. */
export const INGEST_LOCK_SOURCE = 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))';
