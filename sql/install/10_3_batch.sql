-- ---------------------------------------------------------------------------
-- Batch writes: upsert, update, delete
-- ---------------------------------------------------------------------------
--
-- Each write takes a whole batch and applies it with one set-based statement
-- (INSERT ... SELECT FROM unnest(...) ON CONFLICT, UPDATE ... FROM unnest,
-- DELETE ... USING unnest), after validating every item with one set-based
-- query.  The batch is ordered by id before it is written, so two sessions
-- writing the same ids take their row locks in the same order.
--
-- atomic => true (the default): any invalid item raises an error naming the
-- first one, with its own SQLSTATE, and nothing is applied.
-- atomic => false: invalid items come back as rows of errors and the others
-- are applied.  The one statement runs inside a single subtransaction; only
-- if it fails for an unforeseen reason (a constraint of a registered table,
-- say) is that chunk retried item by item, each in its own subtransaction,
-- so the happy path never pays a subtransaction per item.
--
-- Item error codes (stable; doc/batch.md lists them):
--   22004 null id or vector           21000 id repeated within the batch
--   22000 wrong number of dimensions  22P01 NaN or Infinity
--   22003 value out of float4 range   22023 malformed item, metadata not an object
--   22P02 id not valid for the id column's type
--   P0002 update of an id that does not exist
-- and, on the item-by-item path, whatever SQLSTATE the statement raised.
--
-- A batch larger than progress_chunk items is written chunk by chunk with a
-- NOTICE after each ("upsert into collection "docs": 20000 of 50000 items"),
-- which psql and most drivers show while the call runs.

-- Batch items are numbered by unnest's positions, while error rows take
-- ids[i] and retries take slices [i:i], which go by subscript: the two
-- agree only for one-dimensional arrays that count from 1.  _from_one says
-- whether an array does (null and empty ones do); the batch functions call
-- it in one expression per call, which the planner inlines with the arrays
-- as parameters, so the common case copies nothing, and only then renumber
-- the arrays with _renumbered.
CREATE FUNCTION vectorpg._from_one(a anyarray)
	RETURNS boolean
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
	SELECT coalesce(array_lower(a, 1) = 1 AND array_ndims(a) = 1, true)
$$;

COMMENT ON FUNCTION vectorpg._from_one(anyarray) IS 'internal: whether an array is one-dimensional and counts from 1 (or is null or empty)';

CREATE FUNCTION vectorpg._renumbered(a anyarray)
	RETURNS anyarray
	LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
	SELECT CASE WHEN vectorpg._from_one(a) THEN a ELSE ARRAY(SELECT unnest(a)) END
$$;

COMMENT ON FUNCTION vectorpg._renumbered(anyarray) IS 'internal: the array''s elements, one-dimensional and counting from 1';

-- Check the batch size against batch_size_limit: 54000 above it
CREATE FUNCTION vectorpg._check_batch_size(n bigint, batch_size_limit integer)
	RETURNS void
	LANGUAGE plpgsql STABLE CALLED ON NULL INPUT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	lim bigint := vectorpg._check_limit('batch_size_limit', batch_size_limit);
BEGIN
	IF n > lim THEN
		RAISE EXCEPTION 'batch of % items exceeds batch_size_limit %', n, lim
			USING ERRCODE = 'program_limit_exceeded',
				  HINT = format('Split the batch, or pass a larger batch_size_limit (at most %s).',
								(SELECT max_value FROM vectorpg.limits() WHERE name = 'batch_size_limit'));
	END IF;
END
$$;

COMMENT ON FUNCTION vectorpg._check_batch_size(bigint, integer) IS 'internal: 54000 when a batch exceeds batch_size_limit';

-- Report a batch's vector bytes before the work: under vectorpg.malloc_keep
-- = -1 (auto) a session's first batch of at least 1 MB keeps freed memory
-- for the next one (src/malloc_tuning.c)
CREATE FUNCTION vectorpg._batch_memory(bytes bigint)
	RETURNS void
	AS 'MODULE_PATHNAME', 'vectorpg_batch_memory'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

COMMENT ON FUNCTION vectorpg._batch_memory(bigint) IS 'internal: a batch''s vector bytes, for vectorpg.malloc_keep = -1 (auto)';

-- The value this backend's malloc thresholds were last set from (kB; 0:
-- glibc's own), which auto changes without changing the setting
CREATE FUNCTION vectorpg._malloc_keep_applied()
	RETURNS integer
	AS 'MODULE_PATHNAME', 'vectorpg_malloc_keep_applied'
	LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION vectorpg._malloc_keep_applied() IS 'internal: the malloc_keep value (kB) this backend''s malloc was last given; 0 for glibc''s own';

-- Shallow merge of metadata: the patch's keys replace the old ones, and a
-- key whose patch value is null is removed (src/batch_metadata.c)
CREATE FUNCTION vectorpg.merge_metadata(old jsonb, patch jsonb)
	RETURNS jsonb
	LANGUAGE c IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
	AS 'MODULE_PATHNAME', 'vectorpg_merge_metadata';

COMMENT ON FUNCTION vectorpg.merge_metadata(jsonb, jsonb) IS 'shallow merge of metadata; a key set to null in the patch is removed';

-- Ids that the id column's type rejects, one error each.  Text ids need no
-- check; for others, one cast of the whole array decides, and only when it
-- fails is each id tried in its own subtransaction
CREATE FUNCTION vectorpg._check_ids(c vectorpg.collections, ids text[], skip integer[],
	OUT pos integer[], OUT code text[], OUT message text[])
	LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	typ regtype := (vectorpg._column_type(c.relation, c.id_column)).typid;
	i integer;
	st text;
	msg text;
BEGIN
	pos := '{}'; code := '{}'; message := '{}';
	IF typ IN ('text'::regtype, 'character varying'::regtype) OR cardinality(ids) IS NULL THEN
		RETURN;
	END IF;
	BEGIN
		EXECUTE format('SELECT count(x::%s) FROM unnest($1) x', typ) USING ids;
		RETURN;
	EXCEPTION WHEN OTHERS THEN
		NULL;
	END;
	FOR i IN 1 .. cardinality(ids) LOOP
		CONTINUE WHEN ids[i] IS NULL OR i = ANY (skip);
		BEGIN
			EXECUTE format('SELECT $1::%s', typ) USING ids[i];
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
			pos := pos || i; code := code || st; message := message || msg;
		END;
	END LOOP;
END
$$;

COMMENT ON FUNCTION vectorpg._check_ids(vectorpg.collections, text[], integer[]) IS 'internal: ids the id column''s type rejects, with the cast''s error';

-- Parse a jsonb array of records ({"id", "values" or "vector", "metadata",
-- "text"}) into the arrays form, with an error for each malformed record;
-- values_required is false for updates
CREATE FUNCTION vectorpg._parse_records(records jsonb, values_required boolean,
	OUT ids text[], OUT vecs @extschema@.vector[], OUT metas jsonb[], OUT texts text[],
	OUT err_pos integer[], OUT err_code text[], OUT err_msg text[])
	LANGUAGE plpgsql STABLE CALLED ON NULL INPUT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF records IS NULL OR jsonb_typeof(records) <> 'array' THEN
		RAISE EXCEPTION 'records must be a JSON array of objects, not %', coalesce(jsonb_typeof(records), 'null')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	WITH r AS (
		SELECT a.n::integer AS n, a.r, a.r -> 'id' AS jid, coalesce(a.r -> 'values', a.r -> 'vector') AS vals
		FROM jsonb_array_elements(records) WITH ORDINALITY a(r, n)
	), checked AS (
		SELECT r.*,
			CASE
				WHEN jsonb_typeof(r.r) <> 'object' THEN '22023'
				WHEN EXISTS (SELECT 1 FROM jsonb_object_keys(r.r) k
							 WHERE k NOT IN ('id', 'values', 'vector', 'metadata', 'text')) THEN '22023'
				WHEN r.jid IS NULL OR jsonb_typeof(r.jid) = 'null' THEN '22004'
				WHEN jsonb_typeof(r.jid) NOT IN ('string', 'number') THEN '22023'
				WHEN r.vals IS NULL OR jsonb_typeof(r.vals) = 'null' THEN CASE WHEN values_required THEN '22004' END
				WHEN jsonb_typeof(r.vals) <> 'array' THEN '22023'
				WHEN jsonb_path_exists(r.vals, '$[*] ? (@ == "NaN" || @ == "Infinity" || @ == "-Infinity" || @ == "inf" || @ == "-inf")') THEN '22P01'
				WHEN jsonb_path_exists(r.vals, '$[*] ? (@.type() != "number")') THEN '22023'
				WHEN jsonb_path_exists(r.vals, '$[*] ? (@ > 3.4028234663852886e38 || @ < -3.4028234663852886e38 || (@ != 0 && @ > -1e-45 && @ < 1e-45))') THEN '22003'
				WHEN jsonb_array_length(r.vals) = 0 THEN '22000'
			END AS code
		FROM r
	), msgs AS (
		SELECT checked.*,
			CASE code
				WHEN '22023' THEN
					CASE WHEN jsonb_typeof(checked.r) <> 'object' THEN format('record must be an object, not %s', jsonb_typeof(checked.r))
						 WHEN EXISTS (SELECT 1 FROM jsonb_object_keys(checked.r) k WHERE k NOT IN ('id', 'values', 'vector', 'metadata', 'text'))
							THEN format('unknown key "%s" in record', (SELECT k FROM jsonb_object_keys(checked.r) k
																	   WHERE k NOT IN ('id', 'values', 'vector', 'metadata', 'text') ORDER BY k LIMIT 1))
						 WHEN jsonb_typeof(checked.jid) NOT IN ('string', 'number') THEN format('id must be a string or a number, not %s', jsonb_typeof(checked.jid))
						 WHEN jsonb_typeof(checked.vals) <> 'array' THEN format('values must be a list of numbers, not %s', jsonb_typeof(checked.vals))
						 ELSE 'values must be a list of numbers' END
				WHEN '22004' THEN CASE WHEN checked.jid IS NULL OR jsonb_typeof(checked.jid) = 'null' THEN 'record has no id' ELSE 'record has no values' END
				WHEN '22P01' THEN 'NaN and Infinity are not allowed in a vector'
				WHEN '22003' THEN 'vector element out of range for type real'
				WHEN '22000' THEN 'vector must have at least 1 dimension'
			END AS msg
		FROM checked
	)
	SELECT array_agg(CASE WHEN jsonb_typeof(m.jid) IN ('string', 'number') THEN m.jid #>> '{}' END ORDER BY m.n),
		   array_agg(CASE WHEN m.code IS NULL AND jsonb_typeof(m.vals) = 'array' THEN (m.vals::text)::@extschema@.vector END ORDER BY m.n),
		   array_agg(CASE WHEN jsonb_typeof(m.r) = 'object' AND jsonb_typeof(m.r -> 'metadata') <> 'null' THEN m.r -> 'metadata' END ORDER BY m.n),
		   array_agg(CASE WHEN jsonb_typeof(m.r) = 'object' THEN m.r ->> 'text' END ORDER BY m.n),
		   coalesce(array_agg(m.n ORDER BY m.n) FILTER (WHERE m.code IS NOT NULL), '{}'),
		   coalesce(array_agg(m.code ORDER BY m.n) FILTER (WHERE m.code IS NOT NULL), '{}'),
		   coalesce(array_agg(m.msg ORDER BY m.n) FILTER (WHERE m.code IS NOT NULL), '{}')
	INTO ids, vecs, metas, texts, err_pos, err_code, err_msg
	FROM msgs m;
END
$$;

COMMENT ON FUNCTION vectorpg._parse_records(jsonb, boolean) IS 'internal: records (jsonb array) to the arrays form, with the errors of malformed records';

-- The column that upserts write texts to: the text column itself, or for a
-- tsvector column the source column named in the catalog's options
CREATE FUNCTION vectorpg._text_source(c vectorpg.collections)
	RETURNS name
	LANGUAGE sql STABLE CALLED ON NULL INPUT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
	SELECT CASE
		WHEN c.options ? 'content_column' THEN (c.options ->> 'content_column')::name
		WHEN c.text_column IS NOT NULL
			 AND (vectorpg._column_type(c.relation, c.text_column)).typid = 'text'::regtype THEN c.text_column
	END
$$;

COMMENT ON FUNCTION vectorpg._text_source(vectorpg.collections) IS 'internal: the text column upserts write to, or null';

-- Run one chunk [lo, hi] of a batch update.  With sqldiff and sqlsame
-- (the batch has vectors), sqldiff first updates the items whose vector
-- differs from the row's, which for a batch of new vectors is all of them;
-- only when items remain does sqlsame update those whose vector is absent
-- or unchanged (it leaves the vector column out), and then sql whatever a
-- concurrent writer moved between the two (or ids that match no row, which
-- it does not find either).  The arrays start at batch position base (1,
-- or the item itself when an item is retried alone).  Returns the
-- positions updated.
CREATE FUNCTION vectorpg._update_chunk(sql text, sqldiff text, sqlsame text, ids text[], vecs @extschema@.vector[],
	metas jsonb[], texts text[], lo integer, hi integer, bad integer[], merge boolean, base integer)
	RETURNS integer[]
	LANGUAGE plpgsql VOLATILE PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	done integer[];
	more integer[];
	todo integer;
BEGIN
	IF sqldiff IS NULL THEN
		EXECUTE sql INTO done USING ids, vecs, metas, texts, lo, hi, bad, merge, base;
		RETURN done;
	END IF;
	EXECUTE sqldiff INTO done USING ids, vecs, metas, texts, lo, hi, bad, merge, base;
	todo := hi - lo + 1 - (SELECT count(DISTINCT b) FROM unnest(bad) b WHERE b BETWEEN lo AND hi);
	IF cardinality(done) < todo THEN
		EXECUTE sqlsame INTO more USING ids, vecs, metas, texts, lo, hi, bad || done, merge, base;
		done := done || more;
	END IF;
	IF cardinality(done) < todo THEN
		EXECUTE sql INTO more USING ids, vecs, metas, texts, lo, hi, bad || done, merge, base;
		done := done || more;
	END IF;
	RETURN done;
END
$$;

COMMENT ON FUNCTION vectorpg._update_chunk(text, text, text, text[], @extschema@.vector[], jsonb[], text[], integer, integer, integer[], boolean, integer) IS 'internal: one chunk of a batch update, changed vectors first';

-- A chunk's hnsw inserts, handed over and then applied with parallel
-- workers (src/hnswdefer.c): the graph work of a batch upsert or vector
-- update runs on max_parallel_maintenance_workers + 1 cores, not one
CREATE FUNCTION vectorpg._defer_index_inserts(relation regclass, items integer)
	RETURNS void
	AS 'MODULE_PATHNAME', 'vectorpg_defer_index_inserts'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

COMMENT ON FUNCTION vectorpg._defer_index_inserts(regclass, integer) IS 'internal: list the hnsw inserts of the next items rows written to this table until vectorpg._apply_index_inserts(), when there are enough of them for parallel workers';

CREATE FUNCTION vectorpg._apply_index_inserts()
	RETURNS integer
	AS 'MODULE_PATHNAME', 'vectorpg_apply_index_inserts'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

COMMENT ON FUNCTION vectorpg._apply_index_inserts() IS 'internal: insert the listed hnsw entries with parallel workers, and stop listing';

-- The core of upsert and update: validate, then apply chunk by chunk, then
-- report.  op is 'upsert' or 'update'; err_* are errors found earlier (by
-- the records parser); merge applies to update's metadata
CREATE FUNCTION vectorpg._write(op text, c vectorpg.collections, ids text[], vecs @extschema@.vector[],
	metas jsonb[], texts text[], err_pos integer[], err_code text[], err_msg text[],
	merge boolean, atomic boolean, started timestamptz)
	RETURNS vectorpg.batch_result
	LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n integer := coalesce(cardinality(ids), 0);
	errs jsonb;
	bad integer[];
	dup_pos integer[];
	dup_first integer[];
	chunk integer := vectorpg._check_limit('progress_chunk', NULL);
	lo integer;
	hi integer;
	i integer;
	sql text;
	sqlsame text;
	sqldiff text;
	others text;
	idtype regtype := (vectorpg._column_type(c.relation, c.id_column)).typid;
	-- A batch update's statement: relation, id column, SET list, id type,
	-- extra condition
	update_sql constant text :=
		'WITH u AS (SELECT x.id::%4$s AS id, x.v, x.m, x.tx, x.o + $9 - 1 AS n '
		'FROM unnest($1::text[], $2::@extschema@.vector[], $3::jsonb[], $4::text[]) WITH ORDINALITY x(id, v, m, tx, o) '
		'WHERE x.o + $9 - 1 BETWEEN $5 AND $6 AND x.o + $9 - 1 <> ALL ($7) ORDER BY 1), '
		'w AS (UPDATE %1$s AS t SET %3$s FROM u WHERE t.%2$I = u.id%5$s RETURNING u.n) '
		'SELECT coalesce(array_agg(n), ''{}'') FROM w';
	txt name := vectorpg._text_source(c);
	ins bigint := 0;
	upd bigint := 0;
	a bigint;
	b bigint;
	x bigint;
	y bigint;
	done integer[];
	one integer[];
	st text;
	msg text;
BEGIN
	IF atomic IS NULL THEN
		RAISE EXCEPTION 'atomic must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF merge IS NULL THEN
		RAISE EXCEPTION 'merge_metadata must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF cardinality(vecs) IS DISTINCT FROM cardinality(ids) AND vecs IS NOT NULL THEN
		RAISE EXCEPTION 'ids and vectors must have the same length, not % and %', n, coalesce(cardinality(vecs), 0)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF metas IS NOT NULL AND cardinality(metas) IS DISTINCT FROM cardinality(ids) THEN
		RAISE EXCEPTION 'ids and metadata must have the same length, not % and %', n, coalesce(cardinality(metas), 0)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF texts IS NOT NULL AND cardinality(texts) IS DISTINCT FROM cardinality(ids) THEN
		RAISE EXCEPTION 'ids and texts must have the same length, not % and %', n, coalesce(cardinality(texts), 0)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF c.metadata_column IS NULL AND EXISTS (SELECT 1 FROM unnest(metas) m WHERE m IS NOT NULL) THEN
		RAISE EXCEPTION 'collection "%" has no metadata column', c.name
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM vectorpg._batch_memory(coalesce(cardinality(vecs), 0)::bigint * c.dimension * 4);
	-- the error rows and the retries of both kinds index the arrays by
	-- position (_from_one)
	IF NOT (vectorpg._from_one(ids) AND vectorpg._from_one(vecs) AND vectorpg._from_one(metas)
			AND vectorpg._from_one(texts)) THEN
		ids := vectorpg._renumbered(ids);
		vecs := vectorpg._renumbered(vecs);
		metas := vectorpg._renumbered(metas);
		texts := vectorpg._renumbered(texts);
	END IF;
	-- the arguments are checked alike for both kinds; the rest differs
	IF c.kind = 'remote' THEN
		RETURN vectorpg._remote_write(op, c, ids, vecs, metas, texts, err_pos, err_code, err_msg,
									  merge, atomic, started);
	END IF;
	IF txt IS NULL AND EXISTS (SELECT 1 FROM unnest(texts) t WHERE t IS NOT NULL) THEN
		RAISE EXCEPTION 'collection "%" has no text column to write texts to', c.name
			USING ERRCODE = 'invalid_parameter_value';
	END IF;

	-- Ids that repeat an earlier item's, with that item's position: found
	-- over the ids alone, so that no sort carries the vectors (10,000 of
	-- 784 dimensions spilled 31 MB to disk)
	SELECT coalesce(array_agg(d.n ORDER BY d.n), '{}'), coalesce(array_agg(d.first_n ORDER BY d.n), '{}')
	INTO dup_pos, dup_first
	FROM (SELECT x.n, min(x.n) OVER (PARTITION BY x.id) AS first_n
		  FROM unnest(ids) WITH ORDINALITY x(id, n)) d
	WHERE d.n <> d.first_n;
	-- Validation, set-based: the first problem of each item
	SELECT coalesce(array_agg(s.n ORDER BY s.n), '{}'),
		   coalesce(jsonb_agg(jsonb_build_object('position', s.n, 'id', s.id, 'code', s.code, 'message', s.msg) ORDER BY s.n), '[]')
	INTO bad, errs
	FROM (
		SELECT u.n, u.id, e.code,
			CASE e.code
				WHEN '22004' THEN CASE WHEN u.id IS NULL THEN 'id must not be null' ELSE 'vector must not be null' END
				WHEN '21000' THEN format('id repeats item %s of the batch', dup_first[array_position(dup_pos, u.n::integer)])
				WHEN '22000' THEN format('expected %s dimensions, not %s', c.dimension, @extschema@.vector_dims(u.v))
				WHEN '22023' THEN CASE WHEN u.v IS NULL AND u.m IS NULL AND u.tx IS NULL THEN 'item has no vector, metadata or text to update'
								  ELSE format('metadata must be a JSON object, not %s', jsonb_typeof(u.m)) END
			END AS msg
		FROM unnest(ids, vecs, metas, texts) WITH ORDINALITY u(id, v, m, tx, n)
		CROSS JOIN LATERAL (SELECT CASE
				WHEN u.n = ANY (err_pos) THEN NULL
				WHEN u.id IS NULL THEN '22004'
				WHEN u.n = ANY (dup_pos) THEN '21000'
				WHEN op = 'upsert' AND u.v IS NULL THEN '22004'
				WHEN op = 'update' AND u.v IS NULL AND u.m IS NULL AND u.tx IS NULL THEN '22023'
				WHEN u.v IS NOT NULL AND @extschema@.vector_dims(u.v) <> c.dimension THEN '22000'
				WHEN u.m IS NOT NULL AND jsonb_typeof(u.m) <> 'object' THEN '22023'
			END AS code) e
		WHERE e.code IS NOT NULL
		UNION ALL
		SELECT p.pos, ids[p.pos], p.code, p.msg FROM unnest(err_pos, err_code, err_msg) p(pos, code, msg)
	) s;
	SELECT r.bad, r.errs INTO bad, errs FROM vectorpg._check_item_ids(c, ids, atomic, n, bad, errs) r;

	-- The statement: one chunk of positions [$5, $6], without the bad items.
	-- A row the upsert inserted has xmax 0; a partitioned table cannot
	-- return xmax, so there the rows that existed are counted first, in the
	-- statement's snapshot (a row another session commits meanwhile and
	-- the upsert then replaces is counted as inserted)
	IF op = 'upsert' THEN
		sql := format(
			'WITH w AS (INSERT INTO %1$s AS t (%2$I, %3$I%4$s%5$s) '
			'SELECT u.id::%6$s, u.v%7$s%8$s '
			'FROM unnest($1::text[], $2::@extschema@.vector[], $3::jsonb[], $4::text[]) WITH ORDINALITY u(id, v, m, tx, o) '
			'WHERE u.o + $9 - 1 BETWEEN $5 AND $6 AND u.o + $9 - 1 <> ALL ($7) ORDER BY 1 '
			'ON CONFLICT (%2$I) DO UPDATE SET %3$I = excluded.%3$I%9$s%10$s '
			|| CASE WHEN (SELECT r.relkind FROM pg_class r WHERE r.oid = c.relation) = 'p' THEN
				'RETURNING NULL::boolean AS ins), '
				'e AS (SELECT count(*) AS n FROM %1$s AS t WHERE t.%2$I = ANY (ARRAY('
				'SELECT u.id::%6$s FROM unnest($1::text[]) WITH ORDINALITY u(id, o) '
				'WHERE u.o + $9 - 1 BETWEEN $5 AND $6 AND u.o + $9 - 1 <> ALL ($7)))) '
				'SELECT count(*) - (SELECT e.n FROM e), (SELECT e.n FROM e) FROM w'
			ELSE
				'RETURNING (t.xmax = 0) AS ins) '
				'SELECT count(*) FILTER (WHERE ins), count(*) FILTER (WHERE NOT ins) FROM w'
			END,
			c.relation, c.id_column, c.vector_column,
			CASE WHEN c.metadata_column IS NULL THEN '' ELSE format(', %I', c.metadata_column) END,
			CASE WHEN txt IS NULL THEN '' ELSE format(', %I', txt) END,
			idtype,
			CASE WHEN c.metadata_column IS NULL THEN '' ELSE ', coalesce(u.m, ''{}'')' END,
			CASE WHEN txt IS NULL THEN '' ELSE ', u.tx' END,
			CASE WHEN c.metadata_column IS NULL THEN '' ELSE format(', %1$I = excluded.%1$I', c.metadata_column) END,
			CASE WHEN txt IS NULL THEN '' ELSE format(', %1$I = excluded.%1$I', txt) END);
	ELSE
		-- The columns other than the vector, or the id alone when there are none
		others := coalesce(nullif(array_to_string(ARRAY[
				CASE WHEN c.metadata_column IS NOT NULL THEN
					format('%1$I = CASE WHEN u.m IS NULL THEN t.%1$I WHEN $8 THEN vectorpg.merge_metadata(t.%1$I, u.m) ELSE u.m END',
						   c.metadata_column) END,
				CASE WHEN txt IS NOT NULL THEN format('%1$I = coalesce(u.tx, t.%1$I)', txt) END], ', '), ''),
			format('%1$I = t.%1$I', c.id_column));
		-- An UPDATE that does not name the vector column lets the hnsw index
		-- keep each row's element (aminsert's indexUnchanged): far cheaper
		-- than inserting the vector anew.  So when the batch has vectors,
		-- the items whose vector differs from the row's go through a
		-- statement that names the column (sqldiff), those whose vector is
		-- absent or equal through one that leaves it out (sqlsame), and
		-- what neither took through sql.  Their WHEREs are rechecked on the
		-- newest row version, so an item whose row a concurrent writer
		-- changed falls through to the next (vectorpg._update_chunk)
		IF EXISTS (SELECT FROM unnest(vecs) AS given(v) WHERE given.v IS NOT NULL) THEN
			sqlsame := format(update_sql, c.relation, c.id_column, others, idtype,
							  format(' AND (u.v IS NULL OR t.%1$I OPERATOR(@extschema@.=) u.v)', c.vector_column));
			sqldiff := format(update_sql, c.relation, c.id_column,
							  format('%1$I = u.v, ', c.vector_column) || others, idtype,
							  format(' AND u.v IS NOT NULL AND (t.%1$I IS NULL OR NOT (t.%1$I OPERATOR(@extschema@.=) u.v))',
									 c.vector_column));
			sql := format(update_sql, c.relation, c.id_column,
						  format('%1$I = coalesce(u.v, t.%1$I), ', c.vector_column) || others, idtype, '');
		ELSE
			sql := format(update_sql, c.relation, c.id_column, others, idtype, '');
		END IF;
	END IF;

	lo := 1;
	WHILE lo <= n LOOP
		hi := least(n, lo + chunk - 1);
		a := 0; b := 0; done := '{}';
		IF atomic THEN
			PERFORM vectorpg._defer_index_inserts(c.relation, hi - lo + 1);
			IF op = 'upsert' THEN
				EXECUTE sql INTO a, b USING ids, vecs, metas, texts, lo, hi, bad, NULL::boolean, 1;
			ELSE
				done := vectorpg._update_chunk(sql, sqldiff, sqlsame, ids, vecs, metas, texts, lo, hi, bad, merge, 1);
			END IF;
			PERFORM vectorpg._apply_index_inserts();
		ELSE
			BEGIN
				PERFORM vectorpg._defer_index_inserts(c.relation, hi - lo + 1);
				IF op = 'upsert' THEN
					EXECUTE sql INTO a, b USING ids, vecs, metas, texts, lo, hi, bad, NULL::boolean, 1;
				ELSE
					done := vectorpg._update_chunk(sql, sqldiff, sqlsame, ids, vecs, metas, texts, lo, hi, bad, merge, 1);
				END IF;
				PERFORM vectorpg._apply_index_inserts();
			EXCEPTION WHEN OTHERS THEN
				-- unforeseen failure: this chunk again, item by item, each in
				-- its own subtransaction, with a one-item slice of the arrays
				-- (whole ones made every retry copy the whole batch: 10,000
				-- retries of 31 MB at 784 dimensions)
				a := 0; b := 0; done := '{}';
				FOR i IN lo .. hi LOOP
					CONTINUE WHEN i = ANY (bad);
					BEGIN
						IF op = 'upsert' THEN
							EXECUTE sql INTO x, y USING ids[i:i], vecs[i:i], metas[i:i], texts[i:i], i, i, bad, NULL::boolean, i;
							a := a + x; b := b + y;
						ELSE
							one := vectorpg._update_chunk(sql, sqldiff, sqlsame, ids[i:i], vecs[i:i], metas[i:i], texts[i:i], i, i, bad, merge, i);
							done := done || one;
						END IF;
					EXCEPTION WHEN OTHERS THEN
						GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
						bad := bad || i;
						errs := errs || jsonb_build_array(jsonb_build_object('position', i, 'id', ids[i], 'code', st, 'message', msg));
					END;
				END LOOP;
			END;
		END IF;
		ins := ins + a;
		upd := upd + b + coalesce(cardinality(done), 0);
		IF op = 'update' THEN
			-- ids of this chunk that matched no row
			SELECT bad || coalesce(array_agg(p.n), '{}'),
				   errs || coalesce(jsonb_agg(jsonb_build_object('position', p.n, 'id', ids[p.n], 'code', 'P0002',
									'message', format('no item with id "%s"', ids[p.n])) ORDER BY p.n), '[]')
			INTO bad, errs
			FROM generate_series(lo, hi) p(n)
			WHERE p.n <> ALL (bad) AND p.n <> ALL (done);
			IF atomic AND cardinality(bad) > 0 THEN
				PERFORM vectorpg._raise_item_error(errs, n);
			END IF;
		END IF;
		IF n > chunk THEN
			RAISE NOTICE '% into collection "%": % of % items', op, c.name, hi, n;
		END IF;
		lo := hi + 1;
	END LOOP;

	RETURN vectorpg._batch_result(coalesce(ins, 0), coalesce(upd, 0), 0, errs, n, started);
END
$$;

COMMENT ON FUNCTION vectorpg._write(text, vectorpg.collections, text[], @extschema@.vector[], jsonb[], text[], integer[], text[], text[], boolean, boolean, timestamptz) IS 'internal: validate and apply a batch upsert or update';

-- The error of an atomic batch with invalid items: the first item's
-- SQLSTATE and message, and how many were invalid
CREATE FUNCTION vectorpg._raise_item_error(errs jsonb, n integer)
	RETURNS void
	LANGUAGE plpgsql IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	e jsonb;
BEGIN
	SELECT x INTO e FROM jsonb_array_elements(errs) x ORDER BY (x ->> 'position')::integer LIMIT 1;
	RAISE EXCEPTION 'item % (id %): %', e ->> 'position',
		CASE WHEN e ->> 'id' IS NULL THEN 'null' ELSE format('"%s"', e ->> 'id') END, e ->> 'message'
		USING ERRCODE = e ->> 'code',
			  DETAIL = format('%s of %s items failed; nothing was applied.', jsonb_array_length(errs), n),
			  HINT = 'Fix the items, or pass atomic => false to apply the valid items and get the others as errors.';
END
$$;

COMMENT ON FUNCTION vectorpg._raise_item_error(jsonb, integer) IS 'internal: raise the error of the first invalid item of an atomic batch';

-- The row every write batch returns, local or remote: its counts, its
-- errors in position order, the time since it started, and its status
-- (success with no failed item, failed when every item failed, partial
-- otherwise)
CREATE FUNCTION vectorpg._batch_result(inserted bigint, updated bigint, deleted bigint, errs jsonb,
	n bigint, started timestamptz)
	RETURNS vectorpg.batch_result
	LANGUAGE sql VOLATILE CALLED ON NULL INPUT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
	SELECT inserted, updated, deleted, f.failed, e.errors,
		   round((extract(epoch FROM clock_timestamp() - started) * 1000)::numeric, 3)::double precision,
		   CASE WHEN f.failed = 0 THEN 'success' WHEN f.failed < n THEN 'partial' ELSE 'failed' END
	FROM (SELECT coalesce(jsonb_agg(x ORDER BY (x ->> 'position')::integer), '[]') AS errors
		  FROM jsonb_array_elements(errs) x) e,
		 LATERAL (SELECT jsonb_array_length(e.errors)::bigint AS failed) f
$$;

COMMENT ON FUNCTION vectorpg._batch_result(bigint, bigint, bigint, jsonb, bigint, timestamptz) IS 'internal: the result row of a write batch (counts, errors in position order, time, status)';

-- The last check of every write batch, local or remote: the items whose id
-- the id column's type rejects (vectorpg._check_ids) join the batch's bad
-- positions and its errors, in position order; then an atomic batch with
-- any bad item raises the first one's error
CREATE FUNCTION vectorpg._check_item_ids(c vectorpg.collections, ids text[], atomic boolean, n integer,
	INOUT bad integer[], INOUT errs jsonb)
	LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	idc record;
BEGIN
	SELECT * INTO idc FROM vectorpg._check_ids(c, ids, bad);
	IF cardinality(idc.pos) > 0 THEN
		bad := bad || idc.pos;
		SELECT jsonb_agg(e ORDER BY (e ->> 'position')::integer) INTO errs
		FROM (SELECT jsonb_array_elements(errs) e
			  UNION ALL
			  SELECT jsonb_build_object('position', p.pos, 'id', ids[p.pos], 'code', p.code, 'message', p.msg)
			  FROM unnest(idc.pos, idc.code, idc.message) p(pos, code, msg)) x;
	END IF;
	IF atomic AND cardinality(bad) > 0 THEN
		PERFORM vectorpg._raise_item_error(errs, n);
	END IF;
END
$$;

COMMENT ON FUNCTION vectorpg._check_item_ids(vectorpg.collections, text[], boolean, integer, integer[], jsonb) IS 'internal: add the ids the id column''s type rejects to a write batch''s errors, and raise the first error of an atomic batch';

-- Upsert, arrays form: insert or replace items by id (vector, metadata and
-- text are all replaced)
CREATE FUNCTION vectorpg.upsert(collection text, ids text[], vectors @extschema@.vector[],
	metadata jsonb[] DEFAULT NULL, texts text[] DEFAULT NULL,
	atomic boolean DEFAULT true, batch_size_limit integer DEFAULT 1000)
	RETURNS vectorpg.batch_result
	LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	started timestamptz := clock_timestamp();
	c vectorpg.collections := vectorpg._collection(collection, true);
BEGIN
	PERFORM vectorpg._check_batch_size(cardinality(ids), batch_size_limit);
	RETURN vectorpg._write('upsert', c, ids, vectors, metadata, texts, '{}', '{}', '{}', false, atomic, started);
END
$$;

COMMENT ON FUNCTION vectorpg.upsert(text, text[], @extschema@.vector[], jsonb[], text[], boolean, integer) IS 'insert or replace items by id: ids, vectors, metadata, texts as arrays';

-- Upsert, records form: a jsonb array of {"id", "values", "metadata", "text"}
CREATE FUNCTION vectorpg.upsert(collection text, records jsonb,
	atomic boolean DEFAULT true, batch_size_limit integer DEFAULT 1000)
	RETURNS vectorpg.batch_result
	LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	started timestamptz := clock_timestamp();
	c vectorpg.collections := vectorpg._collection(collection, true);
	p record;
BEGIN
	IF jsonb_typeof(records) = 'array' THEN
		PERFORM vectorpg._check_batch_size(jsonb_array_length(records), batch_size_limit);
	END IF;
	p := vectorpg._parse_records(records, true);
	RETURN vectorpg._write('upsert', c, p.ids, p.vecs, p.metas, p.texts, p.err_pos, p.err_code, p.err_msg,
						   false, atomic, started);
END
$$;

COMMENT ON FUNCTION vectorpg.upsert(text, jsonb, boolean, integer) IS 'insert or replace items by id: a jsonb array of records {id, values, metadata, text}';

-- Update, arrays form: a null vector, metadata or text leaves it as it is;
-- metadata is merged (merge_metadata => true) or replaced
CREATE FUNCTION vectorpg.update(collection text, ids text[], vectors @extschema@.vector[] DEFAULT NULL,
	metadata jsonb[] DEFAULT NULL, texts text[] DEFAULT NULL, merge_metadata boolean DEFAULT true,
	atomic boolean DEFAULT true, batch_size_limit integer DEFAULT 1000)
	RETURNS vectorpg.batch_result
	LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	started timestamptz := clock_timestamp();
	c vectorpg.collections := vectorpg._collection(collection, true);
	n integer := coalesce(cardinality(ids), 0);
BEGIN
	PERFORM vectorpg._check_batch_size(n, batch_size_limit);
	RETURN vectorpg._write('update', c, ids,
		coalesce(vectors, array_fill(NULL::@extschema@.vector, ARRAY[n])),
		metadata, texts, '{}', '{}', '{}', merge_metadata, atomic, started);
END
$$;

COMMENT ON FUNCTION vectorpg.update(text, text[], @extschema@.vector[], jsonb[], text[], boolean, boolean, integer) IS 'update items by id: vectors, metadata (merged or replaced), texts as arrays';

-- Update, records form: {"id", "values", "metadata", "text"}, each optional
-- but the id
CREATE FUNCTION vectorpg.update(collection text, records jsonb, merge_metadata boolean DEFAULT true,
	atomic boolean DEFAULT true, batch_size_limit integer DEFAULT 1000)
	RETURNS vectorpg.batch_result
	LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	started timestamptz := clock_timestamp();
	c vectorpg.collections := vectorpg._collection(collection, true);
	p record;
BEGIN
	IF jsonb_typeof(records) = 'array' THEN
		PERFORM vectorpg._check_batch_size(jsonb_array_length(records), batch_size_limit);
	END IF;
	p := vectorpg._parse_records(records, false);
	RETURN vectorpg._write('update', c, p.ids, p.vecs, p.metas, p.texts, p.err_pos, p.err_code, p.err_msg,
						   merge_metadata, atomic, started);
END
$$;

COMMENT ON FUNCTION vectorpg.update(text, jsonb, boolean, boolean, integer) IS 'update items by id: a jsonb array of records {id, values, metadata, text}';

-- Delete by ids: ids that match no item are not errors (deleting is
-- idempotent); null ids and ids the column's type rejects are
CREATE FUNCTION vectorpg.delete(collection text, ids text[],
	atomic boolean DEFAULT true, batch_size_limit integer DEFAULT 1000)
	RETURNS vectorpg.batch_result
	LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	started timestamptz := clock_timestamp();
	c vectorpg.collections := vectorpg._collection(collection, true);
	n integer := coalesce(cardinality(ids), 0);
	bad integer[];
	errs jsonb;
	ndeleted bigint;
BEGIN
	PERFORM vectorpg._check_batch_size(n, batch_size_limit);
	-- the error rows index ids by position
	ids := vectorpg._renumbered(ids);
	IF c.kind = 'remote' THEN
		RETURN vectorpg._remote_delete(c, ids, atomic, started);
	END IF;
	IF atomic IS NULL THEN
		RAISE EXCEPTION 'atomic must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT coalesce(array_agg(x.n ORDER BY x.n), '{}'),
		   coalesce(jsonb_agg(jsonb_build_object('position', x.n, 'id', NULL, 'code', '22004',
												 'message', 'id must not be null') ORDER BY x.n), '[]')
	INTO bad, errs
	FROM unnest(ids) WITH ORDINALITY x(id, n) WHERE x.id IS NULL;
	SELECT r.bad, r.errs INTO bad, errs FROM vectorpg._check_item_ids(c, ids, atomic, n, bad, errs) r;
	EXECUTE format('WITH w AS (DELETE FROM %1$s t USING (SELECT DISTINCT x.id::%3$s AS id '
				   'FROM unnest($1::text[]) WITH ORDINALITY x(id, n) WHERE x.n <> ALL ($2) ORDER BY 1) u '
				   'WHERE t.%2$I = u.id RETURNING 1) SELECT count(*) FROM w',
				   c.relation, c.id_column, (vectorpg._column_type(c.relation, c.id_column)).typid)
		INTO ndeleted USING ids, bad;
	RETURN vectorpg._batch_result(0, 0, ndeleted, errs, n, started);
END
$$;

COMMENT ON FUNCTION vectorpg.delete(text, text[], boolean, integer) IS 'delete items by id';

-- Delete the items a metadata filter matches; more matches than
-- batch_size_limit is an error (54000) and deletes nothing
CREATE FUNCTION vectorpg.delete_where(collection text, filter jsonb, batch_size_limit integer DEFAULT 1000)
	RETURNS vectorpg.batch_result
	LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	started timestamptz := clock_timestamp();
	c vectorpg.collections := vectorpg._collection(collection, true);
	lim bigint := vectorpg._check_limit('batch_size_limit', batch_size_limit);
	cond text;
	n bigint;
BEGIN
	IF c.metadata_column IS NULL THEN
		RAISE EXCEPTION 'collection "%" has no metadata column', c.name
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF filter IS NULL OR filter = '{}' THEN
		RAISE EXCEPTION 'delete_where needs a non-empty filter'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'To delete every item, use TRUNCATE or DELETE on the collection''s table.';
	END IF;
	cond := vectorpg.filter_sql(filter, c.metadata_column);
	EXECUTE format('SELECT count(*) FROM (SELECT 1 FROM %s WHERE %s LIMIT $1) x', c.relation, cond)
		INTO n USING lim + 1;
	IF n > lim THEN
		RAISE EXCEPTION 'filter matches more than batch_size_limit % items', lim
			USING ERRCODE = 'program_limit_exceeded',
				  HINT = 'Delete in several calls with narrower filters, or pass a larger batch_size_limit.';
	END IF;
	EXECUTE format('DELETE FROM %s WHERE %s', c.relation, cond);
	GET DIAGNOSTICS n = ROW_COUNT;
	RETURN vectorpg._batch_result(0, 0, n, '[]', n, started);
END
$$;

COMMENT ON FUNCTION vectorpg.delete_where(text, jsonb, integer) IS 'delete the items a metadata filter matches';

-- Load a long list of records chunk by chunk, committing after each chunk,
-- so that an interruption (cancel, crash) keeps every chunk committed before
-- it: what is stored is the prefix the NOTICEs reported.  Non-atomic by
-- nature; a procedure (CALL it outside a transaction block) because only
-- procedures commit.  It has no SET clause, since a procedure with one
-- cannot commit, so every name in it is schema-qualified.
CREATE PROCEDURE vectorpg.load(collection text, records jsonb, chunk_size integer DEFAULT 1000,
	INOUT result vectorpg.batch_result DEFAULT NULL)
	LANGUAGE plpgsql
AS $$
DECLARE
	started timestamptz := pg_catalog.clock_timestamp();
	n integer;
	lo integer := 0;
	r vectorpg.batch_result;
	errs jsonb := '[]';
BEGIN
	PERFORM vectorpg._collection(collection, true);
	IF records IS NULL OR pg_catalog.jsonb_typeof(records) <> 'array' THEN
		RAISE EXCEPTION 'records must be a JSON array of objects, not %',
			coalesce(pg_catalog.jsonb_typeof(records), 'null')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM vectorpg._check_limit('batch_size_limit', coalesce(chunk_size, -1));
	n := pg_catalog.jsonb_array_length(records);
	result := ROW(0, 0, 0, 0, '[]'::jsonb, 0, 'success')::vectorpg.batch_result;
	WHILE lo < n LOOP
		r := vectorpg.upsert(collection,
			pg_catalog.jsonb_path_query_array(records, '$[$lo to $hi]',
				pg_catalog.jsonb_build_object('lo', lo, 'hi', lo + chunk_size - 1)),
			atomic => false, batch_size_limit => chunk_size);
		-- positions within the chunk become positions within the records
		SELECT errs || coalesce(pg_catalog.jsonb_agg(
				pg_catalog.jsonb_set(e, '{position}', pg_catalog.to_jsonb((e ->> 'position')::integer + lo))), '[]')
		INTO errs FROM pg_catalog.jsonb_array_elements(r.errors) e;
		result.inserted := result.inserted + r.inserted;
		result.updated := result.updated + r.updated;
		result.failed := result.failed + r.failed;
		lo := lo + chunk_size;
		COMMIT;
		RAISE NOTICE 'load into collection "%": % of % items committed', collection, least(lo, n), n;
	END LOOP;
	result := vectorpg._batch_result(result.inserted, result.updated, 0, errs, n, started);
END
$$;

COMMENT ON PROCEDURE vectorpg.load(text, jsonb, integer, vectorpg.batch_result) IS 'upsert records chunk by chunk, committing each chunk: an interruption keeps the reported prefix';
