-- Cached plans for animus's compatible pgmq schema (0002). Each queue gets its own small
-- plpgsql functions whose SQL names that queue's tables statically, so a session plans each
-- statement once and reuses the plan, instead of building, parsing and planning dynamic SQL on
-- every call. The public functions keep their signatures, defaults and behaviour: they check
-- the name, find the queue's function and call it; a queue without them (one whose function
-- names would not fit in an identifier, or that does not exist) takes 0002's dynamic path, so
-- errors stay as they were: 0002's read, pop, set_vt, archive, delete and _animus_send_batch
-- are kept, renamed `_animus_<name>_dynamic`, and the new functions call them for it.
-- No `-- animus:pgmq` directive: that one decides by what the server offers, and a database
-- holding the compatible schema on a server that later offers the extension would get
-- `CREATE EXTENSION pgmq` over animus's schema. This file follows what 0002 installed instead:
-- it changes animus's compatible schema and nothing else (the guard below), so where the real
-- extension is installed it does nothing.
--
-- Per-queue functions, for queue table q_<name> (lower case), all in schema pgmq:
--   _send_q_<name>(msg, headers, visible_at)          _sendbatch_q_<name>(msgs, headers, visible_at)
--   _read_q_<name>(vt, qty, conditional)              _pop_q_<name>(qty)
--   _setvt_q_<name>(msg_id, vt)
--   _archive_q_<name>(msg_id)  _archivemany_q_<name>(msg_ids)
--   _delete_q_<name>(msg_id)   _deletemany_q_<name>(msg_ids)
-- The operation word has no underscore and every table name starts with q_, so two queues'
-- function names never coincide. Names only ever reach SQL through format('%I') or
-- quote_ident, and function bodies through format('%L').

DO $migration$
BEGIN
  IF to_regprocedure('pgmq.animus_compat_version()') IS NULL THEN
    RAISE NOTICE 'schema pgmq is not animus''s compatible schema; nothing to do';
    RETURN;
  END IF;

  -- The qualified, quoted name of a queue's function for `op`, or NULL when the name is not a
  -- valid queue name (same rules as pgmq.validate_queue_name), the function name would not
  -- fit in an identifier, or the function does not exist. Plain SQL, so callers inline it.
  EXECUTE $ddl$
  CREATE FUNCTION pgmq._animus_queue_function(op text, queue_name text) RETURNS text
  LANGUAGE sql STABLE AS $fn$
    SELECT CASE
      WHEN length(queue_name) BETWEEN 1 AND 47
       AND strpos(queue_name, '$') = 0 AND strpos(queue_name, ';') = 0
       AND strpos(queue_name, '--') = 0 AND strpos(queue_name, '''') = 0
       AND octet_length('_' || op || '_q_' || lower(queue_name)) <= 63
       AND to_regproc('pgmq.' || quote_ident('_' || op || '_q_' || lower(queue_name))) IS NOT NULL
      THEN 'pgmq.' || quote_ident('_' || op || '_q_' || lower(queue_name))
    END
  $fn$
  $ddl$;

  -- Creates (or replaces) a queue's functions. Returns false, creating nothing, when a name
  -- would be longer than an identifier may be (a long name of multi-byte characters): such a
  -- queue keeps the dynamic path.
  EXECUTE $ddl$
  CREATE FUNCTION pgmq._animus_create_queue_functions(queue_name text) RETURNS boolean
  LANGUAGE plpgsql AS $fn$
  DECLARE
    qtable text := pgmq.format_table_name(queue_name, 'q');
    atable text := pgmq.format_table_name(queue_name, 'a');
    cols text := 'q.msg_id, q.read_ct, q.enqueued_at, q.last_read_at, q.vt, q.message, q.headers';
    read_sql text;
    pop_sql text;
  BEGIN
    IF octet_length('_archivemany_' || qtable) > 63 THEN
      RETURN false;
    END IF;
    EXECUTE format(
      'CREATE OR REPLACE FUNCTION pgmq.%I(jsonb, jsonb, timestamptz) RETURNS bigint
       LANGUAGE plpgsql AS %L',
      '_send_' || qtable,
      format($q$DECLARE
        id bigint;
      BEGIN
        INSERT INTO pgmq.%I (vt, message, headers) VALUES ($3, $1, $2) RETURNING msg_id INTO id;
        RETURN id;
      END$q$, qtable));
    EXECUTE format(
      'CREATE OR REPLACE FUNCTION pgmq.%I(jsonb[], jsonb[], timestamptz) RETURNS SETOF bigint
       LANGUAGE plpgsql AS %L',
      '_sendbatch_' || qtable,
      format($q$BEGIN
        IF $2 IS NOT NULL AND cardinality($2) <> cardinality($1) THEN
          RAISE EXCEPTION 'headers: %% entries for %% messages; pass one per message, or none',
            cardinality($2), cardinality($1) USING ERRCODE = '22023';
        END IF;
        RETURN QUERY
        INSERT INTO pgmq.%I (vt, message, headers)
        SELECT $3, m.msg, m.hdr FROM unnest($1, $2) WITH ORDINALITY AS m (msg, hdr, n)
        ORDER BY m.n
        RETURNING msg_id;
      END$q$, qtable));
    -- read and pop: a plan for qty 1 with a constant LIMIT, so the session keeps one generic
    -- plan (a parameter LIMIT makes the planner cost the generic plan as if it took a tenth
    -- of the table, so it would plan every call); any other qty plans per call as 0002 did.
    read_sql := $q$
          UPDATE pgmq.%1$I AS q
          SET vt = clock_timestamp() + make_interval(secs => $1),
              read_ct = q.read_ct + 1,
              last_read_at = clock_timestamp()
          WHERE q.msg_id = ANY (ARRAY(
            SELECT msg_id FROM pgmq.%1$I
            WHERE vt <= clock_timestamp()%3$s
            ORDER BY msg_id
            LIMIT %4$s
            FOR UPDATE SKIP LOCKED))
          RETURNING %2$s$q$;
    EXECUTE format(
      'CREATE OR REPLACE FUNCTION pgmq.%I(integer, integer, jsonb) RETURNS SETOF pgmq.message_record
       LANGUAGE plpgsql AS %L',
      '_read_' || qtable,
      format($q$BEGIN
        IF $3 IS NULL OR $3 = '{}'::jsonb THEN
          IF $2 = 1 THEN
            RETURN QUERY %s;
          ELSE
            RETURN QUERY %s;
          END IF;
        ELSIF $2 = 1 THEN
          RETURN QUERY %s;
        ELSE
          RETURN QUERY %s;
        END IF;
      END$q$,
        format(read_sql, qtable, cols, '', '1'),
        format(read_sql, qtable, cols, '', '$2'),
        format(read_sql, qtable, cols, ' AND message @> $3', '1'),
        format(read_sql, qtable, cols, ' AND message @> $3', '$2')));
    pop_sql := $q$
          DELETE FROM pgmq.%1$I AS q
          WHERE q.msg_id = ANY (ARRAY(
            SELECT msg_id FROM pgmq.%1$I
            WHERE vt <= clock_timestamp()
            ORDER BY msg_id
            LIMIT %3$s
            FOR UPDATE SKIP LOCKED))
          RETURNING %2$s$q$;
    EXECUTE format(
      'CREATE OR REPLACE FUNCTION pgmq.%I(integer) RETURNS SETOF pgmq.message_record
       LANGUAGE plpgsql AS %L',
      '_pop_' || qtable,
      format($q$BEGIN
        IF $1 = 1 THEN
          RETURN QUERY %s;
        ELSE
          RETURN QUERY %s;
        END IF;
      END$q$,
        format(pop_sql, qtable, cols, '1'),
        format(pop_sql, qtable, cols, '$1')));
    EXECUTE format(
      'CREATE OR REPLACE FUNCTION pgmq.%I(bigint, integer) RETURNS SETOF pgmq.message_record
       LANGUAGE plpgsql AS %L',
      '_setvt_' || qtable,
      format($q$BEGIN
        RETURN QUERY
        UPDATE pgmq.%1$I AS q
        SET vt = clock_timestamp() + make_interval(secs => $2)
        WHERE q.msg_id = $1
        RETURNING %2$s;
      END$q$, qtable, cols));
    EXECUTE format(
      'CREATE OR REPLACE FUNCTION pgmq.%I(bigint) RETURNS boolean
       LANGUAGE plpgsql AS %L',
      '_archive_' || qtable,
      format($q$BEGIN
        WITH moved AS (
          DELETE FROM pgmq.%1$I WHERE msg_id = $1
          RETURNING msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers)
        INSERT INTO pgmq.%2$I (msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers)
        SELECT msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers FROM moved;
        RETURN FOUND;
      END$q$, qtable, atable));
    EXECUTE format(
      'CREATE OR REPLACE FUNCTION pgmq.%I(bigint[]) RETURNS SETOF bigint
       LANGUAGE plpgsql AS %L',
      '_archivemany_' || qtable,
      format($q$BEGIN
        RETURN QUERY
        WITH moved AS (
          DELETE FROM pgmq.%1$I WHERE msg_id = ANY ($1)
          RETURNING msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers)
        INSERT INTO pgmq.%2$I (msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers)
        SELECT msg_id, read_ct, enqueued_at, last_read_at, vt, message, headers FROM moved
        RETURNING msg_id;
      END$q$, qtable, atable));
    EXECUTE format(
      'CREATE OR REPLACE FUNCTION pgmq.%I(bigint) RETURNS boolean
       LANGUAGE plpgsql AS %L',
      '_delete_' || qtable,
      format($q$BEGIN
        DELETE FROM pgmq.%I WHERE msg_id = $1;
        RETURN FOUND;
      END$q$, qtable));
    EXECUTE format(
      'CREATE OR REPLACE FUNCTION pgmq.%I(bigint[]) RETURNS SETOF bigint
       LANGUAGE plpgsql AS %L',
      '_deletemany_' || qtable,
      format($q$BEGIN
        RETURN QUERY DELETE FROM pgmq.%I WHERE msg_id = ANY ($1) RETURNING msg_id;
      END$q$, qtable));
    RETURN true;
  END
  $fn$
  $ddl$;

  EXECUTE $ddl$
  CREATE FUNCTION pgmq._animus_drop_queue_functions(queue_name text) RETURNS void
  LANGUAGE plpgsql AS $fn$
  DECLARE
    qtable text := pgmq.format_table_name(queue_name, 'q');
  BEGIN
    EXECUTE format('DROP FUNCTION IF EXISTS pgmq.%I(jsonb, jsonb, timestamptz)', '_send_' || qtable);
    EXECUTE format('DROP FUNCTION IF EXISTS pgmq.%I(jsonb[], jsonb[], timestamptz)', '_sendbatch_' || qtable);
    EXECUTE format('DROP FUNCTION IF EXISTS pgmq.%I(integer, integer, jsonb)', '_read_' || qtable);
    EXECUTE format('DROP FUNCTION IF EXISTS pgmq.%I(integer)', '_pop_' || qtable);
    EXECUTE format('DROP FUNCTION IF EXISTS pgmq.%I(bigint, integer)', '_setvt_' || qtable);
    EXECUTE format('DROP FUNCTION IF EXISTS pgmq.%I(bigint)', '_archive_' || qtable);
    EXECUTE format('DROP FUNCTION IF EXISTS pgmq.%I(bigint[])', '_archivemany_' || qtable);
    EXECUTE format('DROP FUNCTION IF EXISTS pgmq.%I(bigint)', '_delete_' || qtable);
    EXECUTE format('DROP FUNCTION IF EXISTS pgmq.%I(bigint[])', '_deletemany_' || qtable);
  END
  $fn$
  $ddl$;

  -- Queue management: create makes the functions with the tables, drop_queue drops them.
  EXECUTE $ddl$
  CREATE FUNCTION pgmq._animus_create_queue(queue_name text, unlogged boolean) RETURNS void
  LANGUAGE plpgsql AS $fn$
  BEGIN
    PERFORM pgmq._animus_create(queue_name, unlogged);
    PERFORM pgmq._animus_create_queue_functions(queue_name);
  END
  $fn$
  $ddl$;
  EXECUTE $ddl$
  CREATE OR REPLACE FUNCTION pgmq.create(queue_name text) RETURNS void
  LANGUAGE sql AS $fn$ SELECT pgmq._animus_create_queue(queue_name, false) $fn$
  $ddl$;
  EXECUTE $ddl$
  CREATE OR REPLACE FUNCTION pgmq.create_non_partitioned(queue_name text) RETURNS void
  LANGUAGE sql AS $fn$ SELECT pgmq._animus_create_queue(queue_name, false) $fn$
  $ddl$;
  EXECUTE $ddl$
  CREATE OR REPLACE FUNCTION pgmq.create_unlogged(queue_name text) RETURNS void
  LANGUAGE sql AS $fn$ SELECT pgmq._animus_create_queue(queue_name, true) $fn$
  $ddl$;

  EXECUTE $ddl$
  CREATE OR REPLACE FUNCTION pgmq.drop_queue(queue_name text) RETURNS boolean
  LANGUAGE plpgsql AS $fn$
  DECLARE
    qtable text := pgmq.format_table_name(queue_name, 'q');
    atable text := pgmq.format_table_name(queue_name, 'a');
  BEGIN
    IF NOT EXISTS (SELECT 1 FROM pgmq.meta m WHERE lower(m.queue_name) = lower(drop_queue.queue_name)) THEN
      RAISE NOTICE 'pgmq queue % does not exist', drop_queue.queue_name;
      RETURN false;
    END IF;
    PERFORM pgmq._animus_drop_queue_functions(queue_name);
    EXECUTE format('DROP TABLE IF EXISTS pgmq.%I', qtable);
    EXECUTE format('DROP TABLE IF EXISTS pgmq.%I', atable);
    DELETE FROM pgmq.meta m WHERE lower(m.queue_name) = lower(drop_queue.queue_name);
    RETURN true;
  END
  $fn$
  $ddl$;

  -- Sending. The six send forms call the queue's function themselves (one call less on the
  -- busiest path); without one they take 0002's _animus_send. The six send_batch forms funnel
  -- into _animus_send_batch, which dispatches.
  EXECUTE $ddl$
  CREATE OR REPLACE FUNCTION pgmq.send(queue_name text, msg jsonb) RETURNS SETOF bigint
  LANGUAGE plpgsql AS $fn$
  DECLARE
    fn text := pgmq._animus_queue_function('send', queue_name);
    id bigint;
  BEGIN
    IF fn IS NULL THEN
      RETURN QUERY SELECT pgmq._animus_send(queue_name, msg, NULL, clock_timestamp());
      RETURN;
    END IF;
    EXECUTE 'SELECT ' || fn || '($1, $2, $3)' INTO id USING msg, NULL::jsonb, clock_timestamp();
    RETURN NEXT id;
  END
  $fn$
  $ddl$;

  EXECUTE $ddl$
  CREATE OR REPLACE FUNCTION pgmq.send(queue_name text, msg jsonb, delay integer) RETURNS SETOF bigint
  LANGUAGE plpgsql AS $fn$
  DECLARE
    fn text := pgmq._animus_queue_function('send', queue_name);
    id bigint;
  BEGIN
    IF fn IS NULL THEN
      RETURN QUERY SELECT pgmq._animus_send(queue_name, msg, NULL,
                                            clock_timestamp() + make_interval(secs => delay));
      RETURN;
    END IF;
    EXECUTE 'SELECT ' || fn || '($1, $2, $3)' INTO id
    USING msg, NULL::jsonb, clock_timestamp() + make_interval(secs => delay);
    RETURN NEXT id;
  END
  $fn$
  $ddl$;

  EXECUTE $ddl$
  CREATE OR REPLACE FUNCTION pgmq.send(queue_name text, msg jsonb, delay timestamptz) RETURNS SETOF bigint
  LANGUAGE plpgsql AS $fn$
  DECLARE
    fn text := pgmq._animus_queue_function('send', queue_name);
    id bigint;
  BEGIN
    IF fn IS NULL THEN
      RETURN QUERY SELECT pgmq._animus_send(queue_name, msg, NULL, delay);
      RETURN;
    END IF;
    EXECUTE 'SELECT ' || fn || '($1, $2, $3)' INTO id USING msg, NULL::jsonb, delay;
    RETURN NEXT id;
  END
  $fn$
  $ddl$;

  EXECUTE $ddl$
  CREATE OR REPLACE FUNCTION pgmq.send(queue_name text, msg jsonb, headers jsonb) RETURNS SETOF bigint
  LANGUAGE plpgsql AS $fn$
  DECLARE
    fn text := pgmq._animus_queue_function('send', queue_name);
    id bigint;
  BEGIN
    IF fn IS NULL THEN
      RETURN QUERY SELECT pgmq._animus_send(queue_name, msg, headers, clock_timestamp());
      RETURN;
    END IF;
    EXECUTE 'SELECT ' || fn || '($1, $2, $3)' INTO id USING msg, headers, clock_timestamp();
    RETURN NEXT id;
  END
  $fn$
  $ddl$;

  EXECUTE $ddl$
  CREATE OR REPLACE FUNCTION pgmq.send(queue_name text, msg jsonb, headers jsonb, delay integer)
  RETURNS SETOF bigint
  LANGUAGE plpgsql AS $fn$
  DECLARE
    fn text := pgmq._animus_queue_function('send', queue_name);
    id bigint;
  BEGIN
    IF fn IS NULL THEN
      RETURN QUERY SELECT pgmq._animus_send(queue_name, msg, headers,
                                            clock_timestamp() + make_interval(secs => delay));
      RETURN;
    END IF;
    EXECUTE 'SELECT ' || fn || '($1, $2, $3)' INTO id
    USING msg, headers, clock_timestamp() + make_interval(secs => delay);
    RETURN NEXT id;
  END
  $fn$
  $ddl$;

  EXECUTE $ddl$
  CREATE OR REPLACE FUNCTION pgmq.send(queue_name text, msg jsonb, headers jsonb, delay timestamptz)
  RETURNS SETOF bigint
  LANGUAGE plpgsql AS $fn$
  DECLARE
    fn text := pgmq._animus_queue_function('send', queue_name);
    id bigint;
  BEGIN
    IF fn IS NULL THEN
      RETURN QUERY SELECT pgmq._animus_send(queue_name, msg, headers, delay);
      RETURN;
    END IF;
    EXECUTE 'SELECT ' || fn || '($1, $2, $3)' INTO id USING msg, headers, delay;
    RETURN NEXT id;
  END
  $fn$
  $ddl$;

  ALTER FUNCTION pgmq._animus_send_batch(text, jsonb[], jsonb[], timestamptz) RENAME TO _animus_send_batch_dynamic;
  EXECUTE $ddl$
  CREATE FUNCTION pgmq._animus_send_batch(
    queue_name text, msgs jsonb[], headers jsonb[], visible_at timestamptz
  ) RETURNS SETOF bigint
  LANGUAGE plpgsql AS $fn$
  DECLARE
    fn text := pgmq._animus_queue_function('sendbatch', queue_name);
  BEGIN
    IF fn IS NOT NULL THEN
      RETURN QUERY EXECUTE 'SELECT * FROM ' || fn || '($1, $2, $3)' USING msgs, headers, visible_at;
    ELSE
      RETURN QUERY SELECT * FROM pgmq._animus_send_batch_dynamic(queue_name, msgs, headers, visible_at);
    END IF;
  END
  $fn$
  $ddl$;

  -- Reading.
  ALTER FUNCTION pgmq.read(text, integer, integer, jsonb) RENAME TO _animus_read_dynamic;
  EXECUTE $ddl$
  CREATE FUNCTION pgmq.read(queue_name text, vt integer, qty integer, conditional jsonb DEFAULT '{}')
  RETURNS SETOF pgmq.message_record
  LANGUAGE plpgsql AS $fn$
  DECLARE
    fn text := pgmq._animus_queue_function('read', queue_name);
  BEGIN
    IF fn IS NOT NULL THEN
      RETURN QUERY EXECUTE 'SELECT * FROM ' || fn || '($1, $2, $3)' USING vt, qty, conditional;
    ELSE
      RETURN QUERY SELECT * FROM pgmq._animus_read_dynamic(queue_name, vt, qty, conditional);
    END IF;
  END
  $fn$
  $ddl$;

  ALTER FUNCTION pgmq.pop(text, integer) RENAME TO _animus_pop_dynamic;
  EXECUTE $ddl$
  CREATE FUNCTION pgmq.pop(queue_name text, qty integer DEFAULT 1)
  RETURNS SETOF pgmq.message_record
  LANGUAGE plpgsql AS $fn$
  DECLARE
    fn text := pgmq._animus_queue_function('pop', queue_name);
  BEGIN
    IF fn IS NOT NULL THEN
      RETURN QUERY EXECUTE 'SELECT * FROM ' || fn || '($1)' USING qty;
    ELSE
      RETURN QUERY SELECT * FROM pgmq._animus_pop_dynamic(queue_name, qty);
    END IF;
  END
  $fn$
  $ddl$;

  ALTER FUNCTION pgmq.set_vt(text, bigint, integer) RENAME TO _animus_set_vt_dynamic;
  EXECUTE $ddl$
  CREATE FUNCTION pgmq.set_vt(queue_name text, msg_id bigint, vt integer)
  RETURNS SETOF pgmq.message_record
  LANGUAGE plpgsql AS $fn$
  DECLARE
    fn text := pgmq._animus_queue_function('setvt', queue_name);
  BEGIN
    IF fn IS NOT NULL THEN
      RETURN QUERY EXECUTE 'SELECT * FROM ' || fn || '($1, $2)' USING msg_id, vt;
    ELSE
      RETURN QUERY SELECT * FROM pgmq._animus_set_vt_dynamic(queue_name, msg_id, vt);
    END IF;
  END
  $fn$
  $ddl$;

  -- Settling.
  ALTER FUNCTION pgmq.archive(text, bigint[]) RENAME TO _animus_archive_dynamic;
  EXECUTE $ddl$
  CREATE FUNCTION pgmq.archive(queue_name text, msg_ids bigint[]) RETURNS SETOF bigint
  LANGUAGE plpgsql AS $fn$
  DECLARE
    fn text := pgmq._animus_queue_function('archivemany', queue_name);
  BEGIN
    IF fn IS NOT NULL THEN
      RETURN QUERY EXECUTE 'SELECT * FROM ' || fn || '($1)' USING msg_ids;
    ELSE
      RETURN QUERY SELECT * FROM pgmq._animus_archive_dynamic(queue_name, msg_ids);
    END IF;
  END
  $fn$
  $ddl$;

  ALTER FUNCTION pgmq.archive(text, bigint) RENAME TO _animus_archive_dynamic;
  EXECUTE $ddl$
  CREATE FUNCTION pgmq.archive(queue_name text, msg_id bigint) RETURNS boolean
  LANGUAGE plpgsql AS $fn$
  DECLARE
    fn text := pgmq._animus_queue_function('archive', queue_name);
    ok boolean;
  BEGIN
    IF fn IS NULL THEN
      RETURN pgmq._animus_archive_dynamic(queue_name, msg_id);
    END IF;
    EXECUTE 'SELECT ' || fn || '($1)' INTO ok USING msg_id;
    RETURN ok;
  END
  $fn$
  $ddl$;

  ALTER FUNCTION pgmq.delete(text, bigint[]) RENAME TO _animus_delete_dynamic;
  EXECUTE $ddl$
  CREATE FUNCTION pgmq.delete(queue_name text, msg_ids bigint[]) RETURNS SETOF bigint
  LANGUAGE plpgsql AS $fn$
  DECLARE
    fn text := pgmq._animus_queue_function('deletemany', queue_name);
  BEGIN
    IF fn IS NOT NULL THEN
      RETURN QUERY EXECUTE 'SELECT * FROM ' || fn || '($1)' USING msg_ids;
    ELSE
      RETURN QUERY SELECT * FROM pgmq._animus_delete_dynamic(queue_name, msg_ids);
    END IF;
  END
  $fn$
  $ddl$;

  ALTER FUNCTION pgmq.delete(text, bigint) RENAME TO _animus_delete_dynamic;
  EXECUTE $ddl$
  CREATE FUNCTION pgmq.delete(queue_name text, msg_id bigint) RETURNS boolean
  LANGUAGE plpgsql AS $fn$
  DECLARE
    fn text := pgmq._animus_queue_function('delete', queue_name);
    ok boolean;
  BEGIN
    IF fn IS NULL THEN
      RETURN pgmq._animus_delete_dynamic(queue_name, msg_id);
    END IF;
    EXECUTE 'SELECT ' || fn || '($1)' INTO ok USING msg_id;
    RETURN ok;
  END
  $fn$
  $ddl$;

  -- Queues created before this migration.
  PERFORM pgmq._animus_create_queue_functions(m.queue_name) FROM pgmq.meta m;
END
$migration$;
