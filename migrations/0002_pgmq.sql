-- animus:pgmq
-- pgmq for servers that cannot `CREATE EXTENSION pgmq` (the embedded default, many managed
-- servers): schema `pgmq` with the tables, types and functions of pgmq's documented 1.x SQL
-- API, so animus, pgmq-js and other pgmq clients work unchanged. Written by animus from the
-- API documentation. Where the server offers the extension the migrator runs
-- `CREATE EXTENSION pgmq` instead of this file (see src/db/migrate.ts).
-- Invariants: a queue name is checked by pgmq.format_table_name before it names anything, and
-- only ever reaches SQL through format('%I'); reads lock with FOR UPDATE SKIP LOCKED, so one
-- visible message goes to one reader.

DO $guard$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'pgmq') THEN
    RAISE EXCEPTION 'schema pgmq already exists (a pgmq installed outside animus?)'
      USING HINT = 'drop or rename that schema, or install the pgmq extension so animus uses it';
  END IF;
END
$guard$;

CREATE SCHEMA pgmq;
COMMENT ON SCHEMA pgmq IS 'animus compatible schema following the pgmq 1.11 SQL API';

-- The pgmq API version this schema follows; its presence also marks the schema as animus's.
CREATE FUNCTION pgmq.animus_compat_version() RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT '1.11.0'::text $$;

-- One row per queue.
CREATE TABLE pgmq.meta (
  queue_name     varchar NOT NULL UNIQUE,
  is_partitioned boolean NOT NULL,
  is_unlogged    boolean NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now()
);

-- Queues whose inserts notify listeners, and when each last did.
CREATE TABLE pgmq.notify_insert_throttle (
  queue_name           varchar NOT NULL UNIQUE
                       REFERENCES pgmq.meta (queue_name) ON DELETE CASCADE ON UPDATE CASCADE,
  throttle_interval_ms integer NOT NULL DEFAULT 0,
  last_notified_at     timestamptz NOT NULL DEFAULT to_timestamp(0)
);

CREATE TYPE pgmq.message_record AS (
  msg_id       bigint,
  read_ct      integer,
  enqueued_at  timestamptz,
  last_read_at timestamptz,
  vt           timestamptz,
  message      jsonb,
  headers      jsonb
);

CREATE TYPE pgmq.queue_record AS (
  queue_name     varchar,
  is_partitioned boolean,
  is_unlogged    boolean,
  created_at     timestamptz
);

CREATE TYPE pgmq.metrics_result AS (
  queue_name           text,
  queue_length         bigint,
  newest_msg_age_sec   integer,
  oldest_msg_age_sec   integer,
  total_messages       bigint,
  scrape_time          timestamptz,
  queue_visible_length bigint
);

-- ---------------------------------------------------------------------------------------
-- Names. pgmq allows at most 47 characters (the longest derived name, the identity sequence
-- q_<name>_msg_id_seq, must fit in 63) and refuses $ ; -- and single quotes. Table names are
-- the lower-cased name with a q_/a_ prefix. Errors use SQLSTATE 22023 and name the field.

CREATE FUNCTION pgmq.validate_queue_name(queue_name text) RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  IF queue_name IS NULL OR queue_name = '' THEN
    RAISE EXCEPTION 'queue_name: must be a non-empty string' USING ERRCODE = '22023';
  END IF;
  IF length(queue_name) > 47 THEN
    RAISE EXCEPTION 'queue_name: too long (% characters), the maximum is 47', length(queue_name)
      USING ERRCODE = '22023';
  END IF;
  IF strpos(queue_name, '$') > 0 OR strpos(queue_name, ';') > 0
     OR strpos(queue_name, '--') > 0 OR strpos(queue_name, '''') > 0 THEN
    RAISE EXCEPTION 'queue_name: contains a character pgmq does not allow ($, ;, -- or '')'
      USING ERRCODE = '22023';
  END IF;
END
$$;

CREATE FUNCTION pgmq.format_table_name(queue_name text, prefix text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
BEGIN
  PERFORM pgmq.validate_queue_name(queue_name);
  RETURN lower(prefix || '_' || queue_name);
END
$$;

-- ---------------------------------------------------------------------------------------
-- Queue management.

CREATE FUNCTION pgmq._animus_create(queue_name text, unlogged boolean) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  qtable text := pgmq.format_table_name(queue_name, 'q');
  atable text := pgmq.format_table_name(queue_name, 'a');
BEGIN
  -- Two sessions creating the same queue at once would race on the catalog.
  PERFORM pg_advisory_xact_lock(hashtext('pgmq.create'), hashtext(qtable));
  EXECUTE format(
    'CREATE %s TABLE IF NOT EXISTS pgmq.%I (
       msg_id       bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY,
       read_ct      integer NOT NULL DEFAULT 0,
       enqueued_at  timestamptz NOT NULL DEFAULT now(),
       last_read_at timestamptz,
       vt           timestamptz NOT NULL,
       message      jsonb,
       headers      jsonb)',
    CASE WHEN unlogged THEN 'UNLOGGED' ELSE '' END, qtable);
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON pgmq.%I (vt)', qtable || '_vt_idx', qtable);
  EXECUTE format(
    'CREATE TABLE IF NOT EXISTS pgmq.%I (
       msg_id       bigint PRIMARY KEY,
       read_ct      integer NOT NULL DEFAULT 0,
       enqueued_at  timestamptz NOT NULL DEFAULT now(),
       last_read_at timestamptz,
       archived_at  timestamptz NOT NULL DEFAULT now(),
       vt           timestamptz NOT NULL,
       message      jsonb,
       headers      jsonb)',
    atable);
  EXECUTE format('CREATE INDEX IF NOT EXISTS %I ON pgmq.%I (archived_at)',
                 'archived_at_idx_' || substr(qtable, 3), atable);
  -- Table names are case-folded, so 'Jobs' and 'jobs' are one queue: record it once.
  IF NOT EXISTS (SELECT 1 FROM pgmq.meta m WHERE lower(m.queue_name) = lower(_animus_create.queue_name)) THEN
    INSERT INTO pgmq.meta (queue_name, is_partitioned, is_unlogged)
    VALUES (_animus_create.queue_name, false, unlogged);
  END IF;
END
$$;

CREATE FUNCTION pgmq.create(queue_name text) RETURNS void
LANGUAGE sql AS $$ SELECT pgmq._animus_create(queue_name, false) $$;

CREATE FUNCTION pgmq.create_non_partitioned(queue_name text) RETURNS void
LANGUAGE sql AS $$ SELECT pgmq._animus_create(queue_name, false) $$;

CREATE FUNCTION pgmq.create_unlogged(queue_name text) RETURNS void
LANGUAGE sql AS $$ SELECT pgmq._animus_create(queue_name, true) $$;

CREATE FUNCTION pgmq.create_partitioned(
  queue_name text, partition_interval text DEFAULT '10000', retention_interval text DEFAULT '100000'
) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'partitioned queues need the real pgmq extension and pg_partman; animus''s compatible schema offers plain and unlogged queues'
    USING ERRCODE = '0A000';
END
$$;

-- Kept for clients that call it; there is no extension membership to detach from here.
CREATE FUNCTION pgmq.detach_archive(queue_name text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pgmq.validate_queue_name(queue_name);
END
$$;

CREATE FUNCTION pgmq.drop_queue(queue_name text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  qtable text := pgmq.format_table_name(queue_name, 'q');
  atable text := pgmq.format_table_name(queue_name, 'a');
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pgmq.meta m WHERE lower(m.queue_name) = lower(drop_queue.queue_name)) THEN
    RAISE NOTICE 'pgmq queue % does not exist', drop_queue.queue_name;
    RETURN false;
  END IF;
  EXECUTE format('DROP TABLE IF EXISTS pgmq.%I', qtable);
  EXECUTE format('DROP TABLE IF EXISTS pgmq.%I', atable);
  DELETE FROM pgmq.meta m WHERE lower(m.queue_name) = lower(drop_queue.queue_name);
  RETURN true;
END
$$;

CREATE FUNCTION pgmq.purge_queue(queue_name text) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  removed bigint;
BEGIN
  EXECUTE format('DELETE FROM pgmq.%I', pgmq.format_table_name(queue_name, 'q'));
  GET DIAGNOSTICS removed = ROW_COUNT;
  RETURN removed;
END
$$;

CREATE FUNCTION pgmq.list_queues() RETURNS SETOF pgmq.queue_record
LANGUAGE sql STABLE AS $$
  SELECT queue_name, is_partitioned, is_unlogged, created_at FROM pgmq.meta ORDER BY queue_name
$$;

-- ---------------------------------------------------------------------------------------
-- Sending. Every public form funnels into one INSERT per call; `delay` is whole seconds from
-- now, or the moment the message becomes visible.

CREATE FUNCTION pgmq._animus_send(queue_name text, msg jsonb, headers jsonb, visible_at timestamptz)
RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE format(
    'INSERT INTO pgmq.%I (vt, message, headers) VALUES ($1, $2, $3) RETURNING msg_id',
    pgmq.format_table_name(queue_name, 'q'))
  USING visible_at, msg, headers;
END
$$;

CREATE FUNCTION pgmq.send(queue_name text, msg jsonb) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY SELECT pgmq._animus_send(queue_name, msg, NULL, clock_timestamp());
END
$$;

CREATE FUNCTION pgmq.send(queue_name text, msg jsonb, delay integer) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY SELECT pgmq._animus_send(queue_name, msg, NULL,
                                        clock_timestamp() + make_interval(secs => delay));
END
$$;

CREATE FUNCTION pgmq.send(queue_name text, msg jsonb, delay timestamptz) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY SELECT pgmq._animus_send(queue_name, msg, NULL, delay);
END
$$;

CREATE FUNCTION pgmq.send(queue_name text, msg jsonb, headers jsonb) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY SELECT pgmq._animus_send(queue_name, msg, headers, clock_timestamp());
END
$$;

CREATE FUNCTION pgmq.send(queue_name text, msg jsonb, headers jsonb, delay integer)
RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY SELECT pgmq._animus_send(queue_name, msg, headers,
                                        clock_timestamp() + make_interval(secs => delay));
END
$$;

CREATE FUNCTION pgmq.send(queue_name text, msg jsonb, headers jsonb, delay timestamptz)
RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY SELECT pgmq._animus_send(queue_name, msg, headers, delay);
END
$$;

-- Ids come back in the order of `msgs`; headers[i] goes with msgs[i].
CREATE FUNCTION pgmq._animus_send_batch(
  queue_name text, msgs jsonb[], headers jsonb[], visible_at timestamptz
) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  IF headers IS NOT NULL AND cardinality(headers) <> cardinality(msgs) THEN
    RAISE EXCEPTION 'headers: % entries for % messages; pass one per message, or none',
      cardinality(headers), cardinality(msgs) USING ERRCODE = '22023';
  END IF;
  RETURN QUERY EXECUTE format(
    'INSERT INTO pgmq.%I (vt, message, headers)
     SELECT $1, m.msg, m.hdr FROM unnest($2::jsonb[], $3::jsonb[]) WITH ORDINALITY AS m (msg, hdr, n)
     ORDER BY m.n
     RETURNING msg_id',
    pgmq.format_table_name(queue_name, 'q'))
  USING visible_at, msgs, headers;
END
$$;

CREATE FUNCTION pgmq.send_batch(queue_name text, msgs jsonb[]) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY SELECT pgmq._animus_send_batch(queue_name, msgs, NULL, clock_timestamp());
END
$$;

CREATE FUNCTION pgmq.send_batch(queue_name text, msgs jsonb[], delay integer) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY SELECT pgmq._animus_send_batch(queue_name, msgs, NULL,
                                              clock_timestamp() + make_interval(secs => delay));
END
$$;

CREATE FUNCTION pgmq.send_batch(queue_name text, msgs jsonb[], delay timestamptz)
RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY SELECT pgmq._animus_send_batch(queue_name, msgs, NULL, delay);
END
$$;

CREATE FUNCTION pgmq.send_batch(queue_name text, msgs jsonb[], headers jsonb[])
RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY SELECT pgmq._animus_send_batch(queue_name, msgs, headers, clock_timestamp());
END
$$;

CREATE FUNCTION pgmq.send_batch(queue_name text, msgs jsonb[], headers jsonb[], delay integer)
RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY SELECT pgmq._animus_send_batch(queue_name, msgs, headers,
                                              clock_timestamp() + make_interval(secs => delay));
END
$$;

CREATE FUNCTION pgmq.send_batch(queue_name text, msgs jsonb[], headers jsonb[], delay timestamptz)
RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY SELECT pgmq._animus_send_batch(queue_name, msgs, headers, delay);
END
$$;

-- ---------------------------------------------------------------------------------------
-- Reading. The oldest visible messages (optionally only those whose body contains
-- `conditional`) are locked, skipping rows other readers hold, and hidden for `vt` seconds.

CREATE FUNCTION pgmq.read(queue_name text, vt integer, qty integer, conditional jsonb DEFAULT '{}')
RETURNS SETOF pgmq.message_record
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE format(
    'WITH picked AS (
       SELECT msg_id FROM pgmq.%1$I
       WHERE vt <= clock_timestamp() AND ($3 = ''{}''::jsonb OR message @> $3)
       ORDER BY msg_id
       LIMIT $2
       FOR UPDATE SKIP LOCKED)
     UPDATE pgmq.%1$I AS q
     SET vt = clock_timestamp() + make_interval(secs => $1),
         read_ct = q.read_ct + 1,
         last_read_at = clock_timestamp()
     FROM picked
     WHERE q.msg_id = picked.msg_id
     RETURNING q.msg_id, q.read_ct, q.enqueued_at, q.last_read_at, q.vt, q.message, q.headers',
    pgmq.format_table_name(queue_name, 'q'))
  USING vt, qty, coalesce(conditional, '{}'::jsonb);
END
$$;

-- Like read, but waits up to max_poll_seconds for a message, trying every poll_interval_ms.
CREATE FUNCTION pgmq.read_with_poll(
  queue_name text, vt integer, qty integer,
  max_poll_seconds integer DEFAULT 5, poll_interval_ms integer DEFAULT 100,
  conditional jsonb DEFAULT '{}'
) RETURNS SETOF pgmq.message_record
LANGUAGE plpgsql AS $$
DECLARE
  give_up_at timestamptz := clock_timestamp() + make_interval(secs => max_poll_seconds);
BEGIN
  LOOP
    RETURN QUERY SELECT * FROM pgmq.read(queue_name, vt, qty, conditional);
    IF FOUND OR clock_timestamp() >= give_up_at THEN
      RETURN;
    END IF;
    PERFORM pg_sleep(poll_interval_ms / 1000.0);
  END LOOP;
END
$$;

-- Read and delete in one step: the oldest `qty` visible messages.
CREATE FUNCTION pgmq.pop(queue_name text, qty integer DEFAULT 1)
RETURNS SETOF pgmq.message_record
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE format(
    'WITH picked AS (
       SELECT msg_id FROM pgmq.%1$I
       WHERE vt <= clock_timestamp()
       ORDER BY msg_id
       LIMIT $1
       FOR UPDATE SKIP LOCKED)
     DELETE FROM pgmq.%1$I AS q
     USING picked
     WHERE q.msg_id = picked.msg_id
     RETURNING q.msg_id, q.read_ct, q.enqueued_at, q.last_read_at, q.vt, q.message, q.headers',
    pgmq.format_table_name(queue_name, 'q'))
  USING qty;
END
$$;

-- Hides (or reveals) one message until `vt` seconds from now; returns it, or no row.
CREATE FUNCTION pgmq.set_vt(queue_name text, msg_id bigint, vt integer)
RETURNS SETOF pgmq.message_record
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE format(
    'UPDATE pgmq.%I AS q
     SET vt = clock_timestamp() + make_interval(secs => $2)
     WHERE q.msg_id = $1
     RETURNING q.msg_id, q.read_ct, q.enqueued_at, q.last_read_at, q.vt, q.message, q.headers',
    pgmq.format_table_name(queue_name, 'q'))
  USING msg_id, vt;
END
$$;

-- ---------------------------------------------------------------------------------------
-- Settling: archive moves rows to a_<name> (archived_at = now); delete removes them. The
-- single-id forms say whether the message existed; the array forms return the ids handled.

CREATE FUNCTION pgmq.archive(queue_name text, msg_ids bigint[]) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE format(
    'WITH moved AS (
       DELETE FROM pgmq.%I WHERE msg_id = ANY ($1)
       RETURNING msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers)
     INSERT INTO pgmq.%I (msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers)
     SELECT msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers FROM moved
     RETURNING msg_id',
    pgmq.format_table_name(queue_name, 'q'), pgmq.format_table_name(queue_name, 'a'))
  USING msg_ids;
END
$$;

CREATE FUNCTION pgmq.archive(queue_name text, msg_id bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  moved bigint;
BEGIN
  EXECUTE format(
    'WITH moved AS (
       DELETE FROM pgmq.%I WHERE msg_id = $1
       RETURNING msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers)
     INSERT INTO pgmq.%I (msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers)
     SELECT msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers FROM moved
     RETURNING msg_id',
    pgmq.format_table_name(queue_name, 'q'), pgmq.format_table_name(queue_name, 'a'))
  INTO moved
  USING msg_id;
  RETURN moved IS NOT NULL;
END
$$;

CREATE FUNCTION pgmq.delete(queue_name text, msg_ids bigint[]) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY EXECUTE format(
    'DELETE FROM pgmq.%I WHERE msg_id = ANY ($1) RETURNING msg_id',
    pgmq.format_table_name(queue_name, 'q'))
  USING msg_ids;
END
$$;

CREATE FUNCTION pgmq.delete(queue_name text, msg_id bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  gone bigint;
BEGIN
  EXECUTE format('DELETE FROM pgmq.%I WHERE msg_id = $1 RETURNING msg_id',
                 pgmq.format_table_name(queue_name, 'q'))
  INTO gone
  USING msg_id;
  RETURN gone IS NOT NULL;
END
$$;

-- ---------------------------------------------------------------------------------------
-- Metrics. total_messages counts every message ever sent (the identity sequence's position);
-- queue_visible_length counts those a read would see now.

CREATE FUNCTION pgmq.metrics(queue_name text) RETURNS pgmq.metrics_result
LANGUAGE plpgsql AS $$
DECLARE
  qtable text := pgmq.format_table_name(queue_name, 'q');
  result pgmq.metrics_result;
BEGIN
  EXECUTE format(
    'SELECT $1::text,
            count(*),
            extract(epoch FROM now() - max(enqueued_at))::integer,
            extract(epoch FROM now() - min(enqueued_at))::integer,
            (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM pgmq.%I),
            now(),
            count(*) FILTER (WHERE vt <= clock_timestamp())
     FROM pgmq.%I',
    qtable || '_msg_id_seq', qtable)
  INTO result
  USING queue_name;
  RETURN result;
END
$$;

CREATE FUNCTION pgmq.metrics_all() RETURNS SETOF pgmq.metrics_result
LANGUAGE plpgsql AS $$
DECLARE
  qname text;
BEGIN
  FOR qname IN SELECT m.queue_name FROM pgmq.meta m ORDER BY m.queue_name LOOP
    RETURN NEXT pgmq.metrics(qname);
  END LOOP;
END
$$;

-- ---------------------------------------------------------------------------------------
-- Insert notifications: pg_notify on channel `pgmq.q_<name>.INSERT` (empty payload), at
-- most once per throttle_interval_ms per queue (0 = on every inserting statement). The
-- throttle row is updated by the inserting transaction, so its window is shared by all
-- senders.

CREATE FUNCTION pgmq._animus_notify_insert() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE pgmq.notify_insert_throttle t
  SET last_notified_at = clock_timestamp()
  WHERE t.queue_name = TG_ARGV[0]
    AND (t.throttle_interval_ms <= 0
         OR clock_timestamp() - t.last_notified_at
            >= make_interval(secs => t.throttle_interval_ms / 1000.0));
  IF FOUND THEN
    PERFORM pg_notify('pgmq.' || TG_TABLE_NAME || '.' || TG_OP, NULL);
  END IF;
  RETURN NULL;
END
$$;

CREATE FUNCTION pgmq.enable_notify_insert(queue_name text, throttle_interval_ms integer DEFAULT 250)
RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  qtable text := pgmq.format_table_name(queue_name, 'q');
  stored text;
BEGIN
  IF throttle_interval_ms IS NULL OR throttle_interval_ms < 0 THEN
    RAISE EXCEPTION 'throttle_interval_ms: must be 0 or more milliseconds' USING ERRCODE = '22023';
  END IF;
  SELECT m.queue_name INTO stored FROM pgmq.meta m
  WHERE lower(m.queue_name) = lower(enable_notify_insert.queue_name);
  IF stored IS NULL THEN
    RAISE EXCEPTION 'queue_name: pgmq queue % does not exist', enable_notify_insert.queue_name
      USING ERRCODE = '42P01';
  END IF;
  INSERT INTO pgmq.notify_insert_throttle AS t (queue_name, throttle_interval_ms)
  VALUES (stored, enable_notify_insert.throttle_interval_ms)
  ON CONFLICT ON CONSTRAINT notify_insert_throttle_queue_name_key
  DO UPDATE SET throttle_interval_ms = excluded.throttle_interval_ms;
  EXECUTE format('DROP TRIGGER IF EXISTS trigger_notify_queue_insert_listeners ON pgmq.%I', qtable);
  EXECUTE format(
    'CREATE TRIGGER trigger_notify_queue_insert_listeners AFTER INSERT ON pgmq.%I
     FOR EACH STATEMENT EXECUTE FUNCTION pgmq._animus_notify_insert(%L)',
    qtable, stored);
END
$$;

CREATE FUNCTION pgmq.disable_notify_insert(queue_name text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format('DROP TRIGGER IF EXISTS trigger_notify_queue_insert_listeners ON pgmq.%I',
                 pgmq.format_table_name(queue_name, 'q'));
  DELETE FROM pgmq.notify_insert_throttle t
  WHERE lower(t.queue_name) = lower(disable_notify_insert.queue_name);
END
$$;
