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

CREATE INDEX work_items_state_created ON work_items (state, created_at);
CREATE INDEX work_items_parent ON work_items (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX work_items_merged_into ON work_items (merged_into) WHERE merged_into IS NOT NULL;

-- The result row of a claim: the item as it now is, plus the message it came with.
CREATE TYPE animus_claimed_item AS (
  id uuid, queue_name text, work_type text, dedup_key text, source text, trigger_info jsonb,
  params jsonb, priority integer, state text, parent_id uuid, attempts integer, max_attempts integer,
  created_at timestamptz, msg_id bigint, read_ct integer, headers jsonb
);

-- Submit one item in one round trip. A key whose active holder exists merges at once (its
-- own provenance kept, no message). Otherwise the message is sent first and the row
-- inserted with its id; the unique partial index is the arbiter, so when a concurrent submit
-- of the same key wins the insert, this one deletes its still-uncommitted message and merges
-- instead. Sending first spares an UPDATE of the new row.
CREATE FUNCTION animus_work_submit(
  p_queue text, p_work_type text, p_dedup_key text, p_source text, p_trigger_info jsonb,
  p_params jsonb, p_priority integer, p_max_attempts integer, p_delay_seconds integer,
  p_delay_until timestamptz, p_parent_id uuid, p_headers jsonb
) RETURNS TABLE (item_id uuid, status text, msg_id bigint, merged_into uuid)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_id uuid;
  v_active uuid;
  v_msg bigint;
BEGIN
  LOOP
    IF p_dedup_key IS NOT NULL THEN
      SELECT a.id INTO v_active FROM work_items a
       WHERE a.work_type = p_work_type AND a.dedup_key = p_dedup_key AND a.state IN ('queued', 'running');
      IF v_active IS NOT NULL THEN
        INSERT INTO work_items AS w (queue_name, work_type, dedup_key, source, trigger_info, params,
                                     priority, max_attempts, parent_id, state, merged_into, resolved_at)
        VALUES (p_queue, p_work_type, p_dedup_key, p_source, p_trigger_info, p_params,
                p_priority, p_max_attempts, p_parent_id, 'merged', v_active, now())
        RETURNING w.id INTO v_id;
        RETURN QUERY SELECT v_id, 'merged'::text, NULL::bigint, v_active;
        RETURN;
      END IF;
    END IF;

    v_id := gen_random_uuid();
    IF p_delay_until IS NOT NULL THEN
      v_msg := pgmq.send(p_queue, jsonb_build_object('id', v_id, 'work_type', p_work_type),
                         coalesce(p_headers, '{}'::jsonb), p_delay_until);
    ELSE
      v_msg := pgmq.send(p_queue, jsonb_build_object('id', v_id, 'work_type', p_work_type),
                         coalesce(p_headers, '{}'::jsonb), coalesce(p_delay_seconds, 0));
    END IF;
    INSERT INTO work_items AS w (id, pgmq_msg_id, queue_name, work_type, dedup_key, source, trigger_info,
                                 params, priority, max_attempts, parent_id)
    VALUES (v_id, v_msg, p_queue, p_work_type, p_dedup_key, p_source, p_trigger_info, p_params,
            p_priority, p_max_attempts, p_parent_id)
    ON CONFLICT (work_type, dedup_key) WHERE dedup_key IS NOT NULL AND state IN ('queued', 'running')
    DO NOTHING;
    IF FOUND THEN
      RETURN QUERY SELECT v_id, 'queued'::text, v_msg, NULL::uuid;
      RETURN;
    END IF;
    -- A concurrent submit took the key first: take the message back and merge (next turn).
    PERFORM pgmq.delete(p_queue, v_msg);
  END LOOP;
END
$fn$;

-- Submit many items at once (arrays of equal length, one entry per item, in order). Same
-- dedup rule as animus_work_submit, also between items of one batch (the first takes the
-- key, later ones merge). Candidates (no key, or first of a key with no active holder) get
-- their messages first, one pgmq.send_batch per (queue, delay), then their rows; a
-- candidate that loses its key to a concurrent submit gives its message back and merges.
CREATE FUNCTION animus_work_submit_batch(
  p_queue text[], p_work_type text[], p_dedup_key text[], p_source text[], p_trigger_info jsonb[],
  p_params jsonb[], p_priority integer[], p_max_attempts integer[], p_delay_seconds integer[],
  p_delay_until timestamptz[], p_parent_id uuid[], p_headers jsonb[]
) RETURNS TABLE (ord bigint, item_id uuid, status text, msg_id bigint, merged_into uuid)
LANGUAGE plpgsql AS $fn$
DECLARE
  n integer := cardinality(p_work_type);
  v_ids uuid[];
  v_msg bigint[];
  v_cand boolean[];
  g record;
  v_sent bigint[];
  v_lost bigint[];
  v_inserted bigint;
BEGIN
  v_ids := ARRAY(SELECT gen_random_uuid() FROM generate_series(1, n));
  v_msg := array_fill(NULL::bigint, ARRAY[n]);

  -- Which items may queue: no key, or the first of their key in this batch with no active holder.
  v_cand := ARRAY(
    SELECT t.dedup_key IS NULL OR (
             t.o = min(t.o) OVER (PARTITION BY t.work_type, t.dedup_key)
             AND NOT EXISTS (SELECT 1 FROM work_items a
                              WHERE a.work_type = t.work_type AND a.dedup_key = t.dedup_key
                                AND a.state IN ('queued', 'running')))
      FROM unnest(p_work_type, p_dedup_key) WITH ORDINALITY AS t(work_type, dedup_key, o)
     ORDER BY t.o);

  FOR g IN
    SELECT t.queue_name, t.delay_seconds, t.delay_until,
           array_agg(t.o ORDER BY t.o) AS ords,
           array_agg(jsonb_build_object('id', t.id, 'work_type', t.work_type) ORDER BY t.o) AS msgs,
           array_agg(coalesce(t.headers, '{}'::jsonb) ORDER BY t.o) AS headers
      FROM unnest(v_ids, p_queue, p_work_type, p_delay_seconds, p_delay_until, p_headers, v_cand)
        WITH ORDINALITY AS t(id, queue_name, work_type, delay_seconds, delay_until, headers, cand, o)
     WHERE t.cand
     GROUP BY t.queue_name, t.delay_seconds, t.delay_until
  LOOP
    IF g.delay_until IS NOT NULL THEN
      v_sent := ARRAY(SELECT pgmq.send_batch(g.queue_name, g.msgs, g.headers, g.delay_until));
    ELSE
      v_sent := ARRAY(SELECT pgmq.send_batch(g.queue_name, g.msgs, g.headers, coalesce(g.delay_seconds, 0)));
    END IF;
    FOR i IN 1 .. cardinality(g.ords) LOOP
      v_msg[g.ords[i]] := v_sent[i];
    END LOOP;
  END LOOP;

  WITH ins AS (
    INSERT INTO work_items AS w (id, pgmq_msg_id, queue_name, work_type, dedup_key, source, trigger_info,
                                 params, priority, max_attempts, parent_id)
    SELECT t.id, t.msg, t.queue_name, t.work_type, t.dedup_key, t.source, t.trigger_info, t.params,
           t.priority, t.max_attempts, t.parent_id
      FROM unnest(v_ids, v_msg, p_queue, p_work_type, p_dedup_key, p_source, p_trigger_info, p_params,
                  p_priority, p_max_attempts, p_parent_id, v_cand)
        WITH ORDINALITY AS t(id, msg, queue_name, work_type, dedup_key, source, trigger_info, params,
                             priority, max_attempts, parent_id, cand, o)
     WHERE t.cand
     ORDER BY t.o
    ON CONFLICT (work_type, dedup_key) WHERE dedup_key IS NOT NULL AND state IN ('queued', 'running')
    DO NOTHING
    RETURNING w.id
  )
  SELECT count(*) INTO v_inserted FROM ins;

  v_lost := '{}';
  IF v_inserted < (SELECT count(*) FROM unnest(v_cand) AS c WHERE c) THEN
    v_lost := ARRAY(
      SELECT t.o FROM unnest(v_ids, v_cand) WITH ORDINALITY AS t(id, cand, o)
       WHERE t.cand AND NOT EXISTS (SELECT 1 FROM work_items w WHERE w.id = t.id));
  END IF;

  -- Rare: candidates beaten to their key by a concurrent submit give their messages back.
  IF cardinality(v_lost) > 0 THEN
    FOR g IN
      SELECT p_queue[o] AS queue_name, array_agg(v_msg[o]) AS msgs FROM unnest(v_lost) AS o GROUP BY p_queue[o]
    LOOP
      PERFORM pgmq.delete(g.queue_name, g.msgs);
    END LOOP;
    FOR i IN 1 .. cardinality(v_lost) LOOP
      v_cand[v_lost[i]] := false;
      v_msg[v_lost[i]] := NULL;
    END LOOP;
  END IF;

  -- Everything that did not queue merges into its key's active holder.
  INSERT INTO work_items AS w (id, queue_name, work_type, dedup_key, source, trigger_info, params,
                               priority, max_attempts, parent_id, state, merged_into, resolved_at)
  SELECT t.id, t.queue_name, t.work_type, t.dedup_key, t.source, t.trigger_info, t.params,
         t.priority, t.max_attempts, t.parent_id, 'merged',
         (SELECT a.id FROM work_items a
           WHERE a.work_type = t.work_type AND a.dedup_key = t.dedup_key AND a.state IN ('queued', 'running')),
         now()
    FROM unnest(v_ids, p_queue, p_work_type, p_dedup_key, p_source, p_trigger_info, p_params,
                p_priority, p_max_attempts, p_parent_id, v_cand)
      AS t(id, queue_name, work_type, dedup_key, source, trigger_info, params, priority, max_attempts, parent_id, cand)
   WHERE NOT t.cand;

  RETURN QUERY
    SELECT t.o, t.id,
           CASE WHEN t.cand THEN 'queued' ELSE 'merged' END,
           t.msg,
           CASE WHEN t.cand THEN NULL ELSE (SELECT w.merged_into FROM work_items w WHERE w.id = t.id) END
      FROM unnest(v_ids, v_msg, v_cand) WITH ORDINALITY AS t(id, msg, cand, o)
     ORDER BY t.o;
END
$fn$;

-- Claim up to p_qty items from a queue: read their messages (hidden for p_vt seconds) and
-- move each item to `running`, counting the attempt. A message read more times than its
-- item allows (its workers kept dying) ends the item `dead`; a message whose item is no
-- longer active is archived. Both leave the queue; only claimable items are returned.
CREATE FUNCTION animus_work_claim(p_queue text, p_vt integer, p_qty integer)
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
     -- Reach the rows by primary key; `IS TRUE` keeps the planner from answering the state
     -- test with work_items_state_created, which under statistics that lag a burst of submits
     -- would visit every active item on each claim.
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

-- Settle a running item as completed and archive its message. The attempt number fences
-- out a worker whose lease ran out and whose item another worker has since claimed.
CREATE FUNCTION animus_work_complete(p_ids uuid[], p_attempts integer[], p_outcomes jsonb[], p_ms bigint[])
RETURNS TABLE (item_id uuid)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_ids uuid[];
  v_queues text[];
  v_msgs bigint[];
  g record;
BEGIN
  WITH u AS (
    UPDATE work_items w
       SET state = 'completed', outcome_data = x.outcome, outcome_ms = x.ms,
           resolved_at = now(), updated_at = now()
      FROM unnest(p_ids, p_attempts, p_outcomes, p_ms) AS x(id, attempts, outcome, ms)
     WHERE w.id = x.id AND w.state = 'running' AND w.attempts = x.attempts
    RETURNING w.id, w.queue_name, w.pgmq_msg_id
  )
  SELECT array_agg(u.id), array_agg(u.queue_name), array_agg(u.pgmq_msg_id) INTO v_ids, v_queues, v_msgs FROM u;
  IF v_ids IS NULL THEN
    RETURN;
  END IF;
  FOR g IN SELECT x.q, array_agg(x.m) AS msgs FROM unnest(v_queues, v_msgs) AS x(q, m) GROUP BY x.q LOOP
    PERFORM pgmq.archive(g.q, g.msgs);
  END LOOP;
  RETURN QUERY SELECT unnest(v_ids);
END
$fn$;

-- Record a failed attempt: back to `queued` with the message hidden for p_backoff seconds
-- while attempts remain (and the failure is not permanent), else `dead` with the message
-- archived. Returns the new state, or nothing when the fence (state, attempt) did not hold.
CREATE FUNCTION animus_work_fail(p_id uuid, p_attempts integer, p_error text, p_permanent boolean, p_backoff integer)
RETURNS TABLE (new_state text, attempts integer, max_attempts integer)
LANGUAGE plpgsql AS $fn$
DECLARE
  v record;
BEGIN
  UPDATE work_items w
     SET state = CASE WHEN p_permanent OR w.attempts >= w.max_attempts THEN 'dead' ELSE 'queued' END,
         outcome_error = p_error,
         resolved_at = CASE WHEN p_permanent OR w.attempts >= w.max_attempts THEN now() ELSE NULL END,
         updated_at = now()
   WHERE w.id = p_id AND w.state = 'running' AND w.attempts = p_attempts
  RETURNING w.state, w.queue_name, w.pgmq_msg_id, w.attempts, w.max_attempts INTO v;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  IF v.state = 'dead' THEN
    PERFORM pgmq.archive(v.queue_name, v.pgmq_msg_id);
  ELSE
    PERFORM pgmq.set_vt(v.queue_name, v.pgmq_msg_id, p_backoff);
  END IF;
  RETURN QUERY SELECT v.state, v.attempts, v.max_attempts;
END
$fn$;
