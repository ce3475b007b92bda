-- animus:requires-extension vector
-- pgvector for the memories' embedding column. pgmq is its own step (0002) because it is
-- either the real extension or animus's compatible schema.
CREATE EXTENSION IF NOT EXISTS vector;
