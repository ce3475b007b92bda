// Changes proposed to the lead for migrations/0003_work_items.sql, as SQL the benchmark can
// apply to its own scratch database (ANIMUS_BENCH_PROPOSED=1) to measure them before anyone
// edits the migration. Signatures are unchanged, so the work module calls them as it is.

/**
 * The claim reaches work_items through the primary key (`w.id = ANY(ids)`), and its state test
 * is written as `(…) IS TRUE` so the planner cannot answer it from work_items_state_created:
 * with statistics that lag a burst of submits it picks a bitmap scan of that index, which visits
 * every queued/running item of every queue on each claim. Only the WHERE clause (and the id
 * array) differ from animus_work_claim in migrations/0003 at commit cd0d97d. (The same rewrite
 * of animus_work_complete measured slower: the row estimate of 1 led to a nested loop.)
 */
export const PROPOSED_SQL = `
CREATE OR REPLACE FUNCTION animus_work_claim(p_queue text, p_vt integer, p_qty integer)
RETURNS SETOF animus_claimed_item
LANGUAGE plpgsql AS $fn$
DECLARE
  v_msgs pgmq.message_record[];
  v_ids uuid[];
  v_done bigint[];
  r animus_claimed_item;
BEGIN
  v_msgs := ARRAY(SELECT m FROM pgmq.read(p_queue, p_vt, p_qty) AS m);
  IF cardinality(v_msgs) = 0 THEN
    RETURN;
  END IF;
  v_ids := ARRAY(SELECT (x.message ->> 'id')::uuid FROM unnest(v_msgs) AS x);
  v_done := '{}';
  FOR r IN
    WITH m AS (
      SELECT x.msg_id, x.read_ct, x.headers, (x.message ->> 'id')::uuid AS item_id
        FROM unnest(v_msgs) AS x
    )
    UPDATE work_items w
       SET state = CASE WHEN m.read_ct > w.max_attempts THEN 'dead' ELSE 'running' END,
           attempts = CASE WHEN m.read_ct > w.max_attempts THEN w.attempts ELSE w.attempts + 1 END,
           outcome_error = CASE WHEN m.read_ct > w.max_attempts
             THEN format('delivered %s times without being settled (workers crashed or timed out); max_attempts is %s',
                         m.read_ct - 1, w.max_attempts)
             ELSE w.outcome_error END,
           resolved_at = CASE WHEN m.read_ct > w.max_attempts THEN now() ELSE NULL END,
           updated_at = now()
      FROM m
     WHERE w.id = ANY (v_ids) AND w.id = m.item_id AND (w.state IN ('queued', 'running')) IS TRUE
    RETURNING w.id, w.queue_name, w.work_type, w.dedup_key, w.source, w.trigger_info, w.params,
              w.priority, w.state, w.parent_id, w.attempts, w.max_attempts, w.created_at,
              m.msg_id, m.read_ct, m.headers
  LOOP
    IF r.state = 'running' THEN
      v_done := v_done || r.msg_id;
      RETURN NEXT r;
    END IF;
  END LOOP;
  -- Everything read but not claimed (dead now, or its item already ended) leaves the queue.
  IF cardinality(v_done) < cardinality(v_msgs) THEN
    PERFORM pgmq.archive(p_queue, ARRAY(
      SELECT x.msg_id FROM unnest(v_msgs) AS x WHERE NOT (x.msg_id = ANY (v_done))));
  END IF;
END
$fn$;
`;
