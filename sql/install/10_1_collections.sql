-- ---------------------------------------------------------------------------
-- Collections: the catalog, its limits and the functions that manage it
-- ---------------------------------------------------------------------------
--
-- A collection is a named table with an id column, a vector(n) column, an
-- optional jsonb metadata column, an optional text or tsvector column for
-- full-text search, and a metric (one of the four distance operators).
-- vectorpg.create_collection makes the table and its indexes;
-- vectorpg.register_collection adopts an existing table, naming its columns.
-- The catalog vectorpg.collections is extension configuration, so pg_dump
-- keeps its rows.  doc/batch.md describes the whole API; the functions of
-- this part run dynamic SQL, so every one pins search_path and quotes every
-- user-supplied name (format %I / %L).
--
-- The batch and search functions (10_3_batch.sql, 10_4_search.sql) are
-- PL/pgSQL around one set-based statement per batch: the per-call planning
-- cost is a fraction of a millisecond against the work of a 1,000-item batch
-- (doc/benchmarks.md measures it), and the language gives subtransactions
-- (EXCEPTION blocks) exactly where non-atomic batches need them.

-- The catalog.  kind 'remote' is reserved for collections whose table is a
-- vectorpg_fdw foreign table; owns_table says whether drop_collection drops
-- the table by default (true for tables made by create_collection).
CREATE TABLE vectorpg.collections (
	name			text PRIMARY KEY
					CHECK (length(name) BETWEEN 1 AND 63),
	kind			text NOT NULL DEFAULT 'local' CHECK (kind IN ('local', 'remote')),
	relation		regclass NOT NULL,
	id_column		name NOT NULL,
	vector_column	name NOT NULL,
	metadata_column	name,
	text_column		name,
	text_config		regconfig NOT NULL DEFAULT 'simple',
	dimension		integer NOT NULL CHECK (dimension BETWEEN 1 AND 16000),
	metric			text NOT NULL CHECK (metric IN ('l2', 'ip', 'cosine', 'l1')),
	owns_table		boolean NOT NULL,
	options			jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(options) = 'object'),
	created_at		timestamptz NOT NULL DEFAULT now()
);

SELECT pg_catalog.pg_extension_config_dump('vectorpg.collections', '');
GRANT SELECT ON vectorpg.collections TO PUBLIC;

COMMENT ON TABLE vectorpg.collections IS 'catalog of vectorpg collections (dumped by pg_dump as extension configuration)';

-- Result of every write (upsert, update, delete): one row
CREATE TYPE vectorpg.batch_result AS (
	inserted			bigint,
	updated				bigint,
	deleted				bigint,
	failed				bigint,
	errors				jsonb,
	processing_time_ms	double precision,
	status				text
);

COMMENT ON TYPE vectorpg.batch_result IS 'result of a batch write: counts, per-item errors, time, status (success, partial or failed)';

-- The tunables of the batch API as min/default/max triples: the functions
-- read them from here and sql/batch_limits.sql probes min-1, min, max, max+1
CREATE FUNCTION vectorpg.limits()
	RETURNS TABLE (name text, min_value bigint, default_value bigint, max_value bigint)
	LANGUAGE sql IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
AS $$
	VALUES ('batch_size_limit'::text, 1::bigint, 1000::bigint, 100000::bigint),
		   ('k', 1, 10, 1000),
		   ('offset', 0, 0, 10000),
		   ('ef_search', 1, 40, 1000),
		   ('candidates', 1, 40, 10000),
		   ('rrf_k', 0, 60, 100000),
		   ('filter_values', 0, 10000, 10000),
		   ('filter_depth', 1, 32, 32),
		   ('progress_chunk', 1, 10000, 10000)
$$;

COMMENT ON FUNCTION vectorpg.limits() IS 'tunables of the batch API: minimum, default and maximum of each';

-- Raise 22023 for a parameter outside its limits; used by every function
-- that takes a tunable, so the message is the same everywhere
CREATE FUNCTION vectorpg._check_limit(param text, value bigint)
	RETURNS bigint
	LANGUAGE plpgsql STABLE CALLED ON NULL INPUT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	lim record;
BEGIN
	SELECT * INTO STRICT lim FROM vectorpg.limits() l WHERE l.name = param;
	IF value IS NULL THEN
		RETURN lim.default_value;
	END IF;
	IF value < lim.min_value OR value > lim.max_value THEN
		RAISE EXCEPTION '% must be between % and %, not %', param, lim.min_value, lim.max_value, value
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN value;
END
$$;

COMMENT ON FUNCTION vectorpg._check_limit(text, bigint) IS 'internal: a tunable''s value, its default when null; 22023 outside vectorpg.limits()';

-- The distance operator of a metric, schema-qualified for dynamic SQL
CREATE FUNCTION vectorpg._metric_operator(metric text)
	RETURNS text
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
	SELECT 'OPERATOR(@extschema@.' ||
		CASE metric WHEN 'l2' THEN '<->' WHEN 'ip' THEN '<#>'
			WHEN 'cosine' THEN '<=>' WHEN 'l1' THEN '<+>' END || ')'
$$;

COMMENT ON FUNCTION vectorpg._metric_operator(text) IS 'internal: the distance operator of a metric (l2, ip, cosine, l1)';

-- The hnsw operator class of a metric
CREATE FUNCTION vectorpg._metric_opclass(metric text)
	RETURNS text
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
	SELECT 'vector_' || metric || '_ops'
$$;

COMMENT ON FUNCTION vectorpg._metric_opclass(text) IS 'internal: the hnsw operator class name of a metric';

-- Score of a distance: higher is more similar whatever the metric (cosine
-- similarity, inner product, 1 / (1 + distance) for l2 and l1).  Not
-- STRICT, although a null argument gives null all the same: the planner
-- inlines a SQL function only if it is as strict as its body, and the CASE
-- is not.  Inlined, a search's score costs an expression per hit instead of
-- a call through the SQL-function executor, which took about a quarter of a
-- 1,000-query batch search at 128 dimensions.
CREATE FUNCTION vectorpg.score(metric text, distance double precision)
	RETURNS double precision
	LANGUAGE sql IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
AS $$
	SELECT CASE metric
		WHEN 'cosine' THEN 1 - distance
		WHEN 'ip' THEN -distance
		WHEN 'l2' THEN 1 / (1 + distance)
		WHEN 'l1' THEN 1 / (1 + distance)
	END
$$;

COMMENT ON FUNCTION vectorpg.score(text, double precision) IS 'similarity score of a distance under a metric, higher is more similar';

-- Validate a metric name (22023 naming the accepted ones)
CREATE FUNCTION vectorpg._check_metric(metric text)
	RETURNS text
	LANGUAGE plpgsql IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF metric IS NULL OR metric NOT IN ('l2', 'ip', 'cosine', 'l1') THEN
		RAISE EXCEPTION 'unknown metric "%"', metric
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'The metrics are l2 (<->), ip (<#>), cosine (<=>) and l1 (<+>).';
	END IF;
	RETURN metric;
END
$$;

COMMENT ON FUNCTION vectorpg._check_metric(text) IS 'internal: 22023 unless the metric is l2, ip, cosine or l1';

-- Validate a collection name: 1 to 63 characters, as a table name can be
CREATE FUNCTION vectorpg._check_name(name text)
	RETURNS text
	LANGUAGE plpgsql IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF length(name) NOT BETWEEN 1 AND 63 THEN
		RAISE EXCEPTION 'collection name must have 1 to 63 characters, not %', length(name)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	RETURN name;
END
$$;

COMMENT ON FUNCTION vectorpg._check_name(text) IS 'internal: 22023 unless a collection name has 1 to 63 characters';

-- The catalog row of a collection; 42704 when there is none.  Every API
-- function starts here, so the error for an unknown name is the same.
-- Remote collections (vectorpg_fdw foreign tables, 10_5_remote_batch.sql)
-- are returned only when remote_ok; the local-only functions refuse them
CREATE FUNCTION vectorpg._collection(collection text, remote_ok boolean DEFAULT false)
	RETURNS vectorpg.collections
	LANGUAGE plpgsql STABLE CALLED ON NULL INPUT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c vectorpg.collections;
BEGIN
	SELECT * INTO c FROM vectorpg.collections WHERE name = collection;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'collection "%" does not exist', collection
			USING ERRCODE = 'undefined_object',
				  HINT = 'vectorpg.list_collections() lists the collections.';
	END IF;
	IF c.kind <> 'local' AND NOT coalesce(remote_ok, false) THEN
		RAISE EXCEPTION 'collection "%" is %, and this function serves local collections only', collection, c.kind
			USING ERRCODE = 'feature_not_supported';
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = c.relation) THEN
		RAISE EXCEPTION 'table of collection "%" does not exist', collection
			USING ERRCODE = 'undefined_table',
				  HINT = 'Drop the collection with vectorpg.drop_collection.';
	END IF;
	RETURN c;
END
$$;

COMMENT ON FUNCTION vectorpg._collection(text, boolean) IS 'internal: catalog row of a collection, local or (when remote_ok) remote; 42704 if unknown, 0A000 for a remote one unless remote_ok';

-- The hnsw index that serves a collection's searches: on the vector column,
-- with the metric's operator class, valid and without a predicate
CREATE FUNCTION vectorpg._vector_index(c vectorpg.collections)
	RETURNS regclass
	LANGUAGE sql STABLE CALLED ON NULL INPUT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
	SELECT i.indexrelid::regclass
	FROM pg_index i
	JOIN pg_class ic ON ic.oid = i.indexrelid
	JOIN pg_am am ON am.oid = ic.relam AND am.amname = 'hnsw'
	JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attname = c.vector_column
	JOIN pg_opclass oc ON oc.oid = i.indclass[0]
	WHERE i.indrelid = c.relation AND i.indkey[0] = a.attnum AND i.indisvalid
	  AND i.indpred IS NULL AND oc.opcname = vectorpg._metric_opclass(c.metric)
	ORDER BY ic.relname
	LIMIT 1
$$;

COMMENT ON FUNCTION vectorpg._vector_index(vectorpg.collections) IS 'internal: the hnsw index serving a collection, or null';

-- Type of a column, or null when the table has no such column
CREATE FUNCTION vectorpg._column_type(relation regclass, col name, OUT typid regtype, OUT typmod integer)
	LANGUAGE sql STABLE CALLED ON NULL INPUT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
	SELECT a.atttypid::regtype, a.atttypmod FROM pg_attribute a
	WHERE a.attrelid = relation AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped
$$;

COMMENT ON FUNCTION vectorpg._column_type(regclass, name) IS 'internal: type and typmod of a column, null if absent';

-- Check a table's columns for a collection and return its dimension; shared
-- by register_collection and collection_health so both say the same
CREATE FUNCTION vectorpg._check_columns(relation regclass, id_column name, vector_column name,
	metadata_column name, text_column name)
	RETURNS integer
	LANGUAGE plpgsql STABLE CALLED ON NULL INPUT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	id_type regtype := (vectorpg._column_type(relation, id_column)).typid;
	vec_type regtype := (vectorpg._column_type(relation, vector_column)).typid;
	vec_typmod integer := (vectorpg._column_type(relation, vector_column)).typmod;
	meta_type regtype := (vectorpg._column_type(relation, metadata_column)).typid;
	text_type regtype := (vectorpg._column_type(relation, text_column)).typid;
BEGIN
	IF id_type IS NULL THEN
		RAISE EXCEPTION 'column "%" of relation % does not exist', id_column, relation
			USING ERRCODE = 'undefined_column';
	END IF;
	IF NOT EXISTS (
		SELECT 1 FROM pg_index i JOIN pg_attribute a
			ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
		WHERE i.indrelid = relation AND i.indisunique AND i.indnkeyatts = 1
		  AND i.indpred IS NULL AND i.indexprs IS NULL AND a.attname = id_column) THEN
		RAISE EXCEPTION 'there is no unique index on column "%" of relation %', id_column, relation
			USING ERRCODE = 'invalid_column_reference',
				  HINT = 'Upserts find items by id: add a primary key or a unique index on the id column.';
	END IF;
	IF vec_type IS NULL THEN
		RAISE EXCEPTION 'column "%" of relation % does not exist', vector_column, relation
			USING ERRCODE = 'undefined_column';
	END IF;
	IF vec_type <> '@extschema@.vector'::regtype THEN
		RAISE EXCEPTION 'column "%" of relation % is of type %, not vector', vector_column, relation, vec_type
			USING ERRCODE = 'datatype_mismatch';
	END IF;
	IF vec_typmod < 1 THEN
		RAISE EXCEPTION 'column "%" of relation % has no dimension', vector_column, relation
			USING ERRCODE = 'invalid_parameter_value',
				  HINT = 'Declare the column as vector(n).';
	END IF;
	IF metadata_column IS NOT NULL AND meta_type IS NULL THEN
		RAISE EXCEPTION 'column "%" of relation % does not exist', metadata_column, relation
			USING ERRCODE = 'undefined_column';
	END IF;
	IF metadata_column IS NOT NULL AND meta_type <> 'jsonb'::regtype THEN
		RAISE EXCEPTION 'column "%" of relation % is of type %, not jsonb', metadata_column, relation, meta_type
			USING ERRCODE = 'datatype_mismatch';
	END IF;
	IF text_column IS NOT NULL AND text_type IS NULL THEN
		RAISE EXCEPTION 'column "%" of relation % does not exist', text_column, relation
			USING ERRCODE = 'undefined_column';
	END IF;
	IF text_column IS NOT NULL AND text_type NOT IN ('tsvector'::regtype, 'text'::regtype) THEN
		RAISE EXCEPTION 'column "%" of relation % is of type %, not tsvector or text', text_column, relation, text_type
			USING ERRCODE = 'datatype_mismatch';
	END IF;
	RETURN vec_typmod;
END
$$;

COMMENT ON FUNCTION vectorpg._check_columns(regclass, name, name, name, name) IS 'internal: validate a table''s columns for a collection, return the dimension';

-- Create a collection: its table, hnsw index, GIN index on the metadata and,
-- with text_config, a text column with a generated tsvector for hybrid search
CREATE FUNCTION vectorpg.create_collection(name text, dimension integer,
	metric text DEFAULT 'cosine', id_type regtype DEFAULT 'text',
	schema name DEFAULT current_schema(), text_config regconfig DEFAULT NULL,
	m integer DEFAULT NULL, ef_construction integer DEFAULT NULL,
	with_index boolean DEFAULT true, metadata_index boolean DEFAULT true)
	RETURNS regclass
	LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	nsp name := schema;
	rel regclass;
	opts text[] := '{}';
BEGIN
	IF name IS NULL OR dimension IS NULL OR metric IS NULL OR id_type IS NULL
	   OR with_index IS NULL OR metadata_index IS NULL THEN
		RAISE EXCEPTION 'name, dimension, metric, id_type, with_index and metadata_index must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM vectorpg._check_name(name);
	PERFORM vectorpg._check_metric(metric);
	IF dimension < 1 OR dimension > 16000 THEN
		RAISE EXCEPTION 'dimension must be between 1 and 16000, not %', dimension
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF nsp IS NULL THEN
		RAISE EXCEPTION 'no schema has been selected to create in'
			USING ERRCODE = 'invalid_schema_name';
	END IF;
	IF EXISTS (SELECT 1 FROM vectorpg.collections c WHERE c.name = create_collection.name) THEN
		RAISE EXCEPTION 'collection "%" already exists', name
			USING ERRCODE = 'duplicate_object';
	END IF;
	EXECUTE format('CREATE TABLE %I.%I (id %s PRIMARY KEY, embedding @extschema@.vector(%s) NOT NULL, '
				   'metadata jsonb NOT NULL DEFAULT ''{}'' CHECK (jsonb_typeof(metadata) = ''object'')%s)',
				   nsp, name, id_type, dimension,
				   CASE WHEN text_config IS NULL THEN '' ELSE
					   format(', content text, content_tsv tsvector GENERATED ALWAYS AS '
							  '(to_tsvector(%L::regconfig, coalesce(content, ''''))) STORED', text_config::text) END);
	rel := format('%I.%I', nsp, name)::regclass;
	IF with_index THEN
		IF m IS NOT NULL THEN opts := opts || format('m = %s', m); END IF;
		IF ef_construction IS NOT NULL THEN opts := opts || format('ef_construction = %s', ef_construction); END IF;
		EXECUTE format('CREATE INDEX %I ON %s USING hnsw (embedding @extschema@.%I)%s',
					   name || '_embedding_idx', rel, vectorpg._metric_opclass(metric),
					   CASE WHEN cardinality(opts) = 0 THEN '' ELSE ' WITH (' || array_to_string(opts, ', ') || ')' END);
	END IF;
	IF metadata_index THEN
		EXECUTE format('CREATE INDEX %I ON %s USING gin (metadata jsonb_path_ops)', name || '_metadata_idx', rel);
	END IF;
	IF text_config IS NOT NULL THEN
		EXECUTE format('CREATE INDEX %I ON %s USING gin (content_tsv)', name || '_content_idx', rel);
	END IF;
	INSERT INTO vectorpg.collections (name, relation, id_column, vector_column, metadata_column,
		text_column, text_config, dimension, metric, owns_table, options)
	VALUES (name, rel, 'id', 'embedding', 'metadata',
		CASE WHEN text_config IS NULL THEN NULL ELSE 'content_tsv' END,
		coalesce(text_config, 'simple'), dimension, metric, true,
		CASE WHEN text_config IS NULL THEN '{}' ELSE '{"content_column": "content"}' END::jsonb);
	RETURN rel;
END
$$;

COMMENT ON FUNCTION vectorpg.create_collection(text, integer, text, regtype, name, regconfig, integer, integer, boolean, boolean) IS 'create a collection: table, hnsw index, metadata GIN index, catalog entry';

-- Register an existing table as a collection, naming its columns; the
-- metric defaults to that of the table's hnsw index on the vector column
CREATE FUNCTION vectorpg.register_collection(name text, relation regclass,
	id_column name DEFAULT 'id', vector_column name DEFAULT 'embedding',
	metadata_column name DEFAULT 'metadata', metric text DEFAULT NULL,
	text_column name DEFAULT NULL, text_config regconfig DEFAULT 'simple')
	RETURNS void
	LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	dim integer;
	m text := metric;
	kind "char";
BEGIN
	IF name IS NULL OR relation IS NULL OR id_column IS NULL OR vector_column IS NULL THEN
		RAISE EXCEPTION 'name, relation, id_column and vector_column must not be null'
			USING ERRCODE = 'null_value_not_allowed';
	END IF;
	PERFORM vectorpg._check_name(name);
	SELECT relkind INTO kind FROM pg_class WHERE oid = relation;
	IF kind = 'f' THEN
		-- a vectorpg_fdw foreign table: a remote collection (10_5_remote_batch.sql)
		PERFORM vectorpg._register_remote_collection(name, relation, id_column, vector_column,
													 metadata_column, metric, text_column, text_config);
		RETURN;
	END IF;
	IF kind NOT IN ('r', 'p') THEN
		RAISE EXCEPTION '% is not a table', relation
			USING ERRCODE = 'wrong_object_type',
				  DETAIL = 'Local collections are tables or partitioned tables.';
	END IF;
	IF EXISTS (SELECT 1 FROM vectorpg.collections c WHERE c.name = register_collection.name) THEN
		RAISE EXCEPTION 'collection "%" already exists', name
			USING ERRCODE = 'duplicate_object';
	END IF;
	dim := vectorpg._check_columns(relation, id_column, vector_column, metadata_column, text_column);
	IF m IS NULL THEN
		-- the metric of the first hnsw index on the vector column, else cosine
		SELECT substring(oc.opcname FROM '^vector_(.*)_ops$') INTO m
		FROM pg_index i
		JOIN pg_class ic ON ic.oid = i.indexrelid
		JOIN pg_am am ON am.oid = ic.relam AND am.amname = 'hnsw'
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
		JOIN pg_opclass oc ON oc.oid = i.indclass[0]
		WHERE i.indrelid = relation AND a.attname = vector_column AND i.indisvalid
		ORDER BY ic.relname LIMIT 1;
		m := coalesce(m, 'cosine');
	END IF;
	PERFORM vectorpg._check_metric(m);
	INSERT INTO vectorpg.collections (name, relation, id_column, vector_column, metadata_column,
		text_column, text_config, dimension, metric, owns_table)
	VALUES (name, relation, id_column, vector_column, metadata_column, text_column,
		coalesce(text_config, 'simple'), dim, m, false);
END
$$;

COMMENT ON FUNCTION vectorpg.register_collection(text, regclass, name, name, name, text, name, regconfig) IS 'register an existing table as a collection, naming its columns';

-- The collections, one row each
CREATE FUNCTION vectorpg.list_collections()
	RETURNS TABLE (name text, kind text, relation regclass, dimension integer, metric text,
				   owns_table boolean, created_at timestamptz)
	LANGUAGE sql STABLE CALLED ON NULL INPUT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
	SELECT c.name, c.kind, c.relation, c.dimension, c.metric, c.owns_table, c.created_at
	FROM vectorpg.collections c ORDER BY c.name
$$;

COMMENT ON FUNCTION vectorpg.list_collections() IS 'the collections: name, kind, table, dimension, metric';

-- What a person asks about one collection: shape, size and upkeep
CREATE FUNCTION vectorpg.describe_collection(collection text)
	RETURNS TABLE (name text, kind text, relation regclass, id_column name, vector_column name,
				   metadata_column name, text_column name, dimension integer, metric text,
				   vector_count bigint, table_size bigint, vector_index regclass, index_size bigint,
				   last_vacuum timestamptz, last_autovacuum timestamptz, last_analyze timestamptz,
				   dead_rows bigint, created_at timestamptz)
	LANGUAGE plpgsql STABLE CALLED ON NULL INPUT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c vectorpg.collections := vectorpg._collection(collection, true);
	n bigint;
	idx regclass := vectorpg._vector_index(c);
BEGIN
	IF c.kind = 'remote' THEN
		-- the remote's own count (10_5_remote_batch.sql); the local-only
		-- fields (sizes, index, vacuum and analyze, dead rows) are null
		RETURN QUERY
		SELECT c.name, c.kind, c.relation, c.id_column, c.vector_column, c.metadata_column,
			   c.text_column, c.dimension, c.metric, vectorpg._remote_count(c.relation),
			   NULL::bigint, NULL::regclass, NULL::bigint, NULL::timestamptz, NULL::timestamptz,
			   NULL::timestamptz, NULL::bigint, c.created_at;
		RETURN;
	END IF;
	EXECUTE format('SELECT count(*) FROM %s', c.relation) INTO n;
	RETURN QUERY
	SELECT c.name, c.kind, c.relation, c.id_column, c.vector_column, c.metadata_column,
		   c.text_column, c.dimension, c.metric, n, pg_total_relation_size(c.relation),
		   idx, CASE WHEN idx IS NULL THEN NULL ELSE pg_relation_size(idx) END,
		   s.last_vacuum, s.last_autovacuum, greatest(s.last_analyze, s.last_autoanalyze),
		   s.n_dead_tup, c.created_at
	FROM (SELECT 1) one
	LEFT JOIN pg_stat_all_tables s ON s.relid = c.relation;
END
$$;

COMMENT ON FUNCTION vectorpg.describe_collection(text) IS 'one collection: dimension, metric, count, sizes, last vacuum and analyze (remote: the remote''s count, local-only fields null)';

-- Drop a collection; its table too when the collection made it (or when
-- drop_table is true)
CREATE FUNCTION vectorpg.drop_collection(collection text, drop_table boolean DEFAULT NULL)
	RETURNS void
	LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c vectorpg.collections;
BEGIN
	SELECT * INTO c FROM vectorpg.collections WHERE name = collection FOR UPDATE;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'collection "%" does not exist', collection
			USING ERRCODE = 'undefined_object';
	END IF;
	DELETE FROM vectorpg.collections WHERE name = collection;
	IF coalesce(drop_table, c.owns_table)
	   AND EXISTS (SELECT 1 FROM pg_class WHERE oid = c.relation) THEN
		EXECUTE format('DROP TABLE %s', c.relation);
	END IF;
END
$$;

COMMENT ON FUNCTION vectorpg.drop_collection(text, boolean) IS 'drop a collection, and its table when the collection owns it';

-- Health checks of one collection or all: one row per check, status ok,
-- warning or error, and a sentence saying what to do
CREATE FUNCTION vectorpg.collection_health(collection text DEFAULT NULL, deep boolean DEFAULT false)
	RETURNS TABLE (name text, check_name text, status text, detail text)
	LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	c vectorpg.collections;
	idx regclass;
	dim integer;
	live bigint;
	dead bigint;
	nproblems bigint;
	nunreachable bigint;
	nsearched bigint;
	nmissed bigint;
	ok boolean;
	target integer;
	vbytes integer;
BEGIN
	IF collection IS NOT NULL AND NOT EXISTS (SELECT 1 FROM vectorpg.collections x WHERE x.name = collection) THEN
		RAISE EXCEPTION 'collection "%" does not exist', collection
			USING ERRCODE = 'undefined_object';
	END IF;
	FOR c IN SELECT * FROM vectorpg.collections x
			 WHERE collection IS NULL OR x.name = collection ORDER BY x.name LOOP
		name := c.name;
		IF c.kind = 'remote' THEN
			-- the foreign table, its columns, and one round trip to the
			-- remote (its count); the index is the remote's business
			check_name := 'table';
			IF NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = c.relation) THEN
				status := 'error'; detail := 'The foreign table is gone; drop the collection.';
				RETURN NEXT;
				CONTINUE;
			END IF;
			status := 'ok'; detail := format('Foreign table %s.', c.relation);
			RETURN NEXT;
			check_name := 'columns';
			dim := (vectorpg._column_type(c.relation, c.vector_column)).typmod;
			IF (vectorpg._column_type(c.relation, c.vector_column)).typid IS DISTINCT FROM '@extschema@.vector'::regtype THEN
				status := 'error'; detail := format('Column %I is missing or not a vector column.', c.vector_column);
			ELSIF dim > 0 AND dim <> c.dimension THEN
				status := 'error';
				detail := format('The vector column has %s dimensions but the catalog says %s.', dim, c.dimension);
			ELSE
				status := 'ok'; detail := format('%s dimensions, metric %s.', c.dimension, c.metric);
			END IF;
			RETURN NEXT;
			check_name := 'remote';
			BEGIN
				live := vectorpg._remote_count(c.relation);
				status := 'ok'; detail := format('The remote answers: %s records.', coalesce(live::text, 'an unknown number of'));
			EXCEPTION WHEN OTHERS THEN
				GET STACKED DIAGNOSTICS detail = MESSAGE_TEXT;
				status := 'error';
				detail := 'Asking the remote for its count failed: ' || detail || '.';
			END;
			RETURN NEXT;
			CONTINUE;
		END IF;
		check_name := 'table';
		IF NOT EXISTS (SELECT 1 FROM pg_class WHERE oid = c.relation) THEN
			status := 'error'; detail := 'The table is gone; drop the collection.';
			RETURN NEXT;
			CONTINUE;
		END IF;
		status := 'ok'; detail := format('Table %s.', c.relation);
		RETURN NEXT;

		check_name := 'columns';
		ok := true;
		BEGIN
			dim := vectorpg._check_columns(c.relation, c.id_column, c.vector_column, c.metadata_column, c.text_column);
			IF dim <> c.dimension THEN
				status := 'error';
				detail := format('The vector column has %s dimensions but the catalog says %s.', dim, c.dimension);
				ok := false;
			END IF;
		EXCEPTION WHEN OTHERS THEN
			GET STACKED DIAGNOSTICS detail = MESSAGE_TEXT;
			status := 'error';
			detail := upper(left(detail, 1)) || substr(detail, 2) || '.';
			ok := false;
		END;
		IF ok THEN
			status := 'ok'; detail := format('%s dimensions, metric %s.', c.dimension, c.metric);
		END IF;
		RETURN NEXT;

		idx := vectorpg._vector_index(c);
		check_name := 'vector_index';
		IF idx IS NULL THEN
			status := 'warning';
			detail := format('No valid hnsw index with %s on column %I: searches read the whole table.',
							 vectorpg._metric_opclass(c.metric), c.vector_column);
		ELSE
			status := 'ok'; detail := format('Index %s.', idx);
		END IF;
		RETURN NEXT;

		IF c.metadata_column IS NOT NULL THEN
			check_name := 'filter_index';
			IF EXISTS (SELECT 1 FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
						 JOIN pg_am am ON am.oid = ic.relam AND am.amname = 'gin'
						 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
						 WHERE i.indrelid = c.relation AND a.attname = c.metadata_column) THEN
				status := 'ok'; detail := 'A GIN index serves metadata filters.';
			ELSE
				status := 'warning';
				detail := format('No GIN index on column %I: filters on metadata read every row they test.', c.metadata_column);
			END IF;
			RETURN NEXT;
		END IF;

		-- Metadata in the row: with the vector in the page (STORAGE plain or
		-- main), a row over toast_tuple_target makes the toaster move the
		-- metadata out of line however small it is, and every read of it a
		-- TOAST fetch (tables created since vectorpg_inline_storage sets the
		-- target are fine; registered ones may not be)
		IF c.metadata_column IS NOT NULL THEN
			check_name := 'row_storage';
			SELECT coalesce((SELECT substr(o, length('toast_tuple_target=') + 1)::integer
							 FROM unnest(r.reloptions) o WHERE o LIKE 'toast\_tuple\_target=%'),
							vectorpg._toast_target(0))	-- unset: PostgreSQL's 2032
			INTO target FROM pg_class r WHERE r.oid = c.relation;
			vbytes := vectorpg._vector_bytes(c.dimension);
			IF EXISTS (SELECT FROM pg_attribute v, pg_attribute m
					   WHERE v.attrelid = c.relation AND v.attname = c.vector_column AND v.attstorage IN ('p', 'm')
						 AND m.attrelid = c.relation AND m.attname = c.metadata_column AND m.attstorage IN ('x', 'e'))
			   AND vbytes + 64 > target THEN
				status := 'warning';
				detail := format('Rows with a %s-dimension vector exceed toast_tuple_target (%s bytes), so column %I goes to TOAST and every read of it is a TOAST fetch: ALTER TABLE %s SET (toast_tuple_target = %s) keeps the rows written afterwards in the page.',
								 c.dimension, target, c.metadata_column, c.relation, vectorpg._toast_target(vbytes));
			ELSE
				status := 'ok';
				detail := format('Metadata of up to about %s bytes stays in the row (toast_tuple_target %s).',
								 greatest(target - vbytes - 64, 0), target);
			END IF;
			RETURN NEXT;
		END IF;

		check_name := 'dead_rows';
		SELECT s.n_live_tup, s.n_dead_tup INTO live, dead FROM pg_stat_all_tables s WHERE s.relid = c.relation;
		IF coalesce(dead, 0) > 1000 AND dead > 0.2 * (coalesce(live, 0) + dead) THEN
			status := 'warning';
			detail := format('%s dead rows of %s: run VACUUM so the index drops them.', dead, live + dead);
		ELSE
			status := 'ok'; detail := format('%s dead rows.', coalesce(dead, 0));
		END IF;
		RETURN NEXT;

		IF deep AND idx IS NOT NULL THEN
			-- One pass of the check for both rows
			SELECT count(*) FILTER (WHERE p.problem <> 'element is not reachable from the entry point'),
				   count(*) FILTER (WHERE p.problem = 'element is not reachable from the entry point')
			INTO nproblems, nunreachable
			FROM @extschema@.hnsw_index_check(idx, false, true) p;
			check_name := 'index_structure';
			IF nproblems > 0 THEN
				status := 'error';
				detail := format('hnsw_index_check found %s problems in %s: REINDEX it.', nproblems, idx);
			ELSE
				status := 'ok'; detail := format('hnsw_index_check found no problem in %s.', idx);
			END IF;
			RETURN NEXT;
			check_name := 'index_reachability';
			IF nunreachable > 0 THEN
				status := 'warning';
				detail := format('%s elements of %s cannot be returned by any search: VACUUM links them back (once the index has grown since its last walk, or when it removes rows); REINDEX rebuilds the graph.', nunreachable, idx);
			ELSE
				status := 'ok'; detail := format('Every element of %s is reachable by a search.', idx);
			END IF;
			RETURN NEXT;
			-- Reachable is not findable: a fresh graph misses a fraction of
			-- a percent of searches for its own elements, one worn down by
			-- churn before vacuum's pass 2c 12 % (doc/hnsw.md, Vacuum)
			check_name := 'index_findability';
			-- (under ip, the search is by the distance the graph is linked
			-- by, in which a vector is its own nearest: doc/hnsw.md)
			SELECT f.searched, f.not_found INTO nsearched, nmissed
			FROM @extschema@.hnsw_index_findability(idx, 1000) f;
			IF nmissed > 0.02 * nsearched THEN
				status := 'warning';
				detail := format('A search for its own vector missed %s of %s sampled elements of %s: REINDEX (CONCURRENTLY) rebuilds the graph.', nmissed, nsearched, idx);
			ELSIF nsearched = 0 THEN
				status := 'ok'; detail := format('%s has no element to search for.', idx);
			ELSE
				status := 'ok'; detail := format('A search for its own vector missed %s of %s sampled elements of %s.', nmissed, nsearched, idx);
			END IF;
			RETURN NEXT;
		END IF;
	END LOOP;
END
$$;

COMMENT ON FUNCTION vectorpg.collection_health(text, boolean) IS 'health checks of one or every collection: table, columns, indexes, row storage, dead rows, and with deep the index structure (remote: table, columns, whether the remote answers)';

-- Forget the collections whose table is dropped, so that the catalog never
-- names a table that is gone
CREATE FUNCTION vectorpg._collections_on_drop()
	RETURNS event_trigger
	LANGUAGE plpgsql VOLATILE CALLED ON NULL INPUT PARALLEL UNSAFE SECURITY DEFINER
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	DELETE FROM vectorpg.collections
	WHERE relation::oid IN (SELECT objid FROM pg_event_trigger_dropped_objects()
							WHERE classid = 'pg_class'::regclass AND objsubid = 0);
END
$$;

COMMENT ON FUNCTION vectorpg._collections_on_drop() IS 'event trigger: remove catalog entries of dropped tables';

CREATE EVENT TRIGGER vectorpg_collections_on_drop ON sql_drop
	EXECUTE FUNCTION vectorpg._collections_on_drop();

COMMENT ON EVENT TRIGGER vectorpg_collections_on_drop IS 'keeps vectorpg.collections free of dropped tables';
