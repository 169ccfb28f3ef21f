-- ---------------------------------------------------------------------------
-- Mirroring: keep a local table in sync with a vectorpg_fdw foreign table
-- (src/mirror.c, src/mirror_worker.c; doc/mirror.md)
-- ---------------------------------------------------------------------------

-- One row per mirror: its configuration and the worker's progress.  Dumped
-- (configuration and progress); after restoring a dump, mirror_resync
-- sends everything again, since the outbox is not dumped.
CREATE TABLE vectorpg.mirrors (
	id serial PRIMARY KEY,
	name text NOT NULL UNIQUE,
	source regclass NOT NULL,
	id_column name NOT NULL,
	vector_column name NOT NULL,
	metadata_columns name[],
	metadata_column name,
	sparse_column name,			-- jsonb sparse values {"indices","values"}, or NULL
	target regclass NOT NULL,
	owner regrole NOT NULL,
	state text NOT NULL DEFAULT 'running'
		CHECK (state IN ('running', 'paused', 'parked')),
	batch_size integer NOT NULL,
	max_errors integer NOT NULL,
	backoff_cap_ms integer NOT NULL,
	backfill_done boolean NOT NULL DEFAULT false,
	backfill_cursor text,
	backfill_rows bigint NOT NULL DEFAULT 0,
	backfill_total bigint,
	backfill_started timestamptz,
	backfill_finished timestamptz,
	rows_sent bigint NOT NULL DEFAULT 0,
	dead_letters bigint NOT NULL DEFAULT 0,
	rows_per_s double precision,
	rate_window_start timestamptz,
	rate_window_rows bigint NOT NULL DEFAULT 0,
	last_success timestamptz,
	last_error text,
	last_error_at timestamptz,
	error_count integer NOT NULL DEFAULT 0,
	transient_failures integer NOT NULL DEFAULT 0,
	retry_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT now(),
	CHECK (metadata_columns IS NULL OR metadata_column IS NULL)
);

COMMENT ON TABLE vectorpg.mirrors IS
	'mirrors of local tables to vectorpg_fdw foreign tables: configuration, state and progress (see vectorpg.mirror_status)';

SELECT pg_catalog.pg_extension_config_dump('vectorpg.mirrors', '');
SELECT pg_catalog.pg_extension_config_dump('vectorpg.mirrors_id_seq', '');

-- Which ids changed: the capture trigger adds, the worker removes after the
-- remote acknowledged the rows' current state.  Not dumped.
CREATE TABLE vectorpg.mirror_outbox (
	mirror_id integer NOT NULL,
	seq bigserial,
	row_id text NOT NULL,
	enqueued_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (mirror_id, seq)
);

COMMENT ON TABLE vectorpg.mirror_outbox IS
	'ids of mirrored rows changed by committed transactions and not yet acknowledged by the remote';

-- Items the remote rejected for good, with its reason
CREATE TABLE vectorpg.mirror_dead_letters (
	id bigserial PRIMARY KEY,
	mirror_id integer NOT NULL,
	row_id text NOT NULL,
	operation text NOT NULL,
	payload text NOT NULL,
	reason text NOT NULL,
	http_status integer,
	failed_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX ON vectorpg.mirror_dead_letters (mirror_id);

COMMENT ON TABLE vectorpg.mirror_dead_letters IS
	'mirrored items the remote rejected permanently, with its reason; vectorpg.mirror_retry sends them again';

SELECT pg_catalog.pg_extension_config_dump('vectorpg.mirror_dead_letters', '');
SELECT pg_catalog.pg_extension_config_dump('vectorpg.mirror_dead_letters_id_seq', '');

CREATE FUNCTION vectorpg.mirror_capture() RETURNS trigger
	AS 'MODULE_PATHNAME', 'mirror_capture' LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION vectorpg.mirror_capture() IS
	'trigger of mirrored tables: enqueues the ids a statement changed into vectorpg.mirror_outbox';

CREATE FUNCTION vectorpg.mirror_worker_start() RETURNS integer
	AS 'MODULE_PATHNAME', 'mirror_worker_start' LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION vectorpg.mirror_worker_start() IS
	'process id of this database''s mirror worker; when none runs, starts one and returns NULL';

CREATE FUNCTION vectorpg.mirror_remote_info(target regclass, OUT dimension integer,
		OUT metric text, OUT record_count bigint) RETURNS record
	AS 'MODULE_PATHNAME', 'mirror_remote_info' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION vectorpg.mirror_remote_info(regclass) IS
	'dimension, metric and record count of a vectorpg_fdw foreign table''s remote index, asked afresh';

CREATE FUNCTION vectorpg.mirror_remote_delete(target regclass, ids text[]) RETURNS bigint
	AS 'MODULE_PATHNAME', 'mirror_remote_delete' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION vectorpg.mirror_remote_delete(regclass, text[]) IS
	'deletes these ids from a vectorpg_fdw foreign table''s remote index (mirror_drop''s clean-up)';

CREATE FUNCTION vectorpg.mirror_limits(OUT name text, OUT min bigint, OUT "default" bigint,
		OUT max bigint) RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'mirror_limits' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION vectorpg.mirror_limits() IS
	'ranges and defaults of the mirror options and settings';

-- The mirror of this name, locked for update; a clear error when there is none
CREATE FUNCTION vectorpg.mirror_lookup(mirror text) RETURNS vectorpg.mirrors
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m vectorpg.mirrors;
BEGIN
	SELECT * INTO m FROM vectorpg.mirrors WHERE name = $1 FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_object',
			MESSAGE = format('mirror "%s" does not exist', $1),
			HINT = 'The view vectorpg.mirror_status lists the mirrors.';
	END IF;
	RETURN m;
END
$$;

COMMENT ON FUNCTION vectorpg.mirror_lookup(text) IS
	'the catalog row of a mirror, locked, or an error naming it';

-- The SQL expression (over alias s) of a mirror's metadata as jsonb
CREATE FUNCTION vectorpg.mirror_metadata_sql(m vectorpg.mirrors) RETURNS text
	LANGUAGE sql STABLE PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE
		WHEN m.metadata_column IS NOT NULL THEN format('s.%I::jsonb', m.metadata_column)
		WHEN m.metadata_columns IS NOT NULL AND cardinality(m.metadata_columns) > 0 THEN
			format('pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(%s))',
				(SELECT string_agg(format('%L, s.%I', c, c), ', ' ORDER BY o)
				 FROM unnest(m.metadata_columns) WITH ORDINALITY u(c, o)))
		ELSE 'NULL::jsonb' END
$$;

COMMENT ON FUNCTION vectorpg.mirror_metadata_sql(vectorpg.mirrors) IS
	'SQL expression (over alias s) of the metadata a mirror sends, as jsonb';

CREATE FUNCTION vectorpg.mirror(source regclass, target regclass,
		id_column name DEFAULT 'id', vector_column name DEFAULT NULL,
		metadata_columns name[] DEFAULT NULL, metadata_column name DEFAULT NULL,
		name text DEFAULT NULL, batch_size integer DEFAULT NULL,
		max_errors integer DEFAULT NULL, backoff_cap_ms integer DEFAULT NULL,
		backfill boolean DEFAULT true, sparse_column name DEFAULT NULL)
	RETURNS integer
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	p_source regclass := $1;
	p_target regclass := $2;
	p_id name := $3;
	p_vec name := $4;
	p_cols name[] := $5;
	p_col name := $6;
	p_name text := $7;
	p_batch integer := $8;
	p_max_errors integer := $9;
	p_cap integer := $10;
	p_backfill boolean := $11;
	p_sparse name := $12;
	v_kind "char";
	v_att record;
	v_nvec bigint;
	v_server oid;
	v_id integer;
	v_total bigint;
	v_lim record;
	c name;
BEGIN
	IF p_source IS NULL OR p_target IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed',
			MESSAGE = 'source and target must not be null';
	END IF;
	SELECT relkind INTO v_kind FROM pg_class WHERE oid = p_source;
	IF v_kind NOT IN ('r', 'p') THEN
		RAISE EXCEPTION USING ERRCODE = 'wrong_object_type',
			MESSAGE = format('"%s" is not a table', p_source),
			HINT = 'The source of a mirror is an ordinary or partitioned table.';
	END IF;
	SELECT s.oid INTO v_server
	FROM pg_class r
	JOIN pg_foreign_table ft ON ft.ftrelid = r.oid
	JOIN pg_foreign_server s ON s.oid = ft.ftserver
	JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
	WHERE r.oid = p_target AND w.fdwname = 'vectorpg_fdw';
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'wrong_object_type',
			MESSAGE = format('"%s" is not a foreign table of vectorpg_fdw', p_target),
			HINT = 'Create the foreign table with CREATE FOREIGN TABLE ... SERVER or IMPORT FOREIGN SCHEMA (doc/fdw.md).';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_user_mappings
				   WHERE srvid = v_server AND umuser IN (0, current_user::regrole::oid)) THEN
		RAISE EXCEPTION USING ERRCODE = 'fdw_option_name_not_found',
			MESSAGE = format('user "%s" has no user mapping for the server of "%s"', current_user, p_target),
			HINT = 'The worker sends as the mirror''s owner; create a user mapping with the remote''s credentials first.';
	END IF;

	-- the id column: unique, so that a row is one remote record
	SELECT a.attnum, a.atttypid INTO v_att FROM pg_attribute a
	WHERE a.attrelid = p_source AND a.attname = p_id AND a.attnum > 0 AND NOT a.attisdropped;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_column',
			MESSAGE = format('column "%s" of relation "%s" does not exist', p_id, p_source);
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_index i
				   WHERE i.indrelid = p_source AND i.indisunique AND i.indnatts = 1
					 AND i.indkey[0] = v_att.attnum AND i.indpred IS NULL
					 AND i.indexprs IS NULL) THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_column_reference',
			MESSAGE = format('column "%s" of "%s" has no unique index', p_id, p_source),
			HINT = 'A mirrored table needs a primary key or unique index on its id column alone.';
	END IF;

	-- the vector column: given, or the only one
	IF p_vec IS NULL THEN
		SELECT min(a.attname), count(*) INTO p_vec, v_nvec FROM pg_attribute a
		WHERE a.attrelid = p_source AND a.atttypid = '@extschema@.vector'::regtype
		  AND a.attnum > 0 AND NOT a.attisdropped;
		IF v_nvec <> 1 THEN
			RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
				MESSAGE = format('"%s" has %s vector columns', p_source, v_nvec),
				HINT = 'Name the column with vector_column.';
		END IF;
	ELSIF NOT EXISTS (SELECT 1 FROM pg_attribute a
					  WHERE a.attrelid = p_source AND a.attname = p_vec
						AND a.atttypid = '@extschema@.vector'::regtype
						AND a.attnum > 0 AND NOT a.attisdropped) THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_column',
			MESSAGE = format('"%s" has no vector column "%s"', p_source, p_vec);
	END IF;

	-- metadata: named columns, or one jsonb column
	IF p_cols IS NOT NULL AND p_col IS NOT NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'metadata_columns and metadata_column cannot both be given',
			HINT = 'Send either chosen columns or the keys of one jsonb column as metadata.';
	END IF;
	FOREACH c IN ARRAY coalesce(p_cols, '{}') LOOP
		IF NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = p_source
					   AND a.attname = c AND a.attnum > 0 AND NOT a.attisdropped) THEN
			RAISE EXCEPTION USING ERRCODE = 'undefined_column',
				MESSAGE = format('column "%s" of relation "%s" does not exist', c, p_source);
		END IF;
	END LOOP;
	IF p_col IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_attribute a
			WHERE a.attrelid = p_source AND a.attname = p_col
			  AND a.atttypid IN ('jsonb'::regtype, 'json'::regtype)
			  AND a.attnum > 0 AND NOT a.attisdropped) THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_column',
			MESSAGE = format('"%s" has no json or jsonb column "%s"', p_source, p_col);
	END IF;

	-- sparse values: one json or jsonb column of {"indices": [...], "values": [...]}
	IF p_sparse IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_attribute a
			WHERE a.attrelid = p_source AND a.attname = p_sparse
			  AND a.atttypid IN ('jsonb'::regtype, 'json'::regtype)
			  AND a.attnum > 0 AND NOT a.attisdropped) THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_column',
			MESSAGE = format('"%s" has no json or jsonb column "%s"', p_source, p_sparse),
			HINT = 'sparse_column names a column of sparse values {"indices": [...], "values": [...]}.';
	END IF;

	-- options within vectorpg.mirror_limits()
	FOR v_lim IN SELECT * FROM vectorpg.mirror_limits() LOOP
		IF v_lim.name = 'batch_size' THEN
			p_batch := coalesce(p_batch, v_lim."default");
			IF p_batch NOT BETWEEN v_lim.min AND v_lim.max THEN
				RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
					MESSAGE = format('batch_size must be between %s and %s', v_lim.min, v_lim.max);
			END IF;
		ELSIF v_lim.name = 'max_errors' THEN
			p_max_errors := coalesce(p_max_errors, v_lim."default");
			IF p_max_errors NOT BETWEEN v_lim.min AND v_lim.max THEN
				RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
					MESSAGE = format('max_errors must be between %s and %s', v_lim.min, v_lim.max);
			END IF;
		ELSIF v_lim.name = 'backoff_cap_ms' THEN
			p_cap := coalesce(p_cap, v_lim."default");
			IF p_cap NOT BETWEEN v_lim.min AND v_lim.max THEN
				RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
					MESSAGE = format('backoff_cap_ms must be between %s and %s', v_lim.min, v_lim.max);
			END IF;
		END IF;
	END LOOP;

	p_name := coalesce(p_name, (SELECT relname FROM pg_class WHERE oid = p_source));
	IF EXISTS (SELECT 1 FROM vectorpg.mirrors WHERE name = p_name) THEN
		RAISE EXCEPTION USING ERRCODE = 'duplicate_object',
			MESSAGE = format('mirror "%s" already exists', p_name),
			HINT = 'Choose another name with the name argument.';
	END IF;

	IF p_backfill THEN
		EXECUTE format('SELECT count(*) FROM %s', p_source) INTO v_total;
	END IF;
	INSERT INTO vectorpg.mirrors (name, source, id_column, vector_column, metadata_columns,
		metadata_column, sparse_column, target, owner, batch_size, max_errors, backoff_cap_ms,
		backfill_done, backfill_total, backfill_started)
	VALUES (p_name, p_source, p_id, p_vec, p_cols, p_col, p_sparse, p_target, current_user::regrole,
		p_batch, p_max_errors, p_cap, NOT p_backfill, v_total,
		CASE WHEN p_backfill THEN now() END)
	RETURNING id INTO v_id;

	-- capture: in the writer's transaction, statement by statement
	EXECUTE format('CREATE TRIGGER %I AFTER INSERT ON %s REFERENCING NEW TABLE AS vpg_mirror_new'
		' FOR EACH STATEMENT EXECUTE FUNCTION vectorpg.mirror_capture(%L, %L)',
		'vectorpg_mirror_' || v_id || '_insert', p_source, v_id, p_id);
	EXECUTE format('CREATE TRIGGER %I AFTER UPDATE ON %s REFERENCING OLD TABLE AS vpg_mirror_old'
		' NEW TABLE AS vpg_mirror_new'
		' FOR EACH STATEMENT EXECUTE FUNCTION vectorpg.mirror_capture(%L, %L)',
		'vectorpg_mirror_' || v_id || '_update', p_source, v_id, p_id);
	EXECUTE format('CREATE TRIGGER %I AFTER DELETE ON %s REFERENCING OLD TABLE AS vpg_mirror_old'
		' FOR EACH STATEMENT EXECUTE FUNCTION vectorpg.mirror_capture(%L, %L)',
		'vectorpg_mirror_' || v_id || '_delete', p_source, v_id, p_id);
	EXECUTE format('CREATE TRIGGER %I BEFORE TRUNCATE ON %s'
		' FOR EACH STATEMENT EXECUTE FUNCTION vectorpg.mirror_capture(%L, %L)',
		'vectorpg_mirror_' || v_id || '_truncate', p_source, v_id, p_id);

	PERFORM vectorpg.mirror_worker_start();
	RETURN v_id;
END
$$;

COMMENT ON FUNCTION vectorpg.mirror(regclass, regclass, name, name, name[], name, text,
		integer, integer, integer, boolean, name) IS
	'mirrors a local table to a vectorpg_fdw foreign table: backfills it, then sends every committed change';

CREATE FUNCTION vectorpg.mirror_pause(mirror text) RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m vectorpg.mirrors := vectorpg.mirror_lookup($1);
BEGIN
	UPDATE vectorpg.mirrors SET state = 'paused' WHERE id = m.id;
END
$$;

COMMENT ON FUNCTION vectorpg.mirror_pause(text) IS
	'stops sending a mirror''s changes; they keep being captured until mirror_resume';

CREATE FUNCTION vectorpg.mirror_resume(mirror text) RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m vectorpg.mirrors := vectorpg.mirror_lookup($1);
BEGIN
	UPDATE vectorpg.mirrors
	SET state = 'running', retry_at = NULL, transient_failures = 0,
		error_count = CASE WHEN state = 'parked' THEN 0 ELSE error_count END
	WHERE id = m.id;
	PERFORM vectorpg.mirror_worker_start();
END
$$;

COMMENT ON FUNCTION vectorpg.mirror_resume(text) IS
	'sends a paused or parked mirror''s changes again (dead letters stay; see mirror_retry)';

CREATE FUNCTION vectorpg.mirror_retry(mirror text) RETURNS bigint
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m vectorpg.mirrors := vectorpg.mirror_lookup($1);
	n bigint;
BEGIN
	WITH d AS (DELETE FROM vectorpg.mirror_dead_letters WHERE mirror_id = m.id RETURNING row_id)
	INSERT INTO vectorpg.mirror_outbox (mirror_id, row_id)
	SELECT DISTINCT m.id, row_id FROM d;
	GET DIAGNOSTICS n = ROW_COUNT;
	UPDATE vectorpg.mirrors
	SET state = CASE WHEN state = 'paused' THEN 'paused' ELSE 'running' END,
		retry_at = NULL, transient_failures = 0, error_count = 0
	WHERE id = m.id;
	PERFORM vectorpg.mirror_worker_start();
	RETURN n;
END
$$;

COMMENT ON FUNCTION vectorpg.mirror_retry(text) IS
	're-queues a mirror''s dead letters, clears its error count and unparks it; returns the ids re-queued';

CREATE FUNCTION vectorpg.mirror_resync(mirror text) RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m vectorpg.mirrors := vectorpg.mirror_lookup($1);
	v_total bigint;
BEGIN
	EXECUTE format('SELECT count(*) FROM %s', m.source) INTO v_total;
	UPDATE vectorpg.mirrors
	SET backfill_done = false, backfill_cursor = NULL, backfill_rows = 0,
		backfill_total = v_total, backfill_started = now(), backfill_finished = NULL
	WHERE id = m.id;
	PERFORM vectorpg.mirror_worker_start();
END
$$;

COMMENT ON FUNCTION vectorpg.mirror_resync(text) IS
	'sends every row of a mirrored table again (a full backfill); remote records with no local row stay';

CREATE FUNCTION vectorpg.mirror_drop(mirror text, remote_cleanup boolean DEFAULT false)
	RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	m vectorpg.mirrors := vectorpg.mirror_lookup($1);
	v_exists boolean := EXISTS (SELECT 1 FROM pg_class WHERE oid = m.source);
	ids text[];
	ev text;
BEGIN
	IF remote_cleanup THEN
		IF NOT v_exists THEN
			RAISE EXCEPTION USING ERRCODE = 'undefined_table',
				MESSAGE = format('the table of mirror "%s" no longer exists', m.name),
				HINT = 'Drop the mirror without remote_cleanup and delete the remote records by hand.';
		END IF;
		FOR ids IN EXECUTE format(
			'SELECT array_agg(x) FROM (SELECT s.%1$I::text x, (row_number() OVER () - 1) / 1000 g'
			' FROM %2$s s UNION ALL SELECT row_id, -1 FROM vectorpg.mirror_outbox'
			' WHERE mirror_id = %3$s) t GROUP BY g', m.id_column, m.source, m.id)
		LOOP
			PERFORM vectorpg.mirror_remote_delete(m.target, ids);
		END LOOP;
	END IF;
	IF v_exists THEN
		FOREACH ev IN ARRAY ARRAY['insert', 'update', 'delete', 'truncate'] LOOP
			EXECUTE format('DROP TRIGGER IF EXISTS %I ON %s',
				'vectorpg_mirror_' || m.id || '_' || ev, m.source);
		END LOOP;
	END IF;
	DELETE FROM vectorpg.mirror_outbox WHERE mirror_id = m.id;
	DELETE FROM vectorpg.mirror_dead_letters WHERE mirror_id = m.id;
	DELETE FROM vectorpg.mirrors WHERE id = m.id;
END
$$;

COMMENT ON FUNCTION vectorpg.mirror_drop(text, boolean) IS
	'stops mirroring a table: drops its triggers, pending changes and dead letters; with remote_cleanup also deletes its ids remotely';

CREATE VIEW vectorpg.mirror_status AS
SELECT m.name, m.source, m.target,
	CASE WHEN m.state <> 'running' THEN m.state
		 WHEN m.retry_at > now() THEN 'backoff'
		 ELSE 'running' END AS state,
	NOT m.backfill_done AS backfilling,
	m.backfill_rows,
	m.backfill_total,
	CASE WHEN m.backfill_done THEN 100.0
		 WHEN coalesce(m.backfill_total, 0) = 0 THEN 0.0
		 ELSE least(100.0, round(100.0 * m.backfill_rows / m.backfill_total, 1)) END
		AS backfill_pct,
	o.pending,
	now() - o.oldest AS oldest_pending_age,
	m.rows_sent,
	CASE WHEN m.last_success > now() - interval '10 seconds'
		 THEN round(coalesce(m.rows_per_s, 0)::numeric, 1) ELSE 0.0 END AS rows_per_s,
	m.last_success,
	m.last_error,
	m.last_error_at,
	m.error_count,
	m.max_errors,
	(SELECT count(*) FROM vectorpg.mirror_dead_letters d WHERE d.mirror_id = m.id)
		AS dead_letters,
	m.retry_at,
	w.pid AS worker_pid
FROM vectorpg.mirrors m
LEFT JOIN LATERAL (SELECT count(*) AS pending, min(ob.enqueued_at) AS oldest
				   FROM vectorpg.mirror_outbox ob WHERE ob.mirror_id = m.id) o ON true
CROSS JOIN (SELECT vectorpg.mirror_worker_start() AS pid) w;

COMMENT ON VIEW vectorpg.mirror_status IS
	'one row per mirror: state, backfill progress, pending changes and their age, rate, last success and error, worker';

GRANT SELECT ON vectorpg.mirror_status TO PUBLIC;

CREATE FUNCTION vectorpg.mirror_doctor(mirror text, OUT "check" text, OUT ok boolean,
		OUT detail text)
	RETURNS SETOF record
	LANGUAGE plpgsql VOLATILE STRICT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	m vectorpg.mirrors;
	v_src boolean;
	v_ft record;
	v_info record;
	v_rdim integer;
	v_localdim integer;
	v_dims integer[];
	v_opc text;
	v_local_metric text;
	v_remote_metric text;
	v_n integer;
	v_pid integer;
	v_pending bigint;
	v_oldest interval;
	v_state text;
	v_msg text;
	v_det text;
	v_code text;
BEGIN
	SELECT * INTO m FROM vectorpg.mirrors WHERE name = $1;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_object',
			MESSAGE = format('mirror "%s" does not exist', $1),
			HINT = 'The view vectorpg.mirror_status lists the mirrors.';
	END IF;

	-- the local side
	v_src := EXISTS (SELECT 1 FROM pg_class WHERE oid = m.source);
	IF NOT v_src THEN
		RETURN QUERY SELECT 'source', false, 'The mirrored table no longer exists; drop the mirror.';
	ELSIF NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = m.source
					  AND attname = m.id_column AND NOT attisdropped)
		  OR NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = m.source
					  AND attname = m.vector_column AND NOT attisdropped) THEN
		RETURN QUERY SELECT 'source', false,
			format('Table %s no longer has the id column "%s" or the vector column "%s".',
				m.source, m.id_column, m.vector_column);
	ELSE
		RETURN QUERY SELECT 'source', true, format('Table %s, id column "%s", vector column "%s".',
			m.source, m.id_column, m.vector_column);
		IF NOT has_table_privilege(m.owner::oid, m.source, 'SELECT') THEN
			RETURN QUERY SELECT 'privileges', false,
				format('The mirror''s owner %s cannot read %s; grant it SELECT.', m.owner, m.source);
		END IF;
		SELECT count(*) INTO v_n FROM pg_trigger
		WHERE tgrelid = m.source AND tgname LIKE 'vectorpg\_mirror\_' || m.id || '\_%'
		  AND tgenabled <> 'D';
		RETURN QUERY SELECT 'capture', v_n = 4, CASE WHEN v_n = 4
			THEN 'The four capture triggers are in place and enabled.'
			ELSE format('Only %s of the 4 capture triggers are in place and enabled: changes are missed. Re-create the mirror (mirror_drop, mirror).', v_n) END;
	END IF;

	-- the remote side, as this user
	SELECT s.srvname, ft.ftserver INTO v_ft FROM pg_foreign_table ft
	JOIN pg_foreign_server s ON s.oid = ft.ftserver WHERE ft.ftrelid = m.target;
	IF NOT FOUND THEN
		RETURN QUERY SELECT 'target', false, 'The target foreign table no longer exists.';
	ELSE
		RETURN QUERY SELECT 'target', true, format('Foreign table %s on server %s.', m.target, v_ft.srvname);
		IF NOT EXISTS (SELECT 1 FROM pg_user_mappings
					   WHERE srvid = v_ft.ftserver AND umuser IN (0, m.owner::oid)) THEN
			RETURN QUERY SELECT 'user mapping', false,
				format('The mirror''s owner %s has no user mapping for server %s, so the worker cannot send.', m.owner, v_ft.srvname);
		END IF;
		BEGIN
			SELECT * INTO v_info FROM vectorpg.mirror_remote_info(m.target);
			v_rdim := v_info.dimension;
			RETURN QUERY SELECT 'credentials', true,
				format('The remote answered: dimension %s, metric %s, %s records.',
					v_info.dimension, coalesce(v_info.metric, 'unknown'),
					coalesce(v_info.record_count::text, 'an unknown number of'));
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS v_msg = MESSAGE_TEXT, v_det = PG_EXCEPTION_DETAIL, v_code = RETURNED_SQLSTATE;
			RETURN QUERY SELECT 'credentials', false,
				CASE v_code
					WHEN 'HV00N' THEN 'Could not reach the remote or it refused the credentials of the user mapping: '
					WHEN 'HV00R' THEN 'The remote index or collection does not exist: '
					WHEN 'HV00M' THEN 'The remote did not answer in time: '
					ELSE 'The remote could not be asked: ' END
				|| v_msg || coalesce(' (' || nullif(v_det, '') || ')', '');
		END;
	END IF;

	-- dimension and metric, local against remote
	IF v_src AND v_rdim IS NOT NULL THEN
		SELECT NULLIF(atttypmod, -1) INTO v_localdim FROM pg_attribute
		WHERE attrelid = m.source AND attname = m.vector_column;
		IF v_localdim IS NULL THEN
			EXECUTE format('SELECT array_agg(DISTINCT @extschema@.vector_dims(s.%I)) FROM (SELECT %I FROM %s LIMIT 1000) s',
				m.vector_column, m.vector_column, m.source) INTO v_dims;
		ELSE
			v_dims := ARRAY[v_localdim];
		END IF;
		RETURN QUERY SELECT 'dimension',
			coalesce(v_dims = ARRAY[v_info.dimension] OR v_dims IS NULL, true),
			CASE WHEN v_dims IS NULL THEN format('The remote has dimension %s; the table has no vectors yet.', v_info.dimension)
				 WHEN v_dims = ARRAY[v_info.dimension] THEN format('Both sides have dimension %s.', v_info.dimension)
				 ELSE format('The remote has dimension %s but the local vectors have %s: every upsert will be rejected.',
					v_info.dimension, array_to_string(v_dims, ', ')) END;

		SELECT opc.opcname INTO v_opc
		FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
		JOIN pg_am am ON am.oid = ic.relam AND am.amname = 'hnsw'
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
		JOIN pg_opclass opc ON opc.oid = i.indclass[0]
		WHERE i.indrelid = m.source AND a.attname = m.vector_column LIMIT 1;
		v_local_metric := CASE v_opc WHEN 'vector_cosine_ops' THEN 'cosine'
			WHEN 'vector_l2_ops' THEN 'euclidean' WHEN 'vector_ip_ops' THEN 'dotproduct' END;
		v_remote_metric := CASE lower(v_info.metric) WHEN 'cosine' THEN 'cosine'
			WHEN 'euclidean' THEN 'euclidean' WHEN 'l2' THEN 'euclidean'
			WHEN 'dotproduct' THEN 'dotproduct' WHEN 'ip' THEN 'dotproduct' END;
		RETURN QUERY SELECT 'metric',
			v_local_metric IS NULL OR v_remote_metric IS NULL OR v_local_metric = v_remote_metric,
			CASE WHEN v_local_metric IS NULL THEN format('No local hnsw index on "%s" to compare with the remote metric %s.', m.vector_column, coalesce(v_info.metric, 'unknown'))
				 WHEN v_remote_metric IS NULL THEN 'The remote did not say its metric.'
				 WHEN v_local_metric = v_remote_metric THEN format('Both sides use %s.', v_local_metric)
				 ELSE format('The local index orders by %s (%s) but the remote uses %s: searches will rank differently.',
					v_local_metric, v_opc, v_info.metric) END;
	END IF;

	-- the worker and the mirror's state
	v_pid := vectorpg.mirror_worker_start();
	RETURN QUERY SELECT 'worker', v_pid IS NOT NULL, CASE WHEN v_pid IS NOT NULL
		THEN format('The mirror worker runs (pid %s).', v_pid)
		ELSE 'No mirror worker was running; one is being started (if this persists, check max_worker_processes and the server log).' END;

	SELECT count(*), now() - min(enqueued_at) INTO v_pending, v_oldest
	FROM vectorpg.mirror_outbox WHERE mirror_id = m.id;
	v_state := CASE WHEN m.state <> 'running' THEN m.state
		WHEN m.retry_at > now() THEN 'backoff' ELSE 'running' END;
	RETURN QUERY SELECT 'state', v_state = 'running', CASE v_state
		WHEN 'running' THEN format('Running; %s changes pending%s.', v_pending,
			coalesce(', the oldest for ' || date_trunc('second', v_oldest)::text, ''))
		WHEN 'paused' THEN format('Paused by vectorpg.mirror_pause; %s changes wait. Resume with vectorpg.mirror_resume.', v_pending)
		WHEN 'parked' THEN format('Parked after %s permanent errors; the last: %s. Fix the cause, then call vectorpg.mirror_retry.',
			m.error_count, coalesce(m.last_error, 'unknown'))
		ELSE format('Backing off until %s after: %s', m.retry_at, coalesce(m.last_error, 'unknown')) END;
	IF NOT m.backfill_done THEN
		RETURN QUERY SELECT 'backfill', true, format('Backfill in progress: %s of about %s rows sent.',
			m.backfill_rows, coalesce(m.backfill_total::text, '?'));
	END IF;
	SELECT count(*) INTO v_n FROM vectorpg.mirror_dead_letters WHERE mirror_id = m.id;
	RETURN QUERY SELECT 'dead letters', v_n = 0, CASE WHEN v_n = 0
		THEN 'The remote has rejected no item.'
		ELSE format('The remote rejected %s items; their reasons are in vectorpg.mirror_dead_letters. Fix the rows, then call vectorpg.mirror_retry.', v_n) END;
END
$$;

COMMENT ON FUNCTION vectorpg.mirror_doctor(text) IS
	'checks a mirror''s configuration, credentials, dimension and metric against the remote, worker and state, in plain words';

-- Metadata in comparable form: null members dropped, numbers as float8
-- (what Pinecone stores), so that 5 and 5.0 compare equal and a number with
-- more digits than a double holds equals what the remote kept of it (the
-- FDW reads numbers back in their shortest exact form)
CREATE FUNCTION vectorpg.mirror_json_norm(j jsonb) RETURNS jsonb
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE jsonb_typeof(j)
		WHEN 'object' THEN coalesce((SELECT jsonb_object_agg(k, vectorpg.mirror_json_norm(v))
									 FROM jsonb_each(j) e(k, v) WHERE jsonb_typeof(v) <> 'null'), '{}')
		WHEN 'array' THEN coalesce((SELECT jsonb_agg(vectorpg.mirror_json_norm(v) ORDER BY o)
									FROM jsonb_array_elements(j) WITH ORDINALITY a(v, o)), '[]')
		WHEN 'number' THEN to_jsonb((j #>> '{}')::float8)
		ELSE j END
$$;

COMMENT ON FUNCTION vectorpg.mirror_json_norm(jsonb) IS
	'metadata as mirror_verify compares it: null members dropped, numbers as float8';

-- Sparse values as mirror_verify compares them: [index, value] pairs in
-- index order, each value rounded to real as the remote stores it
CREATE FUNCTION vectorpg.mirror_sparse_norm(j jsonb) RETURNS jsonb
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(jsonb_agg(jsonb_build_array(i.v::numeric, (v.v #>> '{}')::real) ORDER BY i.v::numeric), '[]')
	FROM jsonb_array_elements(j -> 'indices') WITH ORDINALITY i(v, o)
	JOIN jsonb_array_elements(j -> 'values') WITH ORDINALITY v(v, o) ON v.o = i.o
$$;

COMMENT ON FUNCTION vectorpg.mirror_sparse_norm(jsonb) IS
	'sparse values as mirror_verify compares them: [index, real value] pairs in index order';

CREATE FUNCTION vectorpg.mirror_verify(mirror text, sample integer DEFAULT NULL,
		OUT local_count bigint, OUT remote_count bigint, OUT checked bigint,
		OUT missing bigint, OUT different bigint, OUT extra bigint,
		OUT in_sync boolean, OUT examples jsonb)
	RETURNS record
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
	m vectorpg.mirrors;
	p_sample integer := $2;
	v_meta text := NULL;
	v_ftvec name;
	v_ftid text;
	v_ftmeta boolean;
	v_ftsparse boolean;
	v_idtype text;
	v_ids text[];
	r record;
	v_ex jsonb := '[]';
BEGIN
	SELECT * INTO m FROM vectorpg.mirrors WHERE name = $1;
	IF NOT FOUND THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_object',
			MESSAGE = format('mirror "%s" does not exist', $1),
			HINT = 'The view vectorpg.mirror_status lists the mirrors.';
	END IF;
	IF p_sample IS NOT NULL AND p_sample < 1 THEN
		RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
			MESSAGE = 'sample must be at least 1',
			HINT = 'Pass NULL to compare every row.';
	END IF;
	v_meta := vectorpg.mirror_metadata_sql(m);
	SELECT min(attname) INTO v_ftvec FROM pg_attribute
	WHERE attrelid = m.target AND atttypid = '@extschema@.vector'::regtype AND NOT attisdropped;
	SELECT format_type(atttypid, atttypmod) INTO v_ftid FROM pg_attribute
	WHERE attrelid = m.target AND attname = 'id' AND NOT attisdropped;
	v_ftmeta := EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = m.target
		AND attname = 'metadata' AND atttypid = 'jsonb'::regtype AND NOT attisdropped);
	v_ftsparse := m.sparse_column IS NOT NULL AND EXISTS (SELECT 1 FROM pg_attribute
		WHERE attrelid = m.target AND attname = 'sparse_values' AND atttypid = 'jsonb'::regtype
		  AND NOT attisdropped);
	IF v_ftvec IS NULL OR v_ftid IS NULL THEN
		RAISE EXCEPTION USING ERRCODE = 'undefined_column',
			MESSAGE = format('foreign table %s needs an "id" column and a vector column to be verified', m.target);
	END IF;
	SELECT format_type(atttypid, atttypmod) INTO v_idtype FROM pg_attribute
	WHERE attrelid = m.source AND attname = m.id_column;

	EXECUTE format('SELECT count(*) FROM %s s WHERE s.%I IS NOT NULL', m.source, m.vector_column)
		INTO local_count;
	remote_count := (vectorpg.mirror_remote_info(m.target)).record_count;
	checked := 0; missing := 0; different := 0;

	FOR v_ids IN EXECUTE format(
		'SELECT array_agg(x) FROM (SELECT s.%1$I::text x, (row_number() OVER () - 1) / 100 g'
		' FROM (SELECT %1$I FROM %2$s s WHERE s.%3$I IS NOT NULL %4$s) s) t GROUP BY g',
		m.id_column, m.source, m.vector_column,
		CASE WHEN p_sample IS NULL THEN '' ELSE 'ORDER BY random() LIMIT ' || p_sample END)
	LOOP
		FOR r IN EXECUTE format(
			'WITH r AS MATERIALIZED (SELECT f.id::text AS id, f.%1$I AS v, %2$s AS m, %10$s AS sp'
			'                        FROM %3$s f WHERE f.id = ANY ($1::%4$s[]))'
			' SELECT s.%5$I::text AS id, r.id IS NULL AS missing,'
			'        NOT coalesce(r.v OPERATOR(@extschema@.=) s.%6$I, false) AS vdiff,'
			'        %7$s AS mdiff, %11$s AS sdiff'
			' FROM %8$s s LEFT JOIN r ON r.id = s.%5$I::text'
			' WHERE s.%5$I = ANY ($1::%9$s[])',
			v_ftvec,
			CASE WHEN v_ftmeta THEN 'vectorpg.mirror_json_norm(f.metadata)' ELSE 'NULL::jsonb' END,
			m.target, v_ftid, m.id_column, m.vector_column,
			CASE WHEN v_ftmeta
				THEN format('coalesce(r.m, ''{}'') IS DISTINCT FROM coalesce(vectorpg.mirror_json_norm(%s), ''{}'')', v_meta)
				ELSE 'false' END,
			m.source, v_idtype,
			CASE WHEN v_ftsparse THEN 'vectorpg.mirror_sparse_norm(f.sparse_values)' ELSE 'NULL::jsonb' END,
			CASE WHEN v_ftsparse
				THEN format('r.sp IS DISTINCT FROM vectorpg.mirror_sparse_norm(s.%I::jsonb)', m.sparse_column)
				ELSE 'false' END) USING v_ids
		LOOP
			checked := checked + 1;
			IF r.missing THEN
				missing := missing + 1;
				IF jsonb_array_length(v_ex) < 20 THEN
					v_ex := v_ex || jsonb_build_object('id', r.id, 'problem', 'missing remotely');
				END IF;
			ELSIF r.vdiff OR r.mdiff OR r.sdiff THEN
				different := different + 1;
				IF jsonb_array_length(v_ex) < 20 THEN
					v_ex := v_ex || jsonb_build_object('id', r.id, 'problem',
						concat_ws('; ',
							CASE WHEN r.vdiff AND r.mdiff THEN 'vector and metadata differ'
								 WHEN r.vdiff THEN 'vector differs'
								 WHEN r.mdiff THEN 'metadata differs' END,
							CASE WHEN r.sdiff THEN 'sparse values differ' END));
				END IF;
			END IF;
		END LOOP;
	END LOOP;
	IF p_sample IS NULL AND remote_count IS NOT NULL THEN
		extra := remote_count - (checked - missing);
	END IF;
	in_sync := missing = 0 AND different = 0 AND coalesce(extra, 0) = 0;
	examples := v_ex;
	RETURN;
END
$$;

COMMENT ON FUNCTION vectorpg.mirror_verify(text, integer) IS
	'compares a mirrored table with its remote: counts, and vectors, metadata and sparse values of a sample or of every row; reports drift';
