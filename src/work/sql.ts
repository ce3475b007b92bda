// Runtime SQL of the work module. The lifecycle functions live in migrations/0003; these
// are the calls into them and the plain reads.

export const SUBMIT = `
SELECT item_id, status, msg_id, merged_into
  FROM animus_work_submit($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8, $9, $10, $11, $12::jsonb)`;

export const SUBMIT_BATCH = `
SELECT ord, item_id, status, msg_id, merged_into
  FROM animus_work_submit_batch($1::text[], $2::text[], $3::text[], $4::text[], $5::jsonb[], $6::jsonb[],
                                $7::int[], $8::int[], $9::int[], $10::timestamptz[], $11::uuid[], $12::jsonb[])`;

export const CLAIM = `SELECT * FROM animus_work_claim($1, $2, $3)`;

export const COMPLETE = `SELECT item_id FROM animus_work_complete($1::uuid[], $2::int[], $3::jsonb[], $4::bigint[])`;

export const FAIL = `SELECT new_state, attempts, max_attempts FROM animus_work_fail($1, $2, $3, $4, $5)`;

export const HEARTBEAT = `
SELECT pgmq.set_vt(w.queue_name, w.pgmq_msg_id, $3) IS NOT NULL AS ok
  FROM work_items w
 WHERE w.id = $1 AND w.state = 'running' AND w.attempts = $2`;

export const CANCEL = `
WITH c AS (
  UPDATE work_items SET state = 'cancelled', resolved_at = now(), updated_at = now()
   WHERE id = $1 AND state = 'queued'
  RETURNING id, queue_name, pgmq_msg_id, work_type, dedup_key
), k AS (
  DELETE FROM work_dedup_keys d USING c
   WHERE d.work_type = c.work_type AND d.dedup_key = c.dedup_key AND d.item_id = c.id
)
SELECT c.id, pgmq.delete(c.queue_name, c.pgmq_msg_id) AS deleted FROM c`;

/** Re-queue a dead or cancelled item (step 1 of 2, in one transaction): attempts reset. */
export const RETRY_RESET = `
UPDATE work_items
   SET state = 'queued', attempts = 0, outcome_error = NULL, resolved_at = NULL, updated_at = now()
 WHERE id = $1 AND state IN ('dead', 'cancelled')
RETURNING id, queue_name, work_type, dedup_key`;

/** Step 1b: a keyed item takes its key again (a unique violation means another item holds it). */
export const RETRY_TAKE_KEY = `INSERT INTO work_dedup_keys (work_type, dedup_key, item_id) VALUES ($1, $2, $3)`;

/** Step 2: a fresh message for the re-queued item. */
export const RETRY_SEND = `
WITH s AS (SELECT pgmq.send($2, jsonb_build_object('id', $1::uuid, 'work_type', $3::text), $4::jsonb, 0) AS msg_id)
UPDATE work_items SET pgmq_msg_id = s.msg_id FROM s
 WHERE id = $1
RETURNING pgmq_msg_id`;

export const STATE_OF = `SELECT state FROM work_items WHERE id = $1`;

const COLUMNS = `id, pgmq_msg_id, queue_name, work_type, dedup_key, source, trigger_info, params, priority, state,
  merged_into, parent_id, attempts, max_attempts, outcome_data, outcome_error, outcome_ms, created_at,
  updated_at, resolved_at`;

export const GET = `SELECT ${COLUMNS} FROM work_items WHERE id = $1`;

export const CHILDREN = `SELECT ${COLUMNS} FROM work_items WHERE parent_id = $1 ORDER BY created_at, id`;

export const MERGED = `SELECT ${COLUMNS} FROM work_items WHERE merged_into = $1 ORDER BY created_at, id`;

/** List with optional filters; NULL parameters mean "any". */
export const LIST = `
SELECT ${COLUMNS} FROM work_items
 WHERE ($1::text[] IS NULL OR state = ANY ($1::text[]))
   AND ($2::text IS NULL OR work_type = $2)
   AND ($3::text IS NULL OR queue_name = $3)
   AND ($4::text IS NULL OR source = $4)
   AND ($5::timestamptz IS NULL OR created_at < $5)
 ORDER BY created_at DESC, id DESC
 LIMIT $6`;

export const STATS = `
SELECT queue_name, state, count(*)::bigint AS n FROM work_items GROUP BY queue_name, state ORDER BY 1, 2`;

export const LIST_QUEUES = `SELECT queue_name FROM pgmq.list_queues()`;
export const CREATE_QUEUE = `SELECT pgmq.create($1)`;
export const METRICS_ALL = `SELECT queue_name, queue_length, queue_visible_length, oldest_msg_age_sec, newest_msg_age_sec, total_messages FROM pgmq.metrics_all()`;
export const ARCHIVE = `SELECT pgmq.archive($1, $2::bigint) AS ok`;
export const DELETE = `SELECT pgmq.delete($1, $2::bigint) AS ok`;
