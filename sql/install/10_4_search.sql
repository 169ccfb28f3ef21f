-- ---------------------------------------------------------------------------
-- Batch search, paging, multi-query retrieval, hybrid search and fusion
-- ---------------------------------------------------------------------------
--
-- vectorpg.search runs many queries as one statement: the queries are
-- unnested and each drives a LATERAL subquery "ORDER BY vector <op> q LIMIT
-- k + 1 OFFSET off", which the planner serves with the collection's hnsw
-- index (a nested loop that rescans the index once per query), so the plan
-- is made once per call.  hnsw.ef_search is raised for the call to at least
-- offset + k + 1 (or set to ef_search when given) and, under a filter,
-- hnsw.iterative_scan is set to relaxed_order unless already on, so that a
-- selective filter still gets k rows; both are put back before returning.
-- The (k + 1)-th row says whether another page exists (has_more).
--
-- A query that is invalid (wrong dimension, NaN, unknown id, bad k) is an
-- error in atomic mode and an error row (rank null, error {code, message})
-- otherwise; if the statement fails for an unforeseen reason in non-atomic
-- mode, each query is retried on its own in a subtransaction.

-- One row of a search result; error is set (and the hit columns null) for a
-- query that failed in non-atomic mode
CREATE TYPE vectorpg.search_result AS (
	query		integer,
	rank		integer,
	id			text,
	distance	double precision,
	score		double precision,
	metadata	jsonb,
	vector		@extschema@.vector,
	has_more	boolean,
	error		jsonb
);

COMMENT ON TYPE vectorpg.search_result IS 'one hit of a batch search (query number, rank, id, distance, score, metadata, vector, has_more), or one failed query (error)';

-- The core of every search: queries as arrays (vector, k, offset,
-- max_distance, min_score), with errors found earlier for some of them
CREATE FUNCTION vectorpg._search(c vectorpg.collections, qvecs @extschema@.vector[], ks integer[],
	offs integer[], maxd double precision[], mins double precision[],
	err_pos integer[], err_code text[], err_msg text[],
	filter jsonb, include_vectors boolean, ef_search integer, atomic boolean)
	RETURNS SETOF vectorpg.search_result
	LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
	-- A batch's statement can pass jit_above_cost from several hundred queries
	-- (the planner's cost of the index rescans), and compiling its
	-- expressions took 10 ms of a 100 ms call; its time is spent in the
	-- index, where JIT speeds nothing up
	SET jit = off
AS $$
DECLARE
	n integer := coalesce(cardinality(qvecs), 0);
	bad integer[];
	errs vectorpg.search_result[];
	rows vectorpg.search_result[];
	part vectorpg.search_result[];
	sql text;
	stream text;
	cond text;
	old_ef text := current_setting('hnsw.ef_search', true);
	old_iter text := current_setting('hnsw.iterative_scan', true);
	ef integer;
	lim integer;
	i integer;
	st text;
	msg text;
	first vectorpg.search_result;
BEGIN
	PERFORM vectorpg._batch_memory(n::bigint * c.dimension * 4);
	-- the retries of both kinds take slices [i:i] of the arrays (_from_one)
	IF NOT (vectorpg._from_one(qvecs) AND vectorpg._from_one(ks) AND vectorpg._from_one(offs)
			AND vectorpg._from_one(maxd) AND vectorpg._from_one(mins)) THEN
		qvecs := vectorpg._renumbered(qvecs);
		ks := vectorpg._renumbered(ks);
		offs := vectorpg._renumbered(offs);
		maxd := vectorpg._renumbered(maxd);
		mins := vectorpg._renumbered(mins);
	END IF;
	IF c.kind = 'remote' THEN
		RETURN QUERY SELECT * FROM vectorpg._remote_search(c, qvecs, ks, offs, maxd, mins, err_pos,
			err_code, err_msg, filter, include_vectors, atomic);
		RETURN;
	END IF;
	IF include_vectors IS NULL OR atomic IS NULL THEN
		RAISE EXCEPTION 'include_vectors and atomic must not be null' USING ERRCODE = 'null_value_not_allowed';
	END IF;
	IF filter IS NOT NULL AND c.metadata_column IS NULL THEN
		RAISE EXCEPTION 'collection "%" has no metadata column to filter on', c.name
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	cond := vectorpg.filter_sql(filter, 't.' || quote_ident(coalesce(c.metadata_column, 'metadata')), true);
	IF ef_search IS NOT NULL THEN
		PERFORM vectorpg._check_limit('ef_search', ef_search);
	END IF;

	-- per-query validation, set-based
	SELECT coalesce(array_agg(s.n ORDER BY s.n), '{}'),
		   coalesce(array_agg(ROW(s.n, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
								  jsonb_build_object('code', s.code, 'message', s.msg))::vectorpg.search_result ORDER BY s.n), '{}')
	INTO bad, errs
	FROM (
		SELECT x.n::integer AS n, e.code,
			CASE e.code
				WHEN '22004' THEN 'query vector must not be null'
				WHEN '22000' THEN format('expected %s dimensions, not %s', c.dimension, @extschema@.vector_dims(x.v))
				WHEN '22023' THEN CASE
					WHEN x.k IS NULL OR x.k < 1 OR x.k > (SELECT max_value FROM vectorpg.limits() WHERE name = 'k')
						THEN format('k must be between 1 and %s, not %s', (SELECT max_value FROM vectorpg.limits() WHERE name = 'k'), coalesce(x.k::text, 'null'))
					ELSE format('offset must be between 0 and %s, not %s', (SELECT max_value FROM vectorpg.limits() WHERE name = 'offset'), coalesce(x.off::text, 'null')) END
			END AS msg
		FROM unnest(qvecs, ks, offs) WITH ORDINALITY x(v, k, off, n)
		CROSS JOIN LATERAL (SELECT CASE
				WHEN x.n = ANY (err_pos) THEN NULL
				WHEN x.v IS NULL THEN '22004'
				WHEN @extschema@.vector_dims(x.v) <> c.dimension THEN '22000'
				WHEN x.k IS NULL OR x.k < 1 OR x.k > (SELECT max_value FROM vectorpg.limits() WHERE name = 'k') THEN '22023'
				WHEN x.off IS NULL OR x.off < 0 OR x.off > (SELECT max_value FROM vectorpg.limits() WHERE name = 'offset') THEN '22023'
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

	-- One statement for all queries.  The inner LIMIT is a constant, the
	-- largest offset + k + 1 of the batch, so that the planner sees how few
	-- rows each rescan of the index returns; each query's own offset and k
	-- are applied to the row numbers outside.  Everything per query (rank,
	-- score, thresholds, has_more) is worked out inside the LATERAL, over
	-- that query's few rows, so that the rows leave the nested loop in query
	-- order (unnest's ordinality) and only each query's ranks need sorting:
	-- numbering them over the whole batch with window functions took about
	-- a sixth of a 1,000-query call.  The rank sorts by d + 0, which the
	-- planner cannot take for the index's order: under an iterative scan
	-- (relaxed_order) the rows may come slightly out of order, and an
	-- Incremental Sort trusting that order would rank them wrongly.
	-- `stream` returns the hits as rows, in order; `sql` (non-atomic mode,
	-- which may have to discard a failed statement's rows and retry query by
	-- query) collects them into an array first
	SELECT coalesce(max(x.k + x.off), 0) + 1 INTO lim FROM unnest(ks, offs) x(k, off);
	stream := format(
		'SELECT (x.o + $9 - 1)::integer, p.rn::integer, p.id, p.d, p.score, p.meta, p.vec, p.more, NULL::jsonb '
		'FROM unnest($1::@extschema@.vector[], $2::integer[], $3::integer[], $4::float8[], $5::float8[]) '
		'  WITH ORDINALITY x(v, k, off, maxd, mins, o) '
		'CROSS JOIN LATERAL ('
		'  SELECT s.*, bool_or(s.rn > x.off + x.k AND s.pass) OVER () AS more FROM ('
		'    SELECT r.*, (x.maxd IS NULL OR r.d <= x.maxd) AND (x.mins IS NULL OR r.score >= x.mins) AS pass FROM ('
		'      SELECT h.*, vectorpg.score(%8$L, h.d) AS score, row_number() OVER (ORDER BY h.d + 0, h.id) AS rn FROM ('
		'        SELECT t.%1$I::text AS id, t.%2$I %3$s x.v AS d, %4$s AS meta, %5$s AS vec '
		'        FROM %6$s t WHERE %7$s ORDER BY t.%2$I %3$s x.v LIMIT %9$s) h) r '
		'    WHERE r.rn > x.off) s) p '
		'WHERE x.o + $9 - 1 <> ALL ($6) AND x.o + $9 - 1 BETWEEN $7 AND $8 AND p.rn <= x.off + x.k AND p.pass',
		c.id_column, c.vector_column, vectorpg._metric_operator(c.metric),
		CASE WHEN c.metadata_column IS NULL THEN 'NULL::jsonb' ELSE format('t.%I', c.metadata_column) END,
		CASE WHEN include_vectors THEN format('t.%I', c.vector_column) ELSE 'NULL::@extschema@.vector' END,
		c.relation, cond, c.metric, lim);
	sql := format('SELECT array_agg(r::vectorpg.search_result ORDER BY r.n, r.rn) FROM (%s) r(n, rn)', stream);
	stream := stream || ' ORDER BY x.o, p.rn';

	-- settings for this call: enough candidates for offset + k + 1, and
	-- iterative scans under a filter
	SELECT coalesce(ef_search, greatest(coalesce(old_ef, '40')::integer,
										least(1000, max(x.k + x.off + 1))))
	INTO ef FROM unnest(ks, offs) x(k, off);
	PERFORM set_config('hnsw.ef_search', coalesce(ef, 40)::text, true);
	IF cond <> 'true' AND coalesce(old_iter, 'off') = 'off' THEN
		PERFORM set_config('hnsw.iterative_scan', 'relaxed_order', true);
	END IF;

	IF atomic THEN
		-- no error rows to merge: a bad query has raised above
		RETURN QUERY EXECUTE stream USING qvecs, ks, offs, maxd, mins, bad, 1, n, 1;
	ELSE
		BEGIN
			EXECUTE sql INTO rows USING qvecs, ks, offs, maxd, mins, bad, 1, n, 1;
		EXCEPTION WHEN OTHERS THEN
			rows := '{}';
			FOR i IN 1 .. n LOOP
				CONTINUE WHEN i = ANY (bad);
				BEGIN
					-- a one-query slice: whole arrays made every retry copy
					-- every query vector
					EXECUTE sql INTO part USING qvecs[i:i], ks[i:i], offs[i:i], maxd[i:i], mins[i:i], bad, i, i, i;
					rows := rows || coalesce(part, '{}');
				EXCEPTION WHEN OTHERS THEN
					GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
					errs := errs || ROW(i, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
										jsonb_build_object('code', st, 'message', msg))::vectorpg.search_result;
				END;
			END LOOP;
		END;
	END IF;

	IF old_ef IS NOT NULL THEN
		PERFORM set_config('hnsw.ef_search', old_ef, true);
	END IF;
	IF old_iter IS NOT NULL THEN
		PERFORM set_config('hnsw.iterative_scan', old_iter, true);
	END IF;
	IF NOT atomic THEN
		RETURN QUERY SELECT r.* FROM unnest(coalesce(rows, '{}') || errs) r ORDER BY r.query, r.rank NULLS FIRST;
	END IF;
END
$$;

COMMENT ON FUNCTION vectorpg._search(vectorpg.collections, @extschema@.vector[], integer[], integer[], double precision[], double precision[], integer[], text[], text[], jsonb, boolean, integer, boolean) IS 'internal: run a batch of queries against a local collection';

-- Batch search, arrays form: the same k, page offset and thresholds for
-- every query
CREATE FUNCTION vectorpg.search(collection text, queries @extschema@.vector[], k integer DEFAULT 10,
	filter jsonb DEFAULT NULL, page_offset integer DEFAULT 0,
	max_distance double precision DEFAULT NULL, min_score double precision DEFAULT NULL,
	include_vectors boolean DEFAULT false, ef_search integer DEFAULT NULL,
	atomic boolean DEFAULT true, batch_size_limit integer DEFAULT 1000)
	RETURNS SETOF vectorpg.search_result
	LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c vectorpg.collections := vectorpg._collection(collection, true);
	n integer := coalesce(cardinality(queries), 0);
BEGIN
	PERFORM vectorpg._check_batch_size(n, batch_size_limit);
	PERFORM vectorpg._check_limit('k', coalesce(k, -1));
	PERFORM vectorpg._check_limit('offset', coalesce(page_offset, -1));
	RETURN QUERY SELECT * FROM vectorpg._search(c, queries, array_fill(k, ARRAY[n]),
		array_fill(page_offset, ARRAY[n]), array_fill(max_distance, ARRAY[n]),
		array_fill(min_score, ARRAY[n]), '{}', '{}', '{}', filter, include_vectors, ef_search, atomic);
END
$$;

COMMENT ON FUNCTION vectorpg.search(text, @extschema@.vector[], integer, jsonb, integer, double precision, double precision, boolean, integer, boolean, integer) IS 'batch search: k nearest items of each query vector, with filter, paging and thresholds';

-- Batch search, records form: each query is {"vector" or "values": [...]}
-- or {"id": ...} (search by a stored item's vector), with its own "k",
-- "offset", "max_distance" and "min_score"
CREATE FUNCTION vectorpg.search(collection text, queries jsonb, filter jsonb DEFAULT NULL,
	include_vectors boolean DEFAULT false, ef_search integer DEFAULT NULL,
	atomic boolean DEFAULT true, batch_size_limit integer DEFAULT 1000)
	RETURNS SETOF vectorpg.search_result
	LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c vectorpg.collections := vectorpg._collection(collection, true);
	qv @extschema@.vector[];
	ks integer[];
	offs integer[];
	maxd double precision[];
	mins double precision[];
	qids text[];
	epos integer[];
	ecode text[];
	emsg text[];
	idc record;
	found_vecs @extschema@.vector[];
BEGIN
	IF queries IS NULL OR jsonb_typeof(queries) <> 'array' THEN
		RAISE EXCEPTION 'queries must be a JSON array of objects, not %', coalesce(jsonb_typeof(queries), 'null')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM vectorpg._check_batch_size(jsonb_array_length(queries), batch_size_limit);
	WITH r AS (
		SELECT a.n::integer AS n, a.q, coalesce(a.q -> 'vector', a.q -> 'values') AS vals
		FROM jsonb_array_elements(queries) WITH ORDINALITY a(q, n)
	), checked AS (
		SELECT r.*,
			CASE
				WHEN jsonb_typeof(r.q) <> 'object' THEN '22023'
				WHEN EXISTS (SELECT 1 FROM jsonb_object_keys(r.q) k
							 WHERE k NOT IN ('vector', 'values', 'id', 'k', 'offset', 'max_distance', 'min_score')) THEN '22023'
				WHEN (r.vals IS NULL) = (r.q -> 'id' IS NULL) THEN '22023'
				WHEN r.q ? 'id' AND jsonb_typeof(r.q -> 'id') NOT IN ('string', 'number') THEN '22023'
				WHEN r.q ? 'k' AND NOT jsonb_path_exists(r.q, '$.k ? (@.type() == "number" && @ == @.floor())') THEN '22023'
				WHEN r.q ? 'offset' AND NOT jsonb_path_exists(r.q, '$.offset ? (@.type() == "number" && @ == @.floor())') THEN '22023'
				WHEN r.q ? 'max_distance' AND jsonb_typeof(r.q -> 'max_distance') <> 'number' THEN '22023'
				WHEN r.q ? 'min_score' AND jsonb_typeof(r.q -> 'min_score') <> 'number' THEN '22023'
				WHEN r.vals IS NULL THEN NULL
				WHEN jsonb_typeof(r.vals) <> 'array' THEN '22023'
				WHEN jsonb_path_exists(r.vals, '$[*] ? (@ == "NaN" || @ == "Infinity" || @ == "-Infinity" || @ == "inf" || @ == "-inf")') THEN '22P01'
				WHEN jsonb_path_exists(r.vals, '$[*] ? (@.type() != "number")') THEN '22023'
				WHEN jsonb_path_exists(r.vals, '$[*] ? (@ > 3.4028234663852886e38 || @ < -3.4028234663852886e38 || (@ != 0 && @ > -1e-45 && @ < 1e-45))') THEN '22003'
				WHEN jsonb_array_length(r.vals) = 0 THEN '22000'
			END AS code
		FROM r
	)
	SELECT array_agg(CASE WHEN x.code IS NULL AND x.vals IS NOT NULL THEN (x.vals::text)::@extschema@.vector END ORDER BY x.n),
		   array_agg(CASE WHEN x.code IS NULL THEN coalesce((x.q ->> 'k')::numeric::integer, 10) ELSE 10 END ORDER BY x.n),
		   array_agg(CASE WHEN x.code IS NULL THEN coalesce((x.q ->> 'offset')::numeric::integer, 0) ELSE 0 END ORDER BY x.n),
		   array_agg(CASE WHEN x.code IS NULL THEN (x.q ->> 'max_distance')::float8 END ORDER BY x.n),
		   array_agg(CASE WHEN x.code IS NULL THEN (x.q ->> 'min_score')::float8 END ORDER BY x.n),
		   array_agg(CASE WHEN x.code IS NULL THEN x.q ->> 'id' END ORDER BY x.n),
		   coalesce(array_agg(x.n ORDER BY x.n) FILTER (WHERE x.code IS NOT NULL), '{}'),
		   coalesce(array_agg(x.code ORDER BY x.n) FILTER (WHERE x.code IS NOT NULL), '{}'),
		   coalesce(array_agg(CASE x.code
				WHEN '22P01' THEN 'NaN and Infinity are not allowed in a vector'
				WHEN '22003' THEN 'vector element out of range for type real'
				WHEN '22000' THEN 'vector must have at least 1 dimension'
				ELSE 'query must be an object with either "vector" or "id", and optionally "k" and "offset" (integers), "max_distance" and "min_score" (numbers)'
			END ORDER BY x.n) FILTER (WHERE x.code IS NOT NULL), '{}')
	INTO qv, ks, offs, maxd, mins, qids, epos, ecode, emsg
	FROM checked x;
	-- queries by id: the stored vectors
	IF EXISTS (SELECT 1 FROM unnest(qids) q WHERE q IS NOT NULL) THEN
		SELECT * INTO idc FROM vectorpg._check_ids(c, qids, epos);
		epos := epos || idc.pos; ecode := ecode || idc.code; emsg := emsg || idc.message;
		EXECUTE format('SELECT array_agg(t.%I ORDER BY x.n) FROM unnest($1::text[]) WITH ORDINALITY x(id, n) '
					   'LEFT JOIN %s t ON x.id IS NOT NULL AND x.n <> ALL ($2) AND t.%I = x.id::%s',
					   c.vector_column, c.relation, c.id_column,
					   (vectorpg._column_type(c.relation, c.id_column)).typid)
			INTO found_vecs USING qids, epos;
		SELECT epos || coalesce(array_agg(x.n), '{}'), ecode || coalesce(array_agg('P0002'::text), '{}'),
			   emsg || coalesce(array_agg(format('no item with id "%s"', x.id)), '{}')
		INTO epos, ecode, emsg
		FROM unnest(qids, found_vecs) WITH ORDINALITY x(id, v, n)
		WHERE x.id IS NOT NULL AND x.v IS NULL AND x.n <> ALL (epos);
		SELECT array_agg(coalesce(f, q) ORDER BY n) INTO qv FROM unnest(qv, found_vecs) WITH ORDINALITY x(q, f, n);
	END IF;
	RETURN QUERY SELECT * FROM vectorpg._search(c, qv, ks, offs, maxd, mins, epos, ecode, emsg,
		filter, include_vectors, ef_search, atomic);
END
$$;

COMMENT ON FUNCTION vectorpg.search(text, jsonb, jsonb, boolean, integer, boolean, integer) IS 'batch search: a jsonb array of queries {vector or id, k, offset, max_distance, min_score}';

-- Search by the ids of stored items: each item's own vector is the query
-- (the item itself is among the hits, at distance 0)
CREATE FUNCTION vectorpg.search_by_id(collection text, ids text[], k integer DEFAULT 10,
	filter jsonb DEFAULT NULL, page_offset integer DEFAULT 0,
	include_vectors boolean DEFAULT false, ef_search integer DEFAULT NULL,
	atomic boolean DEFAULT true, batch_size_limit integer DEFAULT 1000)
	RETURNS SETOF vectorpg.search_result
	LANGUAGE sql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
	SELECT * FROM vectorpg.search(collection,
		(SELECT coalesce(jsonb_agg(jsonb_build_object('id', i, 'k', k, 'offset', page_offset) ORDER BY n), '[]')
		 FROM unnest(ids) WITH ORDINALITY u(i, n)),
		filter, include_vectors, ef_search, atomic, batch_size_limit)
$$;

COMMENT ON FUNCTION vectorpg.search_by_id(text, text[], integer, jsonb, integer, boolean, integer, boolean, integer) IS 'batch search using stored items'' vectors as the queries';

-- Fetch items by id: the vectors and metadata of those that exist
CREATE FUNCTION vectorpg.fetch(collection text, ids text[])
	RETURNS TABLE (id text, vector @extschema@.vector, metadata jsonb)
	LANGUAGE plpgsql STABLE CALLED ON NULL INPUT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c vectorpg.collections := vectorpg._collection(collection, true);
BEGIN
	RETURN QUERY EXECUTE format(
		'SELECT t.%1$I::text, t.%2$I, %3$s FROM %4$s t WHERE t.%1$I = ANY ($1::%5$s[]) ORDER BY 1',
		c.id_column, c.vector_column,
		CASE WHEN c.metadata_column IS NULL THEN 'NULL::jsonb' ELSE format('t.%I', c.metadata_column) END,
		c.relation, (vectorpg._column_type(c.relation, c.id_column)).typid)
		USING ids;
END
$$;

COMMENT ON FUNCTION vectorpg.fetch(text, text[]) IS 'the stored vector and metadata of each id that exists';

-- Count the items, or those a filter matches
CREATE FUNCTION vectorpg.count(collection text, filter jsonb DEFAULT NULL)
	RETURNS bigint
	LANGUAGE plpgsql STABLE CALLED ON NULL INPUT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c vectorpg.collections := vectorpg._collection(collection, true);
	n bigint;
BEGIN
	IF filter IS NOT NULL AND c.metadata_column IS NULL THEN
		RAISE EXCEPTION 'collection "%" has no metadata column to filter on', c.name
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	EXECUTE format('SELECT count(*) FROM %s t WHERE %s', c.relation,
				   vectorpg.filter_sql(filter, 't.' || quote_ident(coalesce(c.metadata_column, 'metadata')), true))
		INTO n;
	RETURN n;
END
$$;

COMMENT ON FUNCTION vectorpg.count(text, jsonb) IS 'number of items, or of those a metadata filter matches';

-- Fuse ranked lists into one: reciprocal rank fusion (sum of
-- weight / (k + rank)) or weighted scores (sum of weight * the score
-- min-max normalised within its list).  lists is a JSON array of lists;
-- a list holds ids in rank order, or {"id", "score"} objects (weighted
-- needs the scores).  An id repeated within a list counts at its best rank
CREATE FUNCTION vectorpg.fuse(lists jsonb, method text DEFAULT 'rrf', k integer DEFAULT 60,
	weights double precision[] DEFAULT NULL)
	RETURNS TABLE (rank integer, id text, score double precision, ranks integer[])
	LANGUAGE plpgsql IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	nlists integer;
	w double precision[];
BEGIN
	IF lists IS NULL OR jsonb_typeof(lists) <> 'array'
	   OR EXISTS (SELECT 1 FROM jsonb_array_elements(lists) l WHERE jsonb_typeof(l) <> 'array') THEN
		RAISE EXCEPTION 'lists must be a JSON array of lists'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF method IS NULL OR method NOT IN ('rrf', 'weighted') THEN
		RAISE EXCEPTION 'unknown fusion method "%"', method
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The methods are rrf (reciprocal rank fusion) and weighted (weighted normalised scores).';
	END IF;
	PERFORM vectorpg._check_limit('rrf_k', coalesce(k, -1));
	nlists := jsonb_array_length(lists);
	w := coalesce(weights, array_fill(1.0::double precision, ARRAY[nlists]));
	IF cardinality(w) <> nlists OR array_position(w, NULL) IS NOT NULL THEN
		RAISE EXCEPTION 'weights must have one number for each of the % lists', nlists
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF EXISTS (SELECT 1 FROM jsonb_array_elements(lists) l, jsonb_array_elements(l) e
			   WHERE NOT coalesce(jsonb_typeof(e) IN ('string', 'number')
						  OR (jsonb_typeof(e) = 'object' AND jsonb_typeof(e -> 'id') IN ('string', 'number')
							  AND coalesce(jsonb_typeof(e -> 'score'), 'number') = 'number'), false)) THEN
		RAISE EXCEPTION 'list entries must be ids (strings or numbers) or objects {"id": ..., "score": number}'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF method = 'weighted' AND EXISTS (SELECT 1 FROM jsonb_array_elements(lists) l, jsonb_array_elements(l) e
									   WHERE jsonb_typeof(e -> 'score') IS DISTINCT FROM 'number') THEN
		RAISE EXCEPTION 'weighted fusion needs a score for every entry'
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Give entries as {"id": ..., "score": ...}, or use rrf.';
	END IF;
	RETURN QUERY
	WITH e AS (
		SELECT l.li::integer AS li, x.pos::integer AS pos,
			   CASE WHEN jsonb_typeof(x.e) = 'object' THEN x.e -> 'id' ELSE x.e END #>> '{}' AS id,
			   (x.e ->> 'score')::double precision AS s
		FROM jsonb_array_elements(lists) WITH ORDINALITY l(lst, li),
			 jsonb_array_elements(l.lst) WITH ORDINALITY x(e, pos)
	), d AS (
		SELECT DISTINCT ON (e.li, e.id) e.* FROM e ORDER BY e.li, e.id, e.pos
	), nrm AS (
		SELECT d.*, CASE WHEN max(d.s) OVER wl = min(d.s) OVER wl THEN 1.0
					ELSE (d.s - min(d.s) OVER wl) / (max(d.s) OVER wl - min(d.s) OVER wl) END AS ns
		FROM d WINDOW wl AS (PARTITION BY d.li)
	), g AS (
		SELECT nrm.id,
			   sum(CASE WHEN method = 'rrf' THEN w[nrm.li] / (k + nrm.pos) ELSE w[nrm.li] * nrm.ns END) AS score,
			   array_agg(nrm.li) AS lis, array_agg(nrm.pos) AS poss
		FROM nrm GROUP BY nrm.id
	)
	SELECT (row_number() OVER (ORDER BY g.score DESC, g.id))::integer, g.id, g.score,
		   ARRAY(SELECT g.poss[array_position(g.lis, gs)] FROM generate_series(1, nlists) gs)
	FROM g ORDER BY 1;
END
$$;

COMMENT ON FUNCTION vectorpg.fuse(jsonb, text, integer, double precision[]) IS 'fuse ranked lists by reciprocal rank fusion (k default 60) or weighted normalised scores';

-- Multi-query retrieval: search with each query, merge the hits, drop
-- duplicates, rerank (by fusion, best score, or exact distance to
-- rerank_vector) and keep the final k
CREATE FUNCTION vectorpg.multi_search(collection text, queries @extschema@.vector[], k integer DEFAULT 10,
	filter jsonb DEFAULT NULL, candidates integer DEFAULT NULL, fusion text DEFAULT 'rrf',
	rrf_k integer DEFAULT 60, rerank_vector @extschema@.vector DEFAULT NULL,
	include_vectors boolean DEFAULT false, ef_search integer DEFAULT NULL)
	RETURNS TABLE (rank integer, id text, score double precision, distance double precision,
				   hits integer, metadata jsonb, vector @extschema@.vector)
	LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	-- remote collections too: vectorpg.search serves both kinds
	c vectorpg.collections := vectorpg._collection(collection, true);
	cand integer := coalesce(candidates, k);
BEGIN
	PERFORM vectorpg._check_limit('k', coalesce(k, -1));
	PERFORM vectorpg._check_limit('candidates', coalesce(cand, -1));
	PERFORM vectorpg._check_limit('rrf_k', coalesce(rrf_k, -1));
	IF fusion IS NULL OR fusion NOT IN ('rrf', 'max_score') THEN
		RAISE EXCEPTION 'unknown fusion "%"', fusion
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'multi_search fuses by rrf (reciprocal rank fusion) or max_score; rerank_vector reranks by exact distance.';
	END IF;
	IF rerank_vector IS NOT NULL AND @extschema@.vector_dims(rerank_vector) <> c.dimension THEN
		RAISE EXCEPTION 'expected % dimensions, not %', c.dimension, @extschema@.vector_dims(rerank_vector)
			USING ERRCODE = 'data_exception';
	END IF;
	RETURN QUERY
	WITH s AS (
		SELECT * FROM vectorpg.search(collection, queries, least(cand, 1000), filter,
			include_vectors => include_vectors OR rerank_vector IS NOT NULL, ef_search => ef_search)
	), g AS (
		SELECT s.id, min(s.distance) AS d, max(s.score) AS best, sum(1.0 / (rrf_k + s.rank)) AS rrf,
			   count(*)::integer AS hits, (array_agg(s.metadata))[1] AS meta, (array_agg(s.vector))[1] AS vec
		FROM s GROUP BY s.id
	), r AS (
		SELECT g.*, CASE c.metric
				WHEN 'l2' THEN @extschema@.l2_distance(g.vec, rerank_vector)
				WHEN 'ip' THEN @extschema@.vector_negative_inner_product(g.vec, rerank_vector)
				WHEN 'cosine' THEN @extschema@.cosine_distance(g.vec, rerank_vector)
				WHEN 'l1' THEN @extschema@.l1_distance(g.vec, rerank_vector) END AS rd
		FROM g
	), f AS (
		SELECT r.*, CASE WHEN rerank_vector IS NOT NULL THEN vectorpg.score(c.metric, r.rd)
						 WHEN fusion = 'rrf' THEN r.rrf ELSE r.best END AS sc
		FROM r
	)
	SELECT (row_number() OVER (ORDER BY f.sc DESC, f.d, f.id))::integer, f.id, f.sc,
		   coalesce(f.rd, f.d), f.hits, f.meta, CASE WHEN include_vectors THEN f.vec END
	FROM f ORDER BY f.sc DESC, f.d, f.id LIMIT k;
END
$$;

COMMENT ON FUNCTION vectorpg.multi_search(text, @extschema@.vector[], integer, jsonb, integer, text, integer, @extschema@.vector, boolean, integer) IS 'multi-query retrieval: merge, de-duplicate and rerank the hits of several queries, keep k';

-- Hybrid search: the vector search and a full-text search (websearch
-- syntax) over the collection's text column, fused by vectorpg.fuse (rrf,
-- or weighted with vector_weight and 1 - vector_weight)
CREATE FUNCTION vectorpg.hybrid_search(collection text, query_vector @extschema@.vector, query_text text,
	k integer DEFAULT 10, filter jsonb DEFAULT NULL, fusion text DEFAULT 'rrf',
	rrf_k integer DEFAULT 60, vector_weight double precision DEFAULT 0.5,
	candidates integer DEFAULT NULL, ef_search integer DEFAULT NULL)
	RETURNS TABLE (rank integer, id text, score double precision, vector_rank integer, text_rank integer,
				   distance double precision, text_score double precision, metadata jsonb)
	LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c vectorpg.collections := vectorpg._collection(collection, true);
	cand integer := coalesce(candidates, greatest(40, 4 * k));
	tsv text;
	vlist jsonb;
	tlist jsonb;
BEGIN
	IF c.kind = 'remote' AND NOT vectorpg._remote_full_scan_allowed(c.relation) THEN
		-- the text side ranks every record matching the text query, which a
		-- remote index can only give by a full scan (doc/batch.md, remote);
		-- with allow_full_scan the same statements run and answer as locally
		RAISE EXCEPTION 'hybrid_search on remote collection "%" would read the whole remote index', c.name
			USING ERRCODE = 'fdw_unable_to_create_execution',
				  DETAIL = 'The full-text side ranks every record that matches the text query, and Pinecone and Milvus can find them only by reading all records.',
				  HINT = format('Set the option allow_full_scan of foreign table %s to true to allow it, or run hybrid_search on a local collection mirrored to the remote index (vectorpg.mirror).', c.relation);
	END IF;
	PERFORM vectorpg._check_limit('k', coalesce(k, -1));
	PERFORM vectorpg._check_limit('candidates', coalesce(cand, -1));
	IF c.text_column IS NULL THEN
		RAISE EXCEPTION 'collection "%" has no text column', c.name
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Create the collection with text_config, or register it with text_column.';
	END IF;
	IF vector_weight IS NULL OR vector_weight < 0 OR vector_weight > 1 THEN
		RAISE EXCEPTION 'vector_weight must be between 0 and 1, not %', coalesce(vector_weight::text, 'null')
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF query_vector IS NULL OR query_text IS NULL THEN
		RAISE EXCEPTION 'query_vector and query_text must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	tsv := CASE WHEN (vectorpg._column_type(c.relation, c.text_column)).typid = 'tsvector'::regtype
				THEN format('t.%I', c.text_column)
				ELSE format('to_tsvector(%L::regconfig, coalesce(t.%I, ''''))', c.text_config::text, c.text_column) END;
	SELECT coalesce(jsonb_agg(jsonb_build_object('id', s.id, 'score', s.score, 'distance', s.distance,
												   'metadata', s.metadata) ORDER BY s.rank), '[]')
	INTO vlist
	FROM vectorpg.search(collection, ARRAY[query_vector], least(cand, 1000), filter, ef_search => ef_search) s;
	EXECUTE format('SELECT coalesce(jsonb_agg(jsonb_build_object(''id'', x.id, ''score'', x.s, ''metadata'', x.meta) '
				   '  ORDER BY x.s DESC, x.id), ''[]'') '
				   'FROM (SELECT t.%1$I::text AS id, ts_rank_cd(%2$s, q)::double precision AS s, %3$s AS meta '
				   '      FROM %4$s t, websearch_to_tsquery(%5$L::regconfig, $1) q '
				   '      WHERE %2$s @@ q AND %6$s ORDER BY 2 DESC, 1 LIMIT $2) x',
				   c.id_column, tsv,
				   CASE WHEN c.metadata_column IS NULL THEN 'NULL::jsonb' ELSE format('t.%I', c.metadata_column) END,
				   c.relation, c.text_config::text,
				   vectorpg.filter_sql(filter, 't.' || quote_ident(coalesce(c.metadata_column, 'metadata')), true))
		INTO tlist USING query_text, cand;
	RETURN QUERY
	SELECT f.rank, f.id, f.score, f.ranks[1], f.ranks[2], (v.e ->> 'distance')::double precision,
		   (t.e ->> 'score')::double precision, coalesce(v.e -> 'metadata', t.e -> 'metadata')
	FROM vectorpg.fuse(jsonb_build_array(vlist, tlist), fusion, rrf_k, ARRAY[vector_weight, 1 - vector_weight]) f
	LEFT JOIN jsonb_array_elements(vlist) v(e) ON v.e ->> 'id' = f.id
	LEFT JOIN jsonb_array_elements(tlist) t(e) ON t.e ->> 'id' = f.id
	ORDER BY f.rank LIMIT k;
END
$$;

COMMENT ON FUNCTION vectorpg.hybrid_search(text, @extschema@.vector, text, integer, jsonb, text, integer, double precision, integer, integer) IS 'hybrid search: vector and full-text search fused by rrf or weighted scores';
