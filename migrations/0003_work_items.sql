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
) WITH (fillfactor = 80);

-- Structural dedup, enforced by the database: one row per active key, naming the item that
-- holds it. The primary key is the arbiter, so concurrent submits of one key cannot both
-- queue. The row is inserted when an item takes its key and deleted, in the same
-- transaction, when the item leaves `queued`/`running` (completed, dead, cancelled).
-- Keeping the rule out of work_items means no index there mentions `state`: a claim or a
-- settle is then a HOT update (fillfactor 80 leaves room on the page) that writes no index.
CREATE TABLE work_dedup_keys (
  work_type text NOT NULL,
  dedup_key text NOT NULL,
  -- Deferred: a submit takes the key before it inserts the item. Deleting an item by hand
  -- releases its key.
  item_id   uuid NOT NULL REFERENCES work_items (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  PRIMARY KEY (work_type, dedup_key)
);
CREATE INDEX work_dedup_keys_item ON work_dedup_keys (item_id);

CREATE INDEX work_items_created ON work_items (created_at);
CREATE INDEX work_items_parent ON work_items (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX work_items_merged_into ON work_items (merged_into) WHERE merged_into IS NOT NULL;

-- Releases the dedup keys of items that just left the active states.
CREATE FUNCTION animus_work_release_keys(p_types text[], p_keys text[], p_ids uuid[])
RETURNS void
LANGUAGE sql AS $fn$
  DELETE FROM work_dedup_keys k
   USING unnest(p_types, p_keys, p_ids) AS x(work_type, dedup_key, item_id)
   WHERE x.dedup_key IS NOT NULL
     AND k.work_type = x.work_type AND k.dedup_key = x.dedup_key AND k.item_id = x.item_id
$fn$;

-- The result row of a claim: the item as it now is, plus the message it came with.
CREATE TYPE animus_claimed_item AS (
  id uuid, queue_name text, work_type text, dedup_key text, source text, trigger_info jsonb,
  params jsonb, priority integer, state text, parent_id uuid, attempts integer, max_attempts integer,
  created_at timestamptz, msg_id bigint, read_ct integer, headers jsonb
);

-- Submit one item in one round trip. A keyed item first takes its key in
-- work_dedup_keys; if an active item holds it (the insert waits for an uncommitted holder),
-- the submit is stored as `merged` with its own provenance and sends nothing. Otherwise the
-- pgmq message is sent and the row inserted with the message's id.
CREATE FUNCTION animus_work_submit(
  p_queue text, p_work_type text, p_dedup_key text, p_source text, p_trigger_info jsonb,
  p_params jsonb, p_priority integer, p_max_attempts integer, p_delay_seconds integer,
  p_delay_until timestamptz, p_parent_id uuid, p_headers jsonb
) RETURNS TABLE (item_id uuid, status text, msg_id bigint, merged_into uuid)
LANGUAGE plpgsql AS $fn$
DECLARE
  v_id uuid := gen_random_uuid();
  v_active uuid;
  v_msg bigint;
BEGIN
  IF p_dedup_key IS NOT NULL THEN
    LOOP
      INSERT INTO work_dedup_keys (work_type, dedup_key, item_id)
      VALUES (p_work_type, p_dedup_key, v_id)
      ON CONFLICT DO NOTHING;
      EXIT WHEN FOUND;
      SELECT k.item_id INTO v_active FROM work_dedup_keys k
       WHERE k.work_type = p_work_type AND k.dedup_key = p_dedup_key;
      IF v_active IS NOT NULL THEN
        INSERT INTO work_items (id, queue_name, work_type, dedup_key, source, trigger_info, params,
                                priority, max_attempts, parent_id, state, merged_into, resolved_at)
        VALUES (v_id, p_queue, p_work_type, p_dedup_key, p_source, p_trigger_info, p_params,
                p_priority, p_max_attempts, p_parent_id, 'merged', v_active, now());
        RETURN QUERY SELECT v_id, 'merged'::text, NULL::bigint, v_active;
        RETURN;
      END IF;
      -- The holder ended between the two statements: try to take the key again.
    END LOOP;
  END IF;

  IF p_delay_until IS NOT NULL THEN
    v_msg := pgmq.send(p_queue, jsonb_build_object('id', v_id, 'work_type', p_work_type),
                       coalesce(p_headers, '{}'::jsonb), p_delay_until);
  ELSE
    v_msg := pgmq.send(p_queue, jsonb_build_object('id', v_id, 'work_type', p_work_type),
                       coalesce(p_headers, '{}'::jsonb), coalesce(p_delay_seconds, 0));
  END IF;
  INSERT INTO work_items (id, pgmq_msg_id, queue_name, work_type, dedup_key, source, trigger_info,
                          params, priority, max_attempts, parent_id)
  VALUES (v_id, v_msg, p_queue, p_work_type, p_dedup_key, p_source, p_trigger_info, p_params,
          p_priority, p_max_attempts, p_parent_id);
  RETURN QUERY SELECT v_id, 'queued'::text, v_msg, NULL::uuid;
END
$fn$;

-- Submit many items at once (arrays of equal length, one entry per item, in order). Same
-- dedup rule as animus_work_submit, also between items of one batch: keyed items take their
-- keys in one statement (the first of a key in the batch wins), the rest merge into the
-- holder. Messages go out with one pgmq.send_batch per (queue, delay); rows follow with
-- their message ids.
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
  v_won uuid[];
  g record;
  v_sent bigint[];
BEGIN
  v_ids := ARRAY(SELECT gen_random_uuid() FROM generate_series(1, n));
  v_msg := array_fill(NULL::bigint, ARRAY[n]);

  IF EXISTS (SELECT 1 FROM unnest(p_dedup_key) AS k WHERE k IS NOT NULL) THEN
    WITH won AS (
      INSERT INTO work_dedup_keys (work_type, dedup_key, item_id)
      SELECT t.work_type, t.dedup_key, t.id
        FROM unnest(v_ids, p_work_type, p_dedup_key) WITH ORDINALITY AS t(id, work_type, dedup_key, o)
       WHERE t.dedup_key IS NOT NULL
       ORDER BY t.o
      ON CONFLICT DO NOTHING
      RETURNING work_dedup_keys.item_id
    )
    SELECT coalesce(array_agg(won.item_id), '{}') INTO v_won FROM won;
    v_cand := ARRAY(
      SELECT t.dedup_key IS NULL OR w.item_id IS NOT NULL
        FROM unnest(v_ids, p_dedup_key) WITH ORDINALITY AS t(id, dedup_key, o)
        LEFT JOIN unnest(v_won) AS w(item_id) ON w.item_id = t.id
       ORDER BY t.o);
  ELSE
    v_cand := array_fill(true, ARRAY[n]);
  END IF;

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

  INSERT INTO work_items (id, pgmq_msg_id, queue_name, work_type, dedup_key, source, trigger_info,
                          params, priority, max_attempts, parent_id, state, merged_into, resolved_at)
  SELECT t.id, t.msg, t.queue_name, t.work_type, t.dedup_key, t.source, t.trigger_info, t.params,
         t.priority, t.max_attempts, t.parent_id,
         CASE WHEN t.cand THEN 'queued' ELSE 'merged' END,
         CASE WHEN t.cand THEN NULL ELSE (
           SELECT k.item_id FROM work_dedup_keys k
            WHERE k.work_type = t.work_type AND k.dedup_key = t.dedup_key) END,
         CASE WHEN t.cand THEN NULL ELSE now() END
    FROM unnest(v_ids, v_msg, p_queue, p_work_type, p_dedup_key, p_source, p_trigger_info, p_params,
                p_priority, p_max_attempts, p_parent_id, v_cand)
      WITH ORDINALITY AS t(id, msg, queue_name, work_type, dedup_key, source, trigger_info, params,
                           priority, max_attempts, parent_id, cand, o)
   ORDER BY t.o;

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
  v_dead_types text[] := '{}';
  v_dead_keys text[] := '{}';
  v_dead_ids uuid[] := '{}';
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
     -- Reach the rows by primary key, never by a scan of active items.
     WHERE w.id = ANY (v_ids) AND w.id = m.item_id AND (w.state IN ('queued', 'running')) IS TRUE
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
  v_types text[];
  v_keys text[];
  g record;
BEGIN
  WITH u AS (
    UPDATE work_items w
       SET state = 'completed', outcome_data = x.outcome, outcome_ms = x.ms,
           resolved_at = now(), updated_at = now()
      FROM unnest(p_ids, p_attempts, p_outcomes, p_ms) AS x(id, attempts, outcome, ms)
     WHERE w.id = x.id AND w.state = 'running' AND w.attempts = x.attempts
    RETURNING w.id, w.queue_name, w.pgmq_msg_id, w.work_type, w.dedup_key
  )
  SELECT array_agg(u.id), array_agg(u.queue_name), array_agg(u.pgmq_msg_id),
         array_agg(u.work_type), array_agg(u.dedup_key)
    INTO v_ids, v_queues, v_msgs, v_types, v_keys FROM u;
  IF v_ids IS NULL THEN
    RETURN;
  END IF;
  IF cardinality(array_remove(v_keys, NULL)) > 0 THEN
    PERFORM animus_work_release_keys(v_types, v_keys, v_ids);
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
  RETURNING w.id, w.state, w.queue_name, w.pgmq_msg_id, w.attempts, w.max_attempts, w.work_type, w.dedup_key INTO v;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  IF v.state = 'dead' THEN
    PERFORM pgmq.archive(v.queue_name, v.pgmq_msg_id);
    IF v.dedup_key IS NOT NULL THEN
      DELETE FROM work_dedup_keys k
       WHERE k.work_type = v.work_type AND k.dedup_key = v.dedup_key AND k.item_id = v.id;
    END IF;
  ELSE
    PERFORM pgmq.set_vt(v.queue_name, v.pgmq_msg_id, p_backoff);
  END IF;
  RETURN QUERY SELECT v.state, v.attempts, v.max_attempts;
END
$fn$;
