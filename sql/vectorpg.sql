-- vectorpg install script.
--
-- This file is the single source of the fresh-install script: the build
-- copies it to sql/vectorpg--<version>.sql.  Every object is created with
-- plain CREATE, carries explicit volatility, strictness and parallel labels,
-- and has a COMMENT.  The SQL surface of the vector type follows pgvector's
-- so that applications written for pgvector run unchanged.

\echo Use "CREATE EXTENSION vectorpg" to load this file. \quit

-- The type, its operators and the index live in the schema chosen at CREATE
-- EXTENSION (@extschema@, usually public), where pgvector's applications
-- expect them.  The collection catalog, the batch API and the remote API
-- live in schema vectorpg, which the extension owns; the later parts of this
-- script (sql/install/*.sql) create their objects there.
CREATE SCHEMA vectorpg;

COMMENT ON SCHEMA vectorpg IS 'vectorpg collections, batch API and remote (Pinecone, Milvus) API';

-- ---------------------------------------------------------------------------
-- The vector type
-- ---------------------------------------------------------------------------

CREATE TYPE vector;

CREATE FUNCTION vector_in(cstring, oid, integer) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_out(vector) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_typmod_in(cstring[]) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_typmod_out(integer) RETURNS cstring
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_recv(internal, oid, integer) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_send(vector) RETURNS bytea
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- STORAGE = main: a vector stays in the heap page, uncompressed whenever
-- compression does not pay (as for typical float embeddings), and moves to
-- the TOAST table only when the row cannot fit in a page at all.  pgvector
-- uses external, which moves every vector above ~2 kB (about 500 dims) out
-- of line; doc/reference.md explains the choice and benchmarks.md measures it.
CREATE TYPE vector (
	INPUT     = vector_in,
	OUTPUT    = vector_out,
	TYPMOD_IN = vector_typmod_in,
	TYPMOD_OUT = vector_typmod_out,
	RECEIVE   = vector_recv,
	SEND      = vector_send,
	STORAGE   = main
);

COMMENT ON TYPE vector IS 'vector of 1 to 16000 float4 dimensions, pgvector-compatible';
COMMENT ON FUNCTION vector_in(cstring, oid, integer) IS 'parse the text form [x,y,...]';
COMMENT ON FUNCTION vector_out(vector) IS 'print the text form, shortest round-trip digits';
COMMENT ON FUNCTION vector_typmod_in(cstring[]) IS 'parse the n of vector(n)';
COMMENT ON FUNCTION vector_typmod_out(integer) IS 'print the n of vector(n)';
COMMENT ON FUNCTION vector_recv(internal, oid, integer) IS 'read the binary form (int16 dim, int16 0, float4s)';
COMMENT ON FUNCTION vector_send(vector) IS 'write the binary form (int16 dim, int16 0, float4s)';

-- ---------------------------------------------------------------------------
-- Functions
-- ---------------------------------------------------------------------------

CREATE FUNCTION l2_distance(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION inner_product(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION cosine_distance(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION l1_distance(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_l2_squared_distance(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_negative_inner_product(vector, vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_dims(vector) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_norm(vector) RETURNS float8
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION l2_normalize(vector) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION binary_quantize(vector) RETURNS bit
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION subvector(vector, integer, integer) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_add(vector, vector) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_sub(vector, vector) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_mul(vector, vector) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_concat(vector, vector) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- Stable: the answer depends on the CPU and on the vectorpg.kernel setting
CREATE FUNCTION vectorpg_kernel() RETURNS text
	AS 'MODULE_PATHNAME' LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION l2_distance(vector, vector) IS 'Euclidean distance';
COMMENT ON FUNCTION inner_product(vector, vector) IS 'inner (dot) product';
COMMENT ON FUNCTION cosine_distance(vector, vector) IS 'cosine distance, 1 - cosine similarity; NaN when either vector is zero';
COMMENT ON FUNCTION l1_distance(vector, vector) IS 'Manhattan (taxicab) distance';
COMMENT ON FUNCTION vector_l2_squared_distance(vector, vector) IS 'squared Euclidean distance';
COMMENT ON FUNCTION vector_negative_inner_product(vector, vector) IS 'negative inner product, smaller is more similar';
COMMENT ON FUNCTION vector_dims(vector) IS 'number of dimensions';
COMMENT ON FUNCTION vector_norm(vector) IS 'Euclidean norm';
COMMENT ON FUNCTION l2_normalize(vector) IS 'vector scaled to unit length; a zero vector stays zero';
COMMENT ON FUNCTION binary_quantize(vector) IS 'one bit per dimension, set where the element is positive';
COMMENT ON FUNCTION subvector(vector, integer, integer) IS 'elements from a 1-based start, count of them';
COMMENT ON FUNCTION vector_add(vector, vector) IS 'elementwise sum';
COMMENT ON FUNCTION vector_sub(vector, vector) IS 'elementwise difference';
COMMENT ON FUNCTION vector_mul(vector, vector) IS 'elementwise product';
COMMENT ON FUNCTION vector_concat(vector, vector) IS 'concatenation';
COMMENT ON FUNCTION vectorpg_kernel() IS 'distance kernels in use: scalar, avx2 or avx512';

-- ---------------------------------------------------------------------------
-- Operators
-- ---------------------------------------------------------------------------

CREATE OPERATOR <-> (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = l2_distance,
	COMMUTATOR = '<->'
);

CREATE OPERATOR <#> (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_negative_inner_product,
	COMMUTATOR = '<#>'
);

CREATE OPERATOR <=> (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = cosine_distance,
	COMMUTATOR = '<=>'
);

CREATE OPERATOR <+> (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = l1_distance,
	COMMUTATOR = '<+>'
);

CREATE OPERATOR + (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_add,
	COMMUTATOR = +
);

CREATE OPERATOR - (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_sub
);

CREATE OPERATOR * (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_mul,
	COMMUTATOR = *
);

CREATE OPERATOR || (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_concat
);

COMMENT ON OPERATOR <->(vector, vector) IS 'Euclidean distance';
COMMENT ON OPERATOR <#>(vector, vector) IS 'negative inner product';
COMMENT ON OPERATOR <=>(vector, vector) IS 'cosine distance';
COMMENT ON OPERATOR <+>(vector, vector) IS 'Manhattan distance';
COMMENT ON OPERATOR +(vector, vector) IS 'elementwise sum';
COMMENT ON OPERATOR -(vector, vector) IS 'elementwise difference';
COMMENT ON OPERATOR *(vector, vector) IS 'elementwise product';
COMMENT ON OPERATOR ||(vector, vector) IS 'concatenation';

-- ---------------------------------------------------------------------------
-- Comparison and the btree operator class
-- ---------------------------------------------------------------------------

CREATE FUNCTION vector_lt(vector, vector) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_le(vector, vector) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_eq(vector, vector) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_ne(vector, vector) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_ge(vector, vector) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_gt(vector, vector) RETURNS bool
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_cmp(vector, vector) RETURNS integer
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION vector_lt(vector, vector) IS 'implementation of < operator';
COMMENT ON FUNCTION vector_le(vector, vector) IS 'implementation of <= operator';
COMMENT ON FUNCTION vector_eq(vector, vector) IS 'implementation of = operator';
COMMENT ON FUNCTION vector_ne(vector, vector) IS 'implementation of <> operator';
COMMENT ON FUNCTION vector_ge(vector, vector) IS 'implementation of >= operator';
COMMENT ON FUNCTION vector_gt(vector, vector) IS 'implementation of > operator';
COMMENT ON FUNCTION vector_cmp(vector, vector) IS 'btree comparison: elementwise, then by dimensions';

CREATE OPERATOR < (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_lt,
	COMMUTATOR = > , NEGATOR = >= ,
	RESTRICT = scalarltsel, JOIN = scalarltjoinsel
);

CREATE OPERATOR <= (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_le,
	COMMUTATOR = >= , NEGATOR = > ,
	RESTRICT = scalarlesel, JOIN = scalarlejoinsel
);

CREATE OPERATOR = (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_eq,
	COMMUTATOR = = , NEGATOR = <> ,
	RESTRICT = eqsel, JOIN = eqjoinsel
);

CREATE OPERATOR <> (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_ne,
	COMMUTATOR = <> , NEGATOR = = ,
	RESTRICT = neqsel, JOIN = neqjoinsel
);

CREATE OPERATOR >= (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_ge,
	COMMUTATOR = <= , NEGATOR = < ,
	RESTRICT = scalargesel, JOIN = scalargejoinsel
);

CREATE OPERATOR > (
	LEFTARG = vector, RIGHTARG = vector, PROCEDURE = vector_gt,
	COMMUTATOR = < , NEGATOR = <= ,
	RESTRICT = scalargtsel, JOIN = scalargtjoinsel
);

COMMENT ON OPERATOR <(vector, vector) IS 'less than';
COMMENT ON OPERATOR <=(vector, vector) IS 'less than or equal';
COMMENT ON OPERATOR =(vector, vector) IS 'equal';
COMMENT ON OPERATOR <>(vector, vector) IS 'not equal';
COMMENT ON OPERATOR >=(vector, vector) IS 'greater than or equal';
COMMENT ON OPERATOR >(vector, vector) IS 'greater than';

CREATE OPERATOR CLASS vector_ops
	DEFAULT FOR TYPE vector USING btree AS
	OPERATOR 1 < ,
	OPERATOR 2 <= ,
	OPERATOR 3 = ,
	OPERATOR 4 >= ,
	OPERATOR 5 > ,
	FUNCTION 1 vector_cmp(vector, vector);

COMMENT ON OPERATOR CLASS vector_ops USING btree IS 'btree ordering of vectors';

-- ---------------------------------------------------------------------------
-- Aggregates
-- ---------------------------------------------------------------------------

CREATE FUNCTION vector_accum(double precision[], vector) RETURNS double precision[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_combine(double precision[], double precision[]) RETURNS double precision[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_avg(double precision[]) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION vector_accum(double precision[], vector) IS 'transition function of avg(vector)';
COMMENT ON FUNCTION vector_combine(double precision[], double precision[]) IS 'combine function of avg(vector)';
COMMENT ON FUNCTION vector_avg(double precision[]) IS 'final function of avg(vector)';

CREATE AGGREGATE avg(vector) (
	SFUNC = vector_accum,
	STYPE = double precision[],
	FINALFUNC = vector_avg,
	COMBINEFUNC = vector_combine,
	INITCOND = '{0}',
	PARALLEL = SAFE
);

CREATE AGGREGATE sum(vector) (
	SFUNC = vector_add,
	STYPE = vector,
	COMBINEFUNC = vector_add,
	PARALLEL = SAFE
);

COMMENT ON AGGREGATE avg(vector) IS 'elementwise mean';
COMMENT ON AGGREGATE sum(vector) IS 'elementwise sum';

-- ---------------------------------------------------------------------------
-- Casts
-- ---------------------------------------------------------------------------

CREATE FUNCTION vector(vector, integer, boolean) RETURNS vector
	AS 'MODULE_PATHNAME', 'vector_coerce' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION array_to_vector(integer[], integer, boolean) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION array_to_vector(real[], integer, boolean) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION array_to_vector(double precision[], integer, boolean) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION array_to_vector(numeric[], integer, boolean) RETURNS vector
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

CREATE FUNCTION vector_to_float4(vector, integer, boolean) RETURNS real[]
	AS 'MODULE_PATHNAME' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION vector(vector, integer, boolean) IS 'apply a vector(n) type modifier';
COMMENT ON FUNCTION array_to_vector(integer[], integer, boolean) IS 'cast integer[] to vector';
COMMENT ON FUNCTION array_to_vector(real[], integer, boolean) IS 'cast real[] to vector';
COMMENT ON FUNCTION array_to_vector(double precision[], integer, boolean) IS 'cast double precision[] to vector';
COMMENT ON FUNCTION array_to_vector(numeric[], integer, boolean) IS 'cast numeric[] to vector';
COMMENT ON FUNCTION vector_to_float4(vector, integer, boolean) IS 'cast vector to real[]';

-- The same implicit/assignment choices as pgvector
CREATE CAST (vector AS vector)
	WITH FUNCTION vector(vector, integer, boolean) AS IMPLICIT;

CREATE CAST (vector AS real[])
	WITH FUNCTION vector_to_float4(vector, integer, boolean) AS IMPLICIT;

CREATE CAST (integer[] AS vector)
	WITH FUNCTION array_to_vector(integer[], integer, boolean) AS ASSIGNMENT;

CREATE CAST (real[] AS vector)
	WITH FUNCTION array_to_vector(real[], integer, boolean) AS ASSIGNMENT;

CREATE CAST (double precision[] AS vector)
	WITH FUNCTION array_to_vector(double precision[], integer, boolean) AS ASSIGNMENT;

CREATE CAST (numeric[] AS vector)
	WITH FUNCTION array_to_vector(numeric[], integer, boolean) AS ASSIGNMENT;

COMMENT ON CAST (vector AS vector) IS 'apply a vector(n) type modifier';
COMMENT ON CAST (vector AS real[]) IS 'vector to real[]';
COMMENT ON CAST (integer[] AS vector) IS 'integer[] to vector';
COMMENT ON CAST (real[] AS vector) IS 'real[] to vector';
COMMENT ON CAST (double precision[] AS vector) IS 'double precision[] to vector';
COMMENT ON CAST (numeric[] AS vector) IS 'numeric[] to vector';

-- ---------------------------------------------------------------------------
-- Inline storage for new tables
--
-- A vector stored compressed or out of line costs a decompression or a
-- TOAST fetch on every read, which dominates an exact scan.  STORAGE main
-- (the type's default) avoids out-of-line storage up to ~2,000 dims but
-- still compresses data that compresses (integer-valued features such as
-- pixels).  So new tables get STORAGE plain on their vector(n) columns when
-- the columns' declared sizes together leave room in the heap page: never
-- compressed, never moved.  Larger or unconstrained columns keep main.
--
-- The rest of the row then keeps PostgreSQL's usual budget: the toaster
-- moves extended columns out of line for as long as a row exceeds
-- toast_tuple_target (2032 bytes by default), so beside a 784-dimension
-- plain vector (3 kB) it moved even a 30-byte jsonb, and every read of that
-- metadata became a TOAST fetch.  So such a table's toast_tuple_target
-- grows by its plain vectors' size, unless the CREATE TABLE set one; a
-- partition of a partitioned table, whose vectors are plain already, gets
-- the same.  SET vectorpg.inline_storage = off before CREATE TABLE to opt
-- out of both.
-- ---------------------------------------------------------------------------

-- The bytes a vector(dims) takes in a row: an 8-byte header, 4 a dimension
CREATE FUNCTION vectorpg._vector_bytes(dims integer) RETURNS integer
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT 8 + 4 * dims $$;

COMMENT ON FUNCTION vectorpg._vector_bytes(integer) IS 'internal: the bytes a vector of that many dimensions takes in a row';

-- The toast_tuple_target that leaves the other columns of a row PostgreSQL's
-- default budget (2032 bytes) beside vectors of vector_bytes stored in the
-- row, at most the largest target there is; the event trigger below sets it
-- and collection_health checks for it
CREATE FUNCTION vectorpg._toast_target(vector_bytes bigint) RETURNS integer
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT least(8160, vector_bytes + 2032)::integer $$;

COMMENT ON FUNCTION vectorpg._toast_target(bigint) IS 'internal: the toast_tuple_target that keeps small columns beside inline vectors in the row';

-- Volatile: the answer depends on the CPU
CREATE FUNCTION vectorpg._traversal_distances(a vector, b vector,
	OUT kernel text, OUT fn text, OUT value real) RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'vectorpg_traversal_distances' LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vectorpg._traversal_distances(vector, vector) IS 'internal: what each traversal kernel of the index gives for a and b, for tests';

CREATE FUNCTION vectorpg_inline_storage() RETURNS event_trigger
LANGUAGE plpgsql
-- Runs inside other people's DDL (and pg_restore, with an empty
-- search_path): name nothing that a search_path could change
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	cmd record;
	col record;
	vtype oid;
	total bigint;
	inline bigint;
BEGIN
	IF coalesce(current_setting('vectorpg.inline_storage', true), 'on') NOT IN ('on', 'true', '1', 'yes') THEN
		RETURN;
	END IF;
	-- The vector type, wherever the extension lives
	SELECT t.oid INTO vtype
	FROM pg_type t JOIN pg_extension e ON t.typnamespace = e.extnamespace
	WHERE e.extname = 'vectorpg' AND t.typname = 'vector';
	FOR cmd IN SELECT DISTINCT objid FROM pg_event_trigger_ddl_commands()
		WHERE object_type = 'table' AND command_tag IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO')
	LOOP
		-- 8-byte header plus 4 bytes a dimension, per constrained vector column
		SELECT coalesce(sum(vectorpg._vector_bytes(a.atttypmod)), 0) INTO total
		FROM pg_attribute a
		WHERE a.attrelid = cmd.objid AND a.attnum > 0 AND NOT a.attisdropped
		  AND a.atttypid = vtype AND a.atttypmod > 0 AND a.attstorage = 'm';
		IF total > 0 AND total <= 7200 THEN
			FOR col IN SELECT a.attname FROM pg_attribute a
				WHERE a.attrelid = cmd.objid AND a.attnum > 0 AND NOT a.attisdropped
				  AND a.atttypid = vtype AND a.atttypmod > 0 AND a.attstorage = 'm'
			LOOP
				EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET STORAGE PLAIN',
							   cmd.objid::regclass, col.attname);
			END LOOP;
		END IF;
		-- the toaster's target: the plain vectors' size on top of the
		-- default, for tables that store rows (not a partitioned parent)
		SELECT coalesce(sum(vectorpg._vector_bytes(a.atttypmod)), 0) INTO inline
		FROM pg_attribute a
		WHERE a.attrelid = cmd.objid AND a.attnum > 0 AND NOT a.attisdropped
		  AND a.atttypid = vtype AND a.atttypmod > 0 AND a.attstorage = 'p';
		IF inline > 0
		   AND EXISTS (SELECT FROM pg_class c WHERE c.oid = cmd.objid AND c.relkind IN ('r', 'm'))
		   AND NOT EXISTS (SELECT FROM pg_class c, unnest(c.reloptions) o
						   WHERE c.oid = cmd.objid AND o LIKE 'toast\_tuple\_target=%') THEN
			EXECUTE format('ALTER TABLE %s SET (toast_tuple_target = %s)',
						   cmd.objid::regclass, vectorpg._toast_target(inline));
		END IF;
	END LOOP;
END
$$;

COMMENT ON FUNCTION vectorpg_inline_storage() IS 'event trigger: STORAGE plain for vector(n) columns of new tables that fit in a heap page, and a toast_tuple_target that leaves the rest of the row its usual budget';

CREATE EVENT TRIGGER vectorpg_inline_storage ON ddl_command_end
	WHEN TAG IN ('CREATE TABLE', 'CREATE TABLE AS', 'SELECT INTO')
	EXECUTE FUNCTION vectorpg_inline_storage();

COMMENT ON EVENT TRIGGER vectorpg_inline_storage IS 'keeps vectors of new tables uncompressed in the heap page; opt out with vectorpg.inline_storage = off';

-- ---------------------------------------------------------------------------
-- The hnsw index access method
-- ---------------------------------------------------------------------------

CREATE FUNCTION hnswhandler(internal) RETURNS index_am_handler
	AS 'MODULE_PATHNAME' LANGUAGE C;

CREATE ACCESS METHOD hnsw TYPE INDEX HANDLER hnswhandler;

COMMENT ON FUNCTION hnswhandler(internal) IS 'handler of the hnsw index access method';
COMMENT ON ACCESS METHOD hnsw IS 'hierarchical navigable small world graph for nearest-neighbour search';

-- Support function 1 is the ordering operator's own function, so the index
-- orders by exactly the operator's values; 2 (cosine) skips zero vectors.
CREATE OPERATOR CLASS vector_l2_ops
	DEFAULT FOR TYPE vector USING hnsw AS
	OPERATOR 1 <-> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 l2_distance(vector, vector);

CREATE OPERATOR CLASS vector_ip_ops
	FOR TYPE vector USING hnsw AS
	OPERATOR 1 <#> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 vector_negative_inner_product(vector, vector);

CREATE OPERATOR CLASS vector_cosine_ops
	FOR TYPE vector USING hnsw AS
	OPERATOR 1 <=> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 cosine_distance(vector, vector),
	FUNCTION 2 vector_norm(vector);

CREATE OPERATOR CLASS vector_l1_ops
	FOR TYPE vector USING hnsw AS
	OPERATOR 1 <+> (vector, vector) FOR ORDER BY float_ops,
	FUNCTION 1 l1_distance(vector, vector);

COMMENT ON OPERATOR CLASS vector_l2_ops USING hnsw IS 'hnsw search by Euclidean distance (<->)';
COMMENT ON OPERATOR CLASS vector_ip_ops USING hnsw IS 'hnsw search by negative inner product (<#>)';
COMMENT ON OPERATOR CLASS vector_cosine_ops USING hnsw IS 'hnsw search by cosine distance (<=>); zero vectors are not indexed';
COMMENT ON OPERATOR CLASS vector_l1_ops USING hnsw IS 'hnsw search by Manhattan distance (<+>)';

-- Volatile: it reads the index and the table as they are now
CREATE FUNCTION hnsw_index_check(index regclass, heapallindexed boolean DEFAULT false,
	reachable boolean DEFAULT false,
	OUT blkno bigint, OUT offno integer, OUT problem text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION hnsw_index_check(regclass, boolean, boolean) IS 'structural violations of an hnsw index (and, with reachable, live elements no search can reach); no rows when it is sound';

-- Volatile: it reads the index as it is now.  The sample's bounds are
-- HNSW_MIN/DEFAULT/MAX_FINDABILITY_SAMPLE in src/hnsw.h
CREATE FUNCTION hnsw_index_findability(index regclass, sample integer DEFAULT 1000,
	OUT live bigint, OUT searched bigint, OUT not_found bigint)
	RETURNS record
	AS 'MODULE_PATHNAME' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION hnsw_index_findability(regclass, integer) IS 'of a sample of an hnsw index''s live elements, how many a search for their own vector does not find';
