-- Work items: one row per submit, with its provenance (source, trigger_info, params) kept
-- even when it is merged into an active item of the same (work_type, dedup_key).
CREATE TABLE work_items (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  pgmq_msg_id   bigint,
  queue_name    text NOT NULL,
  work_type     text NOT NULL CHECK (work_type <> ''),
  dedup_key     text,
  source        text NOT NULL CHECK (source <> ''),
  trigger_info  jsonb,
  params        jsonb NOT NULL DEFAULT '{}'::jsonb,
  priority      integer NOT NULL DEFAULT 0,
  state         text NOT NULL DEFAULT 'queued'
                CHECK (state IN ('queued', 'running', 'completed', 'dead', 'cancelled', 'merged')),
  merged_into   uuid REFERENCES work_items (id),
  parent_id     uuid REFERENCES work_items (id),
  attempts      integer NOT NULL DEFAULT 0,
  max_attempts  integer NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
  outcome_data  jsonb,
  outcome_error text,
  outcome_ms    bigint,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  resolved_at   timestamptz,
  CHECK ((state = 'merged') = (merged_into IS NOT NULL))
);

-- Structural dedup, enforced by the database: at most one active item per key.
CREATE UNIQUE INDEX work_items_active_dedup
  ON work_items (work_type, dedup_key)
  WHERE dedup_key IS NOT NULL AND state IN ('queued', 'running');

CREATE INDEX work_items_queue_msg ON work_items (queue_name, pgmq_msg_id);
CREATE INDEX work_items_state_created ON work_items (state, created_at);
CREATE INDEX work_items_parent ON work_items (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX work_items_merged_into ON work_items (merged_into) WHERE merged_into IS NOT NULL;
