-- ---------------------------------------------------------------------------
-- The batch API on remote collections: a vectorpg_fdw foreign table
-- registered as a collection of kind 'remote'
-- ---------------------------------------------------------------------------
--
-- register_collection on a foreign table of vectorpg_fdw makes a remote
-- collection; upsert, update, delete, delete_where, fetch, count, search
-- and search_by_id (and the load procedure) then serve it as they serve a
-- local one, with the same arguments, validation, item error codes and
-- result rows.  The local functions dispatch here from the point where
-- they used to refuse a remote collection (vectorpg._collection(name,
-- true), then one IF in _write, delete and _search).
--
-- Writes are set-based SQL over the foreign table: an upsert is one INSERT
-- (the FDW's INSERT is an upsert; ON CONFLICT does not exist for foreign
-- tables), a delete one DELETE ... WHERE id = ANY (...).  The FDW buffers
-- them until the transaction commits, so atomic => true keeps its meaning
-- up to the commit, and a remote failure at commit rolls the transaction
-- back.  To tell inserts from updates, and for update's merge, the current
-- records of the batch's ids are read first with one fetch by id.
--
-- Searches call vectorpg._remote_query (src/fdw_batch.c), one remote top-k
-- per query with the filter passed to the remote as it is: Pinecone's
-- filter language is the batch API's own, and the Milvus client translates
-- it.  delete_where and count with a filter read the whole index (the
-- table must allow_full_scan).  multi_search is built on search and so
-- serves both kinds; describe_collection reports the remote's own count
-- (vectorpg._remote_count) with the local-only fields null, and
-- collection_health checks the foreign table and one round trip.
-- hybrid_search ranks every record matching the text query, a full remote
-- scan, so like delete_where it needs allow_full_scan (HV00L otherwise).

-- Register a vectorpg_fdw foreign table as a remote collection (called by
-- register_collection for foreign tables).  The metric is the argument,
-- else the table's metric option; the dimension that of vector(n) or the
-- table's dimension option
CREATE FUNCTION vectorpg._register_remote_collection(name text, relation regclass,
	id_column name, vector_column name, metadata_column name, metric text,
	text_column name, text_config regconfig)
	RETURNS void
	LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	fdw name;
	opts text[];
	id_type regtype := (vectorpg._column_type(relation, id_column)).typid;
	vec_type regtype := (vectorpg._column_type(relation, vector_column)).typid;
	dim integer := (vectorpg._column_type(relation, vector_column)).typmod;
	meta_type regtype := (vectorpg._column_type(relation, metadata_column)).typid;
	text_type regtype := (vectorpg._column_type(relation, text_column)).typid;
	m text := metric;
BEGIN
	SELECT w.fdwname, t.ftoptions INTO fdw, opts
	FROM pg_foreign_table t
	JOIN pg_foreign_server s ON s.oid = t.ftserver
	JOIN pg_foreign_data_wrapper w ON w.oid = s.srvfdw
	WHERE t.ftrelid = relation;
	IF fdw IS DISTINCT FROM 'vectorpg_fdw' THEN
		RAISE EXCEPTION 'foreign table % does not belong to vectorpg_fdw', relation
			USING ERRCODE = 'wrong_object_type',
				  DETAIL = 'Remote collections are foreign tables of vectorpg_fdw (Pinecone or Milvus).';
	END IF;
	IF EXISTS (SELECT 1 FROM vectorpg.collections c WHERE c.name = _register_remote_collection.name) THEN
		RAISE EXCEPTION 'collection "%" already exists', name
			USING ERRCODE = 'duplicate_object';
	END IF;
	IF id_column IS DISTINCT FROM 'id' OR id_type IS NULL
	   OR id_type NOT IN ('text'::regtype, 'character varying'::regtype, 'bigint'::regtype) THEN
		RAISE EXCEPTION 'the id column of a remote collection must be column "id" of type text, varchar or bigint'
			USING ERRCODE = 'invalid_column_reference',
				  HINT = 'vectorpg_fdw recognises the record id by the column name "id".';
	END IF;
	IF vec_type IS DISTINCT FROM '@extschema@.vector'::regtype THEN
		RAISE EXCEPTION 'column "%" of relation % is not a vector column', vector_column, relation
			USING ERRCODE = 'datatype_mismatch';
	END IF;
	IF dim < 1 THEN
		SELECT split_part(o, '=', 2)::integer INTO dim FROM unnest(opts) o WHERE o LIKE 'dimension=%';
	END IF;
	IF coalesce(dim, 0) < 1 THEN
		RAISE EXCEPTION 'column "%" of relation % has no dimension', vector_column, relation
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Declare the column as vector(n), or set the table option dimension.';
	END IF;
	IF metadata_column IS NOT NULL AND meta_type IS DISTINCT FROM 'jsonb'::regtype THEN
		RAISE EXCEPTION 'column "%" of relation % is not a jsonb column', metadata_column, relation
			USING ERRCODE = 'datatype_mismatch',
				  HINT = 'Pass metadata_column => NULL for a table without one.';
	END IF;
	IF text_column IS NOT NULL
	   AND text_type IS DISTINCT FROM 'text'::regtype AND text_type IS DISTINCT FROM 'character varying'::regtype THEN
		RAISE EXCEPTION 'column "%" of relation % is not a text column', text_column, relation
			USING ERRCODE = 'datatype_mismatch',
				  HINT = 'The text column of a remote collection is a text or varchar metadata column; hybrid_search computes its tsvector.';
	END IF;
	IF m IS NULL THEN
		SELECT CASE lower(split_part(o, '=', 2))
				   WHEN 'cosine' THEN 'cosine' WHEN 'euclidean' THEN 'l2' WHEN 'l2' THEN 'l2'
				   WHEN 'dotproduct' THEN 'ip' WHEN 'ip' THEN 'ip' END
		INTO m FROM unnest(opts) o WHERE o LIKE 'metric=%';
	END IF;
	IF m IS NULL THEN
		RAISE EXCEPTION 'the metric of remote collection "%" is not known', name
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Pass metric => (cosine, l2 or ip, the remote index''s metric), or set the table option metric.';
	END IF;
	IF m NOT IN ('cosine', 'l2', 'ip') THEN
		RAISE EXCEPTION 'metric % is not available remotely', m
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Remote indexes use cosine, l2 (euclidean) or ip (dot product).';
	END IF;
	INSERT INTO vectorpg.collections (name, kind, relation, id_column, vector_column, metadata_column,
		text_column, text_config, dimension, metric, owns_table)
	VALUES (name, 'remote', relation, id_column, vector_column, metadata_column,
		text_column, coalesce(text_config, 'simple'), dim, m, false);
END
$$;

COMMENT ON FUNCTION vectorpg._register_remote_collection(text, regclass, name, name, name, text, name, regconfig) IS 'internal: register a vectorpg_fdw foreign table as a remote collection';

-- Whether a vectorpg_fdw table lets queries read the whole remote index
-- (table option allow_full_scan, read as PostgreSQL reads booleans)
CREATE FUNCTION vectorpg._remote_full_scan_allowed(relation regclass) RETURNS boolean
	LANGUAGE sql STABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
	SELECT coalesce(bool_or(lower(split_part(o, '=', 2)) IN ('true', 'on', 'yes', '1', 't', 'y')), false)
	FROM pg_foreign_table t, unnest(t.ftoptions) o
	WHERE t.ftrelid = relation AND o LIKE 'allow\_full\_scan=%'
$$;

COMMENT ON FUNCTION vectorpg._remote_full_scan_allowed(regclass) IS 'internal: whether a foreign table has allow_full_scan set to true';

-- One remote top-k search (src/fdw_batch.c)
CREATE FUNCTION vectorpg._remote_query(relation regclass, query @extschema@.vector, top_k integer,
	filter jsonb, include_values boolean)
	RETURNS TABLE (id text, distance double precision, metadata jsonb, vector @extschema@.vector)
	AS 'MODULE_PATHNAME', 'vectorpg_remote_query'
	LANGUAGE C VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE ROWS 10;

COMMENT ON FUNCTION vectorpg._remote_query(regclass, @extschema@.vector, integer, jsonb, boolean) IS 'internal: one remote top-k search of a vectorpg_fdw table with a filter in Pinecone''s language';

-- The remote's record count, asked now (src/fdw_batch.c): describe_collection's
-- vector_count and collection_health's round trip, without a full scan
CREATE FUNCTION vectorpg._remote_count(relation regclass)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'vectorpg_remote_count'
	LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;

COMMENT ON FUNCTION vectorpg._remote_count(regclass) IS 'internal: the record count of a vectorpg_fdw table''s namespace or partition, asked of the remote now';

-- Upsert and update of a remote collection: validation as _write, then one
-- INSERT into the foreign table (an upsert there), buffered until commit
CREATE FUNCTION vectorpg._remote_write(op text, c vectorpg.collections, ids text[], vecs @extschema@.vector[],
	metas jsonb[], texts text[], err_pos integer[], err_code text[], err_msg text[],
	merge boolean, atomic boolean, started timestamptz)
	RETURNS vectorpg.batch_result
	LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n integer := coalesce(cardinality(ids), 0);
	idtype regtype := (vectorpg._column_type(c.relation, c.id_column)).typid;
	errs jsonb;
	bad integer[];
	have_vecs @extschema@.vector[];
	have_metas jsonb[];
	sql text;
	existed boolean[];
	ins bigint := 0;
	upd bigint := 0;
	i integer;
	st text;
	msg text;
BEGIN
	-- (vectorpg._write checked the arguments before dispatching here)
	IF EXISTS (SELECT 1 FROM unnest(texts) t WHERE t IS NOT NULL) THEN
		RAISE EXCEPTION 'collection "%" has no text column to write texts to', c.name
			USING ERRCODE = 'invalid_parameter_value',
				  DETAIL = 'Remote collections have no text column.';
	END IF;

	-- Validation, set-based, with the local path's codes and messages
	SELECT coalesce(array_agg(s.n ORDER BY s.n), '{}'),
		   coalesce(jsonb_agg(jsonb_build_object('position', s.n, 'id', s.id, 'code', s.code, 'message', s.msg) ORDER BY s.n), '[]')
	INTO bad, errs
	FROM (
		SELECT u.n::integer AS n, u.id, e.code,
			CASE e.code
				WHEN '22004' THEN CASE WHEN u.id IS NULL THEN 'id must not be null' ELSE 'vector must not be null' END
				WHEN '21000' THEN format('id repeats item %s of the batch', u.first_n)
				WHEN '22000' THEN format('expected %s dimensions, not %s', c.dimension, @extschema@.vector_dims(u.v))
				WHEN '22023' THEN CASE WHEN u.v IS NULL AND u.m IS NULL THEN 'item has no vector, metadata or text to update'
								  ELSE format('metadata must be a JSON object, not %s', jsonb_typeof(u.m)) END
			END AS msg
		FROM (SELECT x.*, min(x.n) OVER (PARTITION BY x.id) AS first_n
			  FROM unnest(ids, vecs, metas) WITH ORDINALITY x(id, v, m, n)) u
		CROSS JOIN LATERAL (SELECT CASE
				WHEN u.n = ANY (err_pos) THEN NULL
				WHEN u.id IS NULL THEN '22004'
				WHEN u.first_n <> u.n THEN '21000'
				WHEN op = 'upsert' AND u.v IS NULL THEN '22004'
				WHEN op = 'update' AND u.v IS NULL AND u.m IS NULL THEN '22023'
				WHEN u.v IS NOT NULL AND @extschema@.vector_dims(u.v) <> c.dimension THEN '22000'
				WHEN u.m IS NOT NULL AND jsonb_typeof(u.m) <> 'object' THEN '22023'
			END AS code) e
		WHERE e.code IS NOT NULL
		UNION ALL
		SELECT p.pos, ids[p.pos], p.code, p.msg FROM unnest(err_pos, err_code, err_msg) p(pos, code, msg)
	) s;
	SELECT r.bad, r.errs INTO bad, errs FROM vectorpg._check_item_ids(c, ids, atomic, n, bad, errs) r;

	-- The current records of the valid ids, one fetch by id, lined up with
	-- the items (vectors and metadata only when update merges into them):
	-- a hash join in the id column's type ('007' is 7), so that neither
	-- this nor the statement below compares every item with every record
	-- (DISTINCT ON keeps the items lined up whatever the remote returns)
	EXECUTE format('WITH x AS (SELECT x.n, CASE WHEN x.n <> ALL ($2) THEN x.id::%1$s END AS id '
				   'FROM unnest($1::text[]) WITH ORDINALITY x(id, n)), '
				   'h AS MATERIALIZED (SELECT DISTINCT ON (t.%2$I) t.%2$I AS id, %3$s AS v, %4$s AS m FROM %5$s t '
				   'WHERE t.%2$I = ANY (ARRAY(SELECT DISTINCT x.id FROM x WHERE x.id IS NOT NULL))) '
				   'SELECT array_agg(h.id IS NOT NULL ORDER BY x.n), array_agg(h.v ORDER BY x.n), '
				   'array_agg(h.m ORDER BY x.n) FROM x LEFT JOIN h ON h.id = x.id',
				   idtype, c.id_column,
				   CASE WHEN op = 'update' THEN format('t.%I', c.vector_column) ELSE 'NULL::@extschema@.vector' END,
				   CASE WHEN op = 'update' AND c.metadata_column IS NOT NULL THEN format('t.%I', c.metadata_column)
						ELSE 'NULL::jsonb' END,
				   c.relation)
		INTO existed, have_vecs, have_metas USING ids, bad;
	IF op = 'update' THEN
		SELECT bad || coalesce(array_agg(p.n ORDER BY p.n), '{}'),
			   errs || coalesce(jsonb_agg(jsonb_build_object('position', p.n, 'id', ids[p.n], 'code', 'P0002',
								'message', format('no item with id "%s"', ids[p.n])) ORDER BY p.n), '[]')
		INTO bad, errs
		FROM generate_series(1, n) p(n)
		WHERE p.n <> ALL (bad) AND NOT coalesce(existed[p.n], false);
		IF atomic AND cardinality(bad) > 0 THEN
			PERFORM vectorpg._raise_item_error(errs, n);
		END IF;
	END IF;

	-- The statement: one INSERT of positions [$6, $7] without the bad ones
	-- ($8); the arrays start at batch position $9 (1, or the item itself
	-- when an item is retried alone).  update's rows are the current
	-- records with the batch applied
	sql := format(
		'INSERT INTO %1$s (%2$I, %3$I%4$s) '
		'SELECT x.id::%5$s, coalesce(x.v, x.hv)%6$s '
		'FROM unnest($1::text[], $2::@extschema@.vector[], $3::jsonb[], $4::@extschema@.vector[], $5::jsonb[]) '
		'WITH ORDINALITY x(id, v, m, hv, hm, o) '
		'WHERE x.o + $9 - 1 BETWEEN $6 AND $7 AND x.o + $9 - 1 <> ALL ($8) ORDER BY 1',
		c.relation, c.id_column, c.vector_column,
		CASE WHEN c.metadata_column IS NULL THEN '' ELSE format(', %I', c.metadata_column) END,
		idtype,
		CASE WHEN c.metadata_column IS NULL THEN ''
			 WHEN op = 'upsert' THEN ', x.m'
			 ELSE ', CASE WHEN x.m IS NULL THEN x.hm WHEN $10 THEN vectorpg.merge_metadata(x.hm, x.m) ELSE x.m END' END);

	IF atomic THEN
		EXECUTE sql USING ids, vecs, metas, have_vecs, have_metas, 1, n, bad, 1, merge;
	ELSE
		BEGIN
			EXECUTE sql USING ids, vecs, metas, have_vecs, have_metas, 1, n, bad, 1, merge;
		EXCEPTION WHEN OTHERS THEN
			-- unforeseen failure (an id the remote's rules reject, say):
			-- item by item, each in its own subtransaction, whose rollback
			-- also drops its buffered write; each retry passes its item's
			-- slices, not the whole arrays
			FOR i IN 1 .. n LOOP
				CONTINUE WHEN i = ANY (bad);
				BEGIN
					EXECUTE sql USING ids[i:i], vecs[i:i], metas[i:i], have_vecs[i:i], have_metas[i:i],
						i, i, '{}'::integer[], i, merge;
				EXCEPTION WHEN OTHERS THEN
					GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
					bad := bad || i;
					errs := errs || jsonb_build_array(jsonb_build_object('position', i, 'id', ids[i], 'code', st, 'message', msg));
				END;
			END LOOP;
		END;
	END IF;

	SELECT count(*) FILTER (WHERE NOT coalesce(existed[p.n], false)),
		   count(*) FILTER (WHERE coalesce(existed[p.n], false))
	INTO ins, upd
	FROM generate_series(1, n) p(n) WHERE p.n <> ALL (bad);
	RETURN vectorpg._batch_result(CASE WHEN op = 'upsert' THEN ins ELSE 0 END, upd, 0, errs, n, started);
END
$$;

COMMENT ON FUNCTION vectorpg._remote_write(text, vectorpg.collections, text[], @extschema@.vector[], jsonb[], text[], integer[], text[], text[], boolean, boolean, timestamptz) IS 'internal: validate and apply a batch upsert or update to a remote collection (buffered until commit)';

-- Delete by ids from a remote collection: one DELETE ... WHERE id = ANY,
-- whose scan is one fetch by id; deleted counts the ids that existed
CREATE FUNCTION vectorpg._remote_delete(c vectorpg.collections, ids text[], atomic boolean, started timestamptz)
	RETURNS vectorpg.batch_result
	LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n integer := coalesce(cardinality(ids), 0);
	idtype regtype := (vectorpg._column_type(c.relation, c.id_column)).typid;
	bad integer[];
	errs jsonb;
	ndeleted bigint;
BEGIN
	IF atomic IS NULL THEN
		RAISE EXCEPTION 'atomic must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	SELECT coalesce(array_agg(x.n::integer ORDER BY x.n), '{}'),
		   coalesce(jsonb_agg(jsonb_build_object('position', x.n, 'id', NULL, 'code', '22004',
												 'message', 'id must not be null') ORDER BY x.n), '[]')
	INTO bad, errs
	FROM unnest(ids) WITH ORDINALITY x(id, n) WHERE x.id IS NULL;
	SELECT r.bad, r.errs INTO bad, errs FROM vectorpg._check_item_ids(c, ids, atomic, n, bad, errs) r;
	EXECUTE format('WITH w AS (DELETE FROM %1$s t WHERE t.%2$I = ANY (ARRAY(SELECT DISTINCT x.id::%3$s '
				   'FROM unnest($1::text[]) WITH ORDINALITY x(id, n) WHERE x.n <> ALL ($2))) RETURNING 1) '
				   'SELECT count(*) FROM w',
				   c.relation, c.id_column, idtype)
		INTO ndeleted USING ids, bad;
	RETURN vectorpg._batch_result(0, 0, ndeleted, errs, n, started);
END
$$;

COMMENT ON FUNCTION vectorpg._remote_delete(vectorpg.collections, text[], boolean, timestamptz) IS 'internal: delete items by id from a remote collection (buffered until commit)';

-- Batch search of a remote collection: the local path's validation and
-- result rows, one remote top-k per query (k + offset + 1 matches, the
-- last one telling has_more), the filter sent to the remote
CREATE FUNCTION vectorpg._remote_search(c vectorpg.collections, qvecs @extschema@.vector[], ks integer[],
	offs integer[], maxd double precision[], mins double precision[],
	err_pos integer[], err_code text[], err_msg text[],
	filter jsonb, include_vectors boolean, atomic boolean)
	RETURNS SETOF vectorpg.search_result
	LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	n integer := coalesce(cardinality(qvecs), 0);
	bad integer[];
	errs vectorpg.search_result[];
	rows vectorpg.search_result[];
	part vectorpg.search_result[];
	sql text;
	i integer;
	st text;
	msg text;
	first vectorpg.search_result;
	kmax integer := (SELECT max_value FROM vectorpg.limits() WHERE name = 'k');
	omax integer := (SELECT max_value FROM vectorpg.limits() WHERE name = 'offset');
BEGIN
	IF include_vectors IS NULL OR atomic IS NULL THEN
		RAISE EXCEPTION 'include_vectors and atomic must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF filter IS NOT NULL AND c.metadata_column IS NULL THEN
		RAISE EXCEPTION 'collection "%" has no metadata column to filter on', c.name
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	-- the filter is checked as the local path checks it (22023, 54000)
	PERFORM vectorpg.filter_sql(filter, 'metadata', true);

	SELECT coalesce(array_agg(s.n ORDER BY s.n), '{}'),
		   coalesce(array_agg(ROW(s.n, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
								  jsonb_build_object('code', s.code, 'message', s.msg))::vectorpg.search_result ORDER BY s.n), '{}')
	INTO bad, errs
	FROM (
		SELECT x.n::integer AS n, e.code,
			CASE e.code
				WHEN '22004' THEN 'query vector must not be null'
				WHEN '22000' THEN format('expected %s dimensions, not %s', c.dimension, @extschema@.vector_dims(x.v))
				WHEN '22023' THEN CASE WHEN x.k IS NULL OR x.k < 1 OR x.k > kmax
						THEN format('k must be between 1 and %s, not %s', kmax, coalesce(x.k::text, 'null'))
					ELSE format('offset must be between 0 and %s, not %s', omax, coalesce(x.off::text, 'null')) END
			END AS msg
		FROM unnest(qvecs, ks, offs) WITH ORDINALITY x(v, k, off, n)
		CROSS JOIN LATERAL (SELECT CASE
				WHEN x.n = ANY (err_pos) THEN NULL
				WHEN x.v IS NULL THEN '22004'
				WHEN @extschema@.vector_dims(x.v) <> c.dimension THEN '22000'
				WHEN x.k IS NULL OR x.k < 1 OR x.k > kmax THEN '22023'
				WHEN x.off IS NULL OR x.off < 0 OR x.off > omax THEN '22023'
			END AS code) e
		WHERE e.code IS NOT NULL
		UNION ALL
		SELECT p.pos, p.code, p.msg FROM unnest(err_pos, err_code, err_msg) p(pos, code, msg)
	) s;
	IF atomic AND cardinality(bad) > 0 THEN
		SELECT e.* INTO first FROM unnest(errs) e ORDER BY e.query LIMIT 1;
		RAISE EXCEPTION 'query %: %', first.query, first.error ->> 'message'
			USING ERRCODE = first.error ->> 'code',
				  DETAIL = format('%s of %s queries failed.', cardinality(bad), n),
				  HINT = 'Pass atomic => false to get the other queries'' results and the failures as error rows.';
	END IF;

	sql := format(
		'WITH q AS (SELECT x.v, x.k, x.off, x.maxd, x.mins, (x.o + $11 - 1)::integer AS n '
		'  FROM unnest($1::@extschema@.vector[], $2::integer[], $3::integer[], $4::float8[], $5::float8[]) '
		'  WITH ORDINALITY x(v, k, off, maxd, mins, o) WHERE x.o + $11 - 1 <> ALL ($6) '
		'  AND x.o + $11 - 1 BETWEEN $7 AND $8), '
		'h AS (SELECT q.n, q.k, q.off, q.maxd, q.mins, r.id, r.distance AS d, %1$s AS meta, r.vector AS vec, '
		'  row_number() OVER (PARTITION BY q.n ORDER BY r.distance, r.id) AS rn '
		'  FROM q CROSS JOIN LATERAL vectorpg._remote_query(%2$L::regclass, q.v, q.off + q.k + 1, $9, $10) r), '
		's AS (SELECT h.*, vectorpg.score(%3$L, h.d) AS score FROM h WHERE h.rn > h.off), '
		'p AS (SELECT s.*, (s.maxd IS NULL OR s.d <= s.maxd) AND (s.mins IS NULL OR s.score >= s.mins) AS pass FROM s) '
		'SELECT array_agg(ROW(p.n, p.rn::integer, p.id, p.d, p.score, p.meta, p.vec, '
		'  p.more, NULL)::vectorpg.search_result ORDER BY p.n, p.rn) '
		'FROM (SELECT p.*, bool_or(p.rn > p.off + p.k AND p.pass) OVER (PARTITION BY p.n) AS more FROM p) p '
		'WHERE p.rn <= p.off + p.k AND p.pass',
		CASE WHEN c.metadata_column IS NULL THEN 'NULL::jsonb' ELSE 'r.metadata' END,
		c.relation::oid::text, c.metric);

	IF atomic THEN
		EXECUTE sql INTO rows USING qvecs, ks, offs, maxd, mins, bad, 1, n, filter, include_vectors, 1;
	ELSE
		BEGIN
			EXECUTE sql INTO rows USING qvecs, ks, offs, maxd, mins, bad, 1, n, filter, include_vectors, 1;
		EXCEPTION WHEN OTHERS THEN
			-- query by query, each passing its own slices of the arrays,
			-- which start at its position ($11)
			rows := '{}';
			FOR i IN 1 .. n LOOP
				CONTINUE WHEN i = ANY (bad);
				BEGIN
					EXECUTE sql INTO part USING qvecs[i:i], ks[i:i], offs[i:i], maxd[i:i], mins[i:i],
						'{}'::integer[], i, i, filter, include_vectors, i;
					rows := rows || coalesce(part, '{}');
				EXCEPTION WHEN OTHERS THEN
					GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
					errs := errs || ROW(i, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
										jsonb_build_object('code', st, 'message', msg))::vectorpg.search_result;
				END;
			END LOOP;
		END;
	END IF;
	RETURN QUERY SELECT r.* FROM unnest(coalesce(rows, '{}') || errs) r ORDER BY r.query, r.rank NULLS FIRST;
END
$$;

COMMENT ON FUNCTION vectorpg._remote_search(vectorpg.collections, @extschema@.vector[], integer[], integer[], double precision[], double precision[], integer[], text[], text[], jsonb, boolean, boolean) IS 'internal: run a batch of queries against a remote collection, one remote top-k each';
