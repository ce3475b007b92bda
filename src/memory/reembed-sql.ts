// Runtime SQL of the re-embedding (see reembed.ts). The target lives in animus_settings
// under `reembed_target`; per-row progress is `embedding_next IS NOT NULL`.

export const READ_TARGET = `SELECT value FROM animus_settings WHERE key = 'reembed_target'`;

export const WRITE_TARGET = `INSERT INTO animus_settings (key, value) VALUES ('reembed_target', $1)
ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now()`;

/** Serialises concurrent starts. */
export const LOCK_SETTINGS = 'LOCK TABLE animus_settings IN SHARE ROW EXCLUSIVE MODE';

export const CLEAR_NEXT = 'UPDATE memories SET embedding_next = NULL WHERE embedding_next IS NOT NULL';

export const PROGRESS = `SELECT count(*) AS total, count(embedding_next) AS done,
  (SELECT value FROM animus_settings WHERE key = 'embedding_dimensions') AS stored
FROM memories`;

export const NEXT_BATCH = `SELECT id, content, encode(content_hash, 'hex') AS hash
FROM memories WHERE embedding_next IS NULL ORDER BY id LIMIT $1`;

/** Saves vectors only where the content is still the one embedded. */
export const SAVE_BATCH = `UPDATE memories m SET embedding_next = b.v
FROM unnest($1::uuid[], $2::text[], $3::vector[]) AS b(id, hash, v)
WHERE m.id = b.id AND m.content_hash = decode(b.hash, 'hex')`;

export const LOCK_MEMORIES = 'LOCK TABLE memories IN ACCESS EXCLUSIVE MODE';

export const PENDING = 'SELECT count(*) AS pending FROM memories WHERE embedding_next IS NULL';

/** Replaces `embedding` by `embedding_next`, typed `vector(dimensions)`, and rebuilds HNSW. */
export function swapColumns(dimensions: number): string {
  if (!Number.isInteger(dimensions) || dimensions < 1) throw new Error(`bad dimension ${dimensions}`);
  return `DROP INDEX IF EXISTS memories_embedding_hnsw;
ALTER TABLE memories DROP COLUMN embedding;
ALTER TABLE memories RENAME COLUMN embedding_next TO embedding;
ALTER TABLE memories ALTER COLUMN embedding TYPE vector(${dimensions}), ALTER COLUMN embedding SET NOT NULL;
ALTER TABLE memories ADD COLUMN embedding_next vector;
ALTER TABLE memories ALTER COLUMN embedding_next SET STORAGE MAIN;
CREATE INDEX memories_embedding_hnsw ON memories USING hnsw (embedding vector_cosine_ops)`;
}

export const FINISH_SETTINGS = `WITH dims AS (
  INSERT INTO animus_settings (key, value) VALUES ('embedding_dimensions', $1)
  ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = now())
DELETE FROM animus_settings WHERE key = 'reembed_target'`;
