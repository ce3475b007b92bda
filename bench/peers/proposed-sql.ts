// Changes proposed to the lead for migrations/0003_work_items.sql, as SQL the benchmark can
// apply to its own scratch database (ANIMUS_BENCH_PROPOSED=1) to measure them before anyone
// edits the migration. Signatures are unchanged, so the work module calls them as it is.

/**
 * 1. Key-less submits send first and write the item once, with its message id (no UPDATE).
 * 2. Key-less batches do the same and return their results from arrays, not by reading rows back.
 * 3. The claim reaches work_items through the primary key (w.id = ANY(ids)); the state test is
 *    written so it cannot pick work_items_state_created, whose bitmap scan visits every active item.
 * Items with dedup keys keep today's path (the originals, renamed *_keyed).
 */
export const PROPOSED_SQL = `
ALTER FUNCTION animus_work_submit(text, text, text, text, jsonb, jsonb, integer, integer, integer, timestamptz, uuid, jsonb)
  RENAME TO animus_work_submit_keyed;
ALTER FUNCTION animus_work_submit_batch(text[], text[], text[], text[], jsonb[], jsonb[], integer[], integer[], integer[], timestamptz[], uuid[], jsonb[])
  RENAME TO animus_work_submit_batch_keyed;
CREATE FUNCTION animus_work_submit(
  p_queue text, p_work_type text, p_dedup_key text, p_source text, p_trigger_info jsonb,
  p_params jsonb, p_priority integer, p_max_attempts integer, p_delay_seconds integer,
  p_delay_until timestamptz, p_parent_id uuid, p_headers jsonb
) RETURNS TABLE (item_id uuid, status text, msg_id bigint, merged_into uuid)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_id uuid;
  v_msg bigint;
BEGIN
  IF p_dedup_key IS NULL THEN
    -- No key, no merge: send first so the row is written once, with its message id.
    v_id := gen_random_uuid();
    IF p_delay_until IS NOT NULL THEN
      v_msg := pgmq.send(p_queue, jsonb_build_object('id', v_id, 'work_type', p_work_type),
                         coalesce(p_headers, '{}'::jsonb), p_delay_until);
    ELSE
      v_msg := pgmq.send(p_queue, jsonb_build_object('id', v_id, 'work_type', p_work_type),
                         coalesce(p_headers, '{}'::jsonb), coalesce(p_delay_seconds, 0));
    END IF;
    INSERT INTO work_items (id, pgmq_msg_id, queue_name, work_type, dedup_key, source, trigger_info,
                            params, priority, max_attempts, parent_id)
    VALUES (v_id, v_msg, p_queue, p_work_type, NULL, p_source, p_trigger_info, p_params,
            p_priority, p_max_attempts, p_parent_id);
    RETURN QUERY SELECT v_id, 'queued'::text, v_msg, NULL::uuid;
    RETURN;
  END IF;
  RETURN QUERY SELECT * FROM animus_work_submit_keyed(p_queue, p_work_type, p_dedup_key, p_source, p_trigger_info,
    p_params, p_priority, p_max_attempts, p_delay_seconds, p_delay_until, p_parent_id, p_headers);
END
$fn$;

CREATE FUNCTION animus_work_submit_batch(
  p_queue text[], p_work_type text[], p_dedup_key text[], p_source text[], p_trigger_info jsonb[],
  p_params jsonb[], p_priority integer[], p_max_attempts integer[], p_delay_seconds integer[],
  p_delay_until timestamptz[], p_parent_id uuid[], p_headers jsonb[]
) RETURNS TABLE (ord bigint, item_id uuid, status text, msg_id bigint, merged_into uuid)
LANGUAGE plpgsql AS $fn$
DECLARE
  g record;
  v_ids uuid[];
  v_msgs bigint[];
  r_ord bigint[] := '{}';
  r_id uuid[] := '{}';
  r_msg bigint[] := '{}';
BEGIN
  IF EXISTS (SELECT 1 FROM unnest(p_dedup_key) AS k WHERE k IS NOT NULL) THEN
    RETURN QUERY SELECT * FROM animus_work_submit_batch_keyed(p_queue, p_work_type, p_dedup_key, p_source,
      p_trigger_info, p_params, p_priority, p_max_attempts, p_delay_seconds, p_delay_until, p_parent_id, p_headers);
    RETURN;
  END IF;
  -- No keys, no merges: send first (one send_batch per queue and delay), then write each row
  -- once with its message id; results come from arrays, not from reading the rows back.
  v_ids := ARRAY(SELECT gen_random_uuid() FROM generate_series(1, cardinality(p_work_type)));
  FOR g IN
    SELECT t.queue_name, t.delay_seconds, t.delay_until,
           array_agg(t.o ORDER BY t.o) AS ords,
           array_agg(t.id ORDER BY t.o) AS ids,
           array_agg(jsonb_build_object('id', t.id, 'work_type', t.work_type) ORDER BY t.o) AS msgs,
           array_agg(coalesce(t.headers, '{}'::jsonb) ORDER BY t.o) AS headers
      FROM unnest(v_ids, p_queue, p_work_type, p_delay_seconds, p_delay_until, p_headers)
        WITH ORDINALITY AS t(id, queue_name, work_type, delay_seconds, delay_until, headers, o)
     GROUP BY t.queue_name, t.delay_seconds, t.delay_until
  LOOP
    IF g.delay_until IS NOT NULL THEN
      v_msgs := ARRAY(SELECT pgmq.send_batch(g.queue_name, g.msgs, g.headers, g.delay_until));
    ELSE
      v_msgs := ARRAY(SELECT pgmq.send_batch(g.queue_name, g.msgs, g.headers, coalesce(g.delay_seconds, 0)));
    END IF;
    r_ord := r_ord || g.ords;
    r_id := r_id || g.ids;
    r_msg := r_msg || v_msgs;
  END LOOP;
  INSERT INTO work_items (id, pgmq_msg_id, queue_name, work_type, dedup_key, source, trigger_info, params,
                          priority, max_attempts, parent_id)
  SELECT t.id, m.msg, t.queue_name, t.work_type, NULL, t.source, t.trigger_info, t.params,
         t.priority, t.max_attempts, t.parent_id
    FROM unnest(v_ids, p_queue, p_work_type, p_source, p_trigger_info, p_params, p_priority,
                p_max_attempts, p_parent_id)
      WITH ORDINALITY AS t(id, queue_name, work_type, source, trigger_info, params, priority,
                           max_attempts, parent_id, o)
    JOIN unnest(r_ord, r_msg) AS m(o, msg) ON m.o = t.o
   ORDER BY t.o;
  RETURN QUERY
    SELECT x.o, x.id, 'queued'::text, x.msg, NULL::uuid
      FROM unnest(r_ord, r_id, r_msg) AS x(o, id, msg)
     ORDER BY x.o;
END
$fn$;

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
  PERFORM pgmq.archive(p_queue, ARRAY(
    SELECT x.msg_id FROM unnest(v_msgs) AS x WHERE NOT (x.msg_id = ANY (v_done))));
END
$fn$;
`;
