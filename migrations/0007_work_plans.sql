-- Claims and completions reach their items by primary key, whatever the statistics say.
-- Once most of work_items is completed, ANALYZE finds `queued` and `running` rare, and with
-- those estimates the planner chose plans that grow with the table or with the square of the
-- batch (seen on PostgreSQL 15 with 100,000-300,000 rows, analyzed while nothing ran):
--   * completion: a sequential scan of work_items on the inside of a nested loop over the
--     batch, so each completion of 500 items read the whole table;
--   * claim: the rows found by `id = ANY (ids)` (estimated at one) on the outside of a nested
--     loop over the batch's messages, parsing each message's item id once per pair
--     (500 × 500 times).
-- Each took a batch of 500 from a few milliseconds to 60-160 ms, and the queue benchmark's
-- batched processing from about 30,000 to about 3,500 items a second, for the rest of the run.
-- Now the claim parses each batch's item ids once, into an array, and joins the batch to
-- work_items on the primary key alone, and both functions plan without sequential scans
-- (function-level `SET`, restored when they return): the plan left is one primary-key lookup
-- per item of the batch. Everything else about them is as in 0003.

CREATE OR REPLACE FUNCTION animus_work_claim(p_queue text, p_vt integer, p_qty integer)
RETURNS SETOF animus_claimed_item
LANGUAGE plpgsql
SET enable_seqscan = off
AS $fn$
DECLARE
  v_ids uuid[];
  v_msg_ids bigint[];
  v_read_cts integer[];
  v_headers jsonb[];
  v_done bigint[] := '{}';
  v_dead_types text[] := '{}';
  v_dead_keys text[] := '{}';
  v_dead_ids uuid[] := '{}';
  r animus_claimed_item;
BEGIN
  SELECT array_agg((x.message ->> 'id')::uuid), array_agg(x.msg_id), array_agg(x.read_ct),
         array_agg(x.headers)
    INTO v_ids, v_msg_ids, v_read_cts, v_headers
    FROM pgmq.read(p_queue, p_vt, p_qty) AS x;
  IF v_msg_ids IS NULL THEN
    RETURN;
  END IF;
  FOR r IN
    UPDATE work_items w
       SET state = CASE WHEN m.read_ct > w.max_attempts THEN 'dead' ELSE 'running' END,
           attempts = CASE WHEN m.read_ct > w.max_attempts THEN w.attempts ELSE w.attempts + 1 END,
           outcome_error = CASE WHEN m.read_ct > w.max_attempts
             THEN format('delivered %s times without being settled (workers crashed or timed out); max_attempts is %s',
                         m.read_ct - 1, w.max_attempts)
             ELSE w.outcome_error END,
           resolved_at = CASE WHEN m.read_ct > w.max_attempts THEN now() ELSE NULL END,
           updated_at = now()
      FROM unnest(v_ids, v_msg_ids, v_read_cts, v_headers) AS m(item_id, msg_id, read_ct, headers)
     WHERE w.id = m.item_id AND (w.state IN ('queued', 'running')) IS TRUE
    RETURNING w.id, w.queue_name, w.work_type, w.dedup_key, w.source, w.trigger_info, w.params,
              w.priority, w.state, w.parent_id, w.attempts, w.max_attempts, w.created_at,
              m.msg_id, m.read_ct, m.headers
  LOOP
    IF r.state = 'running' THEN
      v_done := v_done || r.msg_id;
      RETURN NEXT r;
    ELSIF r.dedup_key IS NOT NULL THEN
      v_dead_types := v_dead_types || r.work_type;
      v_dead_keys := v_dead_keys || r.dedup_key;
      v_dead_ids := v_dead_ids || r.id;
    END IF;
  END LOOP;
  IF cardinality(v_dead_ids) > 0 THEN
    PERFORM animus_work_release_keys(v_dead_types, v_dead_keys, v_dead_ids);
  END IF;
  -- Everything read but not claimed (dead now, or its item already ended) leaves the queue.
  IF cardinality(v_done) < cardinality(v_msg_ids) THEN
    PERFORM pgmq.archive(p_queue, ARRAY(
      SELECT x.msg_id FROM unnest(v_msg_ids) AS x(msg_id) WHERE NOT (x.msg_id = ANY (v_done))));
  END IF;
END
$fn$;

-- The completion's statements stay as 0003 wrote them: without sequential scans its join
-- over the batch has one plan left, a primary-key lookup per item.
ALTER FUNCTION animus_work_complete(uuid[], integer[], jsonb[], bigint[]) SET enable_seqscan = off;
