-- hnsw keeps each vector in the narrowest exact format (uint8, int8, float2,
-- bfloat16, else float4).  Distances must be identical to the operators'
-- values on the original vectors, for every format and every opclass, both
-- after a build and after inserts into a built index.
SET client_min_messages = warning;
SELECT setseed(0.42);

CREATE TABLE storage_kinds (id int PRIMARY KEY, kind text, embedding vector(20));
-- uint8: small non-negative integers (pixels, SIFT)
INSERT INTO storage_kinds SELECT i, 'uint8',
	(SELECT array_agg(floor(random() * 256))::vector FROM generate_series(1, 20) WHERE i > 0)
FROM generate_series(1, 300) i;
-- int8: small signed integers
INSERT INTO storage_kinds SELECT i, 'int8',
	(SELECT array_agg(floor(random() * 256) - 128)::vector FROM generate_series(1, 20) WHERE i > 0)
FROM generate_series(301, 600) i;
-- float2: halves (multiples of 1/64 below 32, and a subnormal-range value)
INSERT INTO storage_kinds SELECT i, 'float2',
	(SELECT array_agg(CASE WHEN j = 1 THEN 2.0 ^ -20 ELSE floor(random() * 4096 - 2048) / 64 END)::vector
	 FROM generate_series(1, 20) j WHERE i > 0)
FROM generate_series(601, 900) i;
-- bfloat16: values with at most 8 significant bits, one of them below
-- half's range
INSERT INTO storage_kinds SELECT i, 'bfloat16',
	(SELECT array_agg(CASE WHEN j = 1 THEN 2.0 ^ -30 ELSE floor(random() * 256) / 4 - 32 END)::vector
	 FROM generate_series(1, 20) j WHERE i > 0)
FROM generate_series(901, 1200) i;
-- float4: arbitrary values, and -0 (which a byte cannot keep)
INSERT INTO storage_kinds SELECT i, 'float4',
	(SELECT array_agg(random() * 2 - 1)::vector FROM generate_series(1, 20) WHERE i > 0)
FROM generate_series(1201, 1500) i;
INSERT INTO storage_kinds VALUES (1501, 'float4', ('[-0' || repeat(',1', 19) || ']')::vector);

CREATE TABLE storage_queries AS
SELECT q, (SELECT embedding FROM storage_kinds WHERE id = q * 97 % 1500 + 1) AS embedding
FROM generate_series(1, 12) q;

-- Every opclass: the index returns its 15 nearest in the order of their
-- true distances (the executor computes d from the heap tuple, so a wrong
-- distance inside the index shows up as a misordering), and finds most of
-- the exact 15 (inner product, not a metric, finds fewest)
CREATE FUNCTION storage_check(op text, OUT misordered bigint, OUT recall_over_80 boolean)
LANGUAGE plpgsql AS $$
DECLARE
	qv vector;
	by_index float8[];
	exact float8[];
	found bigint := 0;
	sql text := format('SELECT array_agg(d) FROM (SELECT embedding %s $1 AS d FROM storage_kinds
		ORDER BY embedding %s $1 LIMIT 15) s', op, op);
BEGIN
	misordered := 0;
	FOR i IN 1..12 LOOP
		SELECT embedding INTO qv FROM storage_queries WHERE q = i;
		SET LOCAL enable_seqscan = off;
		EXECUTE sql INTO by_index USING qv;
		SET LOCAL enable_seqscan = on;
		SET LOCAL enable_indexscan = off;
		EXECUTE sql INTO exact USING qv;
		SET LOCAL enable_indexscan = on;
		IF by_index IS DISTINCT FROM (SELECT array_agg(x ORDER BY x) FROM unnest(by_index) x) THEN
			misordered := misordered + 1;
		END IF;
		found := found + (SELECT count(*) FROM unnest(by_index) x WHERE x <= exact[15]);
	END LOOP;
	recall_over_80 := found >= 0.8 * 12 * 15;
END $$;

SET hnsw.ef_search = 400;
CREATE INDEX storage_l2 ON storage_kinds USING hnsw (embedding vector_l2_ops);
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT embedding <-> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]' FROM storage_kinds
ORDER BY embedding <-> '[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]' LIMIT 15;
RESET enable_seqscan;
SELECT * FROM storage_check('<->');
DROP INDEX storage_l2;
CREATE INDEX storage_ip ON storage_kinds USING hnsw (embedding vector_ip_ops);
SELECT * FROM storage_check('<#>');
DROP INDEX storage_ip;
CREATE INDEX storage_cos ON storage_kinds USING hnsw (embedding vector_cosine_ops);
SELECT * FROM storage_check('<=>');
DROP INDEX storage_cos;
CREATE INDEX storage_l1 ON storage_kinds USING hnsw (embedding vector_l1_ops);
SELECT * FROM storage_check('<+>');

-- Inserts into the built index take the on-disk path
CREATE TABLE storage_copy AS SELECT * FROM storage_kinds;
TRUNCATE storage_kinds;
INSERT INTO storage_kinds SELECT * FROM storage_copy WHERE id % 2 = 0;
INSERT INTO storage_kinds SELECT * FROM storage_copy WHERE id % 2 = 1;
SELECT * FROM storage_check('<+>') AS after_inserts;
DROP INDEX storage_l1;
CREATE INDEX storage_l2 ON storage_kinds USING hnsw (embedding vector_l2_ops);
INSERT INTO storage_kinds SELECT id + 10000, kind, embedding FROM storage_copy;
SELECT * FROM storage_check('<->') AS with_duplicates;
SELECT count(*) AS problems FROM hnsw_index_check('storage_l2', true);
-- The scalar widening kernels give the same (the SIMD ones run by default)
SET vectorpg.kernel = 'scalar';
SELECT * FROM storage_check('<->') AS scalar_kernels;
RESET vectorpg.kernel;
-- The AVX2 kernels too, where the CPU has them (silent either way)
DO $$
BEGIN
	BEGIN
		SET LOCAL vectorpg.kernel = 'avx2';
	EXCEPTION WHEN OTHERS THEN
		RETURN;
	END;
	IF EXISTS (SELECT FROM storage_check('<->') WHERE misordered > 0 OR NOT recall_over_80) THEN
		RAISE EXCEPTION 'the avx2 kernels disagree';
	END IF;
END $$;
DROP INDEX storage_l2;
-- Cosine and the links of inner product traverse with one float4 kernel
-- of three sums (cosine_parts_f32): built and searched with the scalar
-- kernels, and with AVX2 where the CPU has it (a CPU without passes
-- silently), the answers are as good
CREATE FUNCTION storage_check_kernel(kernel text, opclass text, op text,
	OUT misordered bigint, OUT recall_over_80 boolean)
LANGUAGE plpgsql AS $$
BEGIN
	BEGIN
		PERFORM set_config('vectorpg.kernel', kernel, true);
	EXCEPTION WHEN OTHERS THEN
		misordered := 0;
		recall_over_80 := true;
		RETURN;
	END;
	EXECUTE format('CREATE INDEX storage_kernel_idx ON storage_kinds USING hnsw (embedding %s)', opclass);
	SELECT c.misordered, c.recall_over_80 INTO misordered, recall_over_80 FROM storage_check(op) c;
	DROP INDEX storage_kernel_idx;
	PERFORM set_config('vectorpg.kernel', 'auto', true);
END $$;
SELECT k.kernel, o.opclass, c.*
FROM (VALUES ('scalar'), ('avx2')) k(kernel),
	 (VALUES ('vector_cosine_ops', '<=>'), ('vector_ip_ops', '<#>')) o(opclass, op),
	 LATERAL storage_check_kernel(k.kernel, o.opclass, o.op) c
WHERE c.misordered > 0 OR NOT c.recall_over_80;

-- A compact index is smaller: the same rows as uint8, as float2 (x + 0.5)
-- and as float4 (x + 0.001); 200 dimensions, so the vector dominates
CREATE TABLE storage_u8 AS SELECT i AS id, (SELECT array_agg(floor(random() * 256))::vector(200)
	FROM generate_series(1, 200) WHERE i > 0) AS embedding FROM generate_series(1, 1500) i;
CREATE TABLE storage_f2 AS SELECT id, (SELECT array_agg(x + 0.5)::vector(200) FROM unnest(embedding::real[]) x) AS embedding FROM storage_u8;
CREATE TABLE storage_f4 AS SELECT id, (SELECT array_agg(x + 0.001)::vector(200) FROM unnest(embedding::real[]) x) AS embedding FROM storage_u8;
CREATE INDEX storage_u8_idx ON storage_u8 USING hnsw (embedding vector_l2_ops);
CREATE INDEX storage_f2_idx ON storage_f2 USING hnsw (embedding vector_l2_ops);
CREATE INDEX storage_f4_idx ON storage_f4 USING hnsw (embedding vector_l2_ops);
SELECT pg_relation_size('storage_f4_idx') > 2 * pg_relation_size('storage_u8_idx') AS uint8_much_smaller,
       pg_relation_size('storage_f4_idx') > 1.3 * pg_relation_size('storage_f2_idx') AS float2_smaller;

-- The byte kernels that read uint8 vectors directly, past their 32-wide
-- main loop (200 dimensions): index answers come in true-distance order,
-- each query finds itself first
SET enable_seqscan = off;
SELECT count(*) FILTER (WHERE ds IS DISTINCT FROM (SELECT array_agg(x ORDER BY x) FROM unnest(ds) x)) AS l2_misordered,
       count(*) FILTER (WHERE ds[1] <> 0) AS l2_not_self_first
FROM (SELECT (SELECT array_agg(d) FROM (SELECT embedding <-> q.embedding AS d FROM storage_u8
              ORDER BY embedding <-> q.embedding LIMIT 10) s) AS ds
      FROM storage_u8 q WHERE q.id <= 30) t;
CREATE INDEX storage_u8_ip ON storage_u8 USING hnsw (embedding vector_ip_ops);
DROP INDEX storage_u8_idx;
SELECT count(*) FILTER (WHERE ds IS DISTINCT FROM (SELECT array_agg(x ORDER BY x) FROM unnest(ds) x)) AS ip_misordered
FROM (SELECT (SELECT array_agg(d) FROM (SELECT embedding <#> q.embedding AS d FROM storage_u8
              ORDER BY embedding <#> q.embedding LIMIT 10) s) AS ds
      FROM storage_u8 q WHERE q.id <= 30) t;
RESET enable_seqscan;

-- A query or an inserted vector of byte values meets byte elements in
-- integer kernels (l2_squared_u8, l2_squared_i8 and friends), and any
-- other query meets narrow elements in the stored kernels (..._f32).  Every
-- kernel set, every metric, every narrow format (the component expression
-- gives uint8, int8, half or bfloat16 values), and 77 dimensions so that
-- each main loop leaves a tail: inserted
-- into an empty index (the insert's own searches take the byte kernels),
-- then searched with byte queries, the answers come in true-distance order
-- and each vector finds itself first.  The same query with one value
-- nudged off the bytes takes the float kernels, in order too.
CREATE TABLE storage_b77 (id int PRIMARY KEY, embedding vector(77));
CREATE FUNCTION storage_bytes_check(kernel text, opclass text, op text, component text,
	OUT misordered bigint, OUT not_self_first bigint, OUT nudged_misordered bigint)
LANGUAGE plpgsql AS $$
DECLARE
	sql text := format('SELECT array_agg(d) FROM (SELECT embedding %s $1 AS d FROM storage_b77
		ORDER BY embedding %s $1 LIMIT 10) s', op, op);
	ds float8[];
	q vector;
	qf vector;
BEGIN
	misordered := 0;
	not_self_first := 0;
	nudged_misordered := 0;
	BEGIN
		PERFORM set_config('vectorpg.kernel', kernel, true);
	EXCEPTION WHEN OTHERS THEN
		RETURN;
	END;
	TRUNCATE storage_b77;
	EXECUTE format('CREATE INDEX storage_b77_idx ON storage_b77 USING hnsw (embedding %s)', opclass);
	EXECUTE format('INSERT INTO storage_b77 SELECT i, (SELECT array_agg(%s)::vector
		FROM generate_series(1, 77) WHERE i > 0) FROM generate_series(1, 400) i', component);
	PERFORM set_config('enable_seqscan', 'off', true);
	FOR i IN 1..25 LOOP
		SELECT embedding INTO q FROM storage_b77 WHERE id = i * 13;
		EXECUTE sql INTO ds USING q;
		IF ds IS DISTINCT FROM (SELECT array_agg(x ORDER BY x) FROM unnest(ds) x) THEN
			misordered := misordered + 1;
		END IF;
		IF op <> '<#>' AND ds[1] > 1e-6 THEN
			not_self_first := not_self_first + 1;
		END IF;
		-- the same query nudged off the bytes by a quarter in one place
		qf := (SELECT array_agg(CASE WHEN n = 1 THEN x + 0.25 ELSE x END ORDER BY n)::vector
			   FROM unnest(q::real[]) WITH ORDINALITY u(x, n));
		EXECUTE sql INTO ds USING qf;
		IF ds IS DISTINCT FROM (SELECT array_agg(x ORDER BY x) FROM unnest(ds) x) THEN
			nudged_misordered := nudged_misordered + 1;
		END IF;
	END LOOP;
	PERFORM set_config('enable_seqscan', 'on', true);
	DROP INDEX storage_b77_idx;
	PERFORM set_config('vectorpg.kernel', 'auto', true);
END $$;
SET hnsw.ef_search = 100;
SELECT k.kernel, o.opclass, b.component, c.*
FROM (VALUES ('scalar'), ('avx2'), ('avx512')) k(kernel),
	 (VALUES ('vector_l2_ops', '<->'), ('vector_ip_ops', '<#>'), ('vector_cosine_ops', '<=>'),
			 ('vector_l1_ops', '<+>')) o(opclass, op),
	 (VALUES ('floor(random() * 256)'), ('floor(random() * 256) - 128'),
			 ('(floor(random() * 2049) - 1024) / 256'), ('(floor(random() * 256) - 128) * 1024')) b(component),
	 LATERAL storage_bytes_check(k.kernel, o.opclass, o.op, b.component) c
WHERE c.misordered > 0 OR c.not_self_first > 0 OR c.nudged_misordered > 0;
RESET hnsw.ef_search;

-- The traversal kernels themselves, through vectorpg._traversal_distances,
-- at lengths that leave every tail of every main loop.  Pairs of uint8
-- values (kind u8), of int8 values (i8), of half values (f16), of bfloat16
-- values (bf16), of floats (f), and floats against int8 values (fi8).  On
-- byte vectors the integer kernels of every kernel set give the exact sums
-- (which the float8 operators compute exactly here); every float4 kernel of
-- every set agrees with the scalar one to 1e-4 relative (the scalar loop's
-- sequential float4 sum of 2,000 terms drifts by 1.5e-5); and the stored
-- kernels, reading the narrow copy of b, agree with the float4 kernels of
-- their set on b itself, to 1e-4 too.
CREATE FUNCTION kernel_operand(kind text, d int, p int) RETURNS vector LANGUAGE sql AS $$
	SELECT array_agg(CASE kind WHEN 'u8' THEN floor(random() * 256)
							   WHEN 'i8' THEN floor(random() * 256) - 128
							   WHEN 'f' THEN random() * 2 - 1
							   WHEN 'f16' THEN (floor(random() * 2049) - 1024) / 256
							   WHEN 'bf16' THEN (floor(random() * 256) - 128) * 1024
							   ELSE random() * 256 - 128 END ORDER BY g)::vector
	FROM generate_series(1, d) g WHERE p > 0 $$ VOLATILE;
CREATE TABLE kernel_pairs AS
SELECT d, p, kind, kernel_operand(kind, d, p) AS a,
	kernel_operand(CASE kind WHEN 'fi8' THEN 'i8' ELSE kind END, d, p) AS b
FROM unnest(ARRAY[1, 3, 7, 15, 16, 17, 31, 32, 33, 63, 64, 65, 77, 200, 784, 2000]) d,
	 generate_series(1, 8) p, unnest(ARRAY['u8', 'i8', 'f16', 'bf16', 'f', 'fi8']) kind;
CREATE TABLE kernel_values AS
SELECT k.d, k.p, k.kind, t.* FROM kernel_pairs k, vectorpg._traversal_distances(k.a, k.b) t;
SELECT count(*) FILTER (WHERE t.value IS DISTINCT FROM CASE regexp_replace(t.fn, '_[ui]8', '')
			WHEN 'l2_squared' THEN vector_l2_squared_distance(k.a, k.b)::real
			WHEN 'l1' THEN l1_distance(k.a, k.b)::real
			WHEN 'inner_product' THEN inner_product(k.a, k.b)::real
			WHEN 'cosine_parts dot' THEN inner_product(k.a, k.b)::real
			WHEN 'cosine_parts norm_a' THEN inner_product(k.a, k.a)::real
			WHEN 'cosine_parts norm_b' THEN inner_product(k.b, k.b)::real END) AS byte_kernels_inexact,
	   count(*) FILTER (WHERE t.fn ~ ('_' || k.kind || '( |$)')) =
		2 * 6 * 16 * 8 * (SELECT count(DISTINCT kernel) FROM kernel_values) AS every_pair_of_bytes,
	   (SELECT count(*) FROM kernel_values WHERE (kind = 'fi8' AND fn ~ '_i8_f32') OR
			(kind IN ('f16', 'bf16') AND fn ~ ('_' || kind || '_f32'))) =
		3 * 6 * 16 * 8 * (SELECT count(DISTINCT kernel) FROM kernel_values) AS every_stored_pair
FROM kernel_pairs k JOIN kernel_values t USING (d, p, kind)
WHERE t.fn ~ '_[ui]8( |$)';
-- (a float sum may cancel to near zero, so the tolerance scales with d)
SELECT count(*) FILTER (WHERE abs(t.value - s.value) > 1e-4 * greatest(abs(s.value), t.d)) AS float_kernels_disagree
FROM kernel_values t JOIN kernel_values s USING (d, p, kind, fn)
WHERE s.kernel = 'scalar' AND t.kernel <> 'scalar';
SELECT count(*) FILTER (WHERE abs(t.value - s.value) > 1e-4 * greatest(abs(s.value), t.d)) AS stored_kernels_disagree,
	   count(DISTINCT t.fn) AS stored_kernels
FROM kernel_values t JOIN kernel_values s
	ON s.d = t.d AND s.p = t.p AND s.kind = t.kind AND s.kernel = t.kernel
	   AND s.fn = regexp_replace(t.fn, '_(u8|i8|f16|bf16)_f32', '_f32')
WHERE t.fn ~ '_(u8|i8|f16|bf16)_f32';

-- The build keeps byte vectors as bytes in memory too (equal vectors have
-- equal bytes), in both byte formats: a table holding 50 of its vectors
-- twice gets both rows of each at distance 0, and the index is sound with
-- every row indexed.  storage_u8's vectors are uint8, the same less 128
-- int8.
CREATE TABLE storage_i8 AS SELECT id, (SELECT array_agg(x - 128 ORDER BY n)::vector(200)
	FROM unnest(embedding::real[]) WITH ORDINALITY u(x, n)) AS embedding FROM storage_u8;
CREATE FUNCTION storage_twice_check(source text, OUT without_their_twin bigint, OUT problems bigint)
LANGUAGE plpgsql AS $$
BEGIN
	EXECUTE format('CREATE TABLE storage_twice AS SELECT id, embedding FROM %I
		UNION ALL SELECT id + 100000, embedding FROM %I WHERE id <= 50', source, source);
	CREATE INDEX storage_twice_idx ON storage_twice USING hnsw (embedding vector_l2_ops);
	PERFORM set_config('enable_seqscan', 'off', true);
	SELECT count(*) FILTER (WHERE n <> 2) INTO without_their_twin
	FROM (SELECT (SELECT count(*) FROM (SELECT embedding <-> q.embedding AS d FROM storage_twice
				  ORDER BY embedding <-> q.embedding LIMIT 3) s WHERE d = 0) AS n
		  FROM storage_twice q WHERE q.id <= 50) t;
	PERFORM set_config('enable_seqscan', 'on', true);
	SELECT count(*) INTO problems FROM hnsw_index_check('storage_twice_idx', true);
	DROP TABLE storage_twice;
END $$;
SELECT s.source, c.* FROM unnest(ARRAY['storage_u8', 'storage_i8']) s(source),
	LATERAL storage_twice_check(s.source) c;

-- The edges of the byte formats: a vector of small integers with ten
-- components of 256 or -129 is no byte vector (a byte would keep 0 or 127
-- of those), nor with 255.5; of 128 it is uint8 but not int8, of -128 int8
-- but not uint8.  Each such vector finds itself first, stored by the build
-- (rows 1-20 of each kind) or by an insert (21-40): kept in the wrong
-- format, one of 256 would lie 655,360 from its own vector, further than
-- the plain small vectors.
CREATE TABLE storage_edges (id int PRIMARY KEY, edge float8, embedding vector(20));
CREATE FUNCTION storage_edge_rows(first int, last int) RETURNS SETOF storage_edges
LANGUAGE sql AS $$
	SELECT e.k * 1000 + i, e.v,
		(SELECT array_agg(CASE WHEN j <= 10 THEN e.v ELSE floor(random() * 8) END ORDER BY j)::vector
		 FROM generate_series(1, 20) j WHERE i > 0)
	FROM (VALUES (1, 256.0), (2, -129.0), (3, 255.5), (4, 128.0), (5, -128.0)) e(k, v),
		 generate_series(first, last) i
	UNION ALL
	SELECT 9000 + i, NULL, (SELECT array_agg(floor(random() * 8))::vector FROM generate_series(1, 20) WHERE i > 0)
	FROM generate_series(first * 5, last * 5) i
$$;
INSERT INTO storage_edges SELECT * FROM storage_edge_rows(1, 20);
CREATE INDEX storage_edges_idx ON storage_edges USING hnsw (embedding vector_l2_ops);
INSERT INTO storage_edges SELECT * FROM storage_edge_rows(21, 40);
SET enable_seqscan = off;
SELECT e.edge, e.id % 1000 <= 20 AS built, count(*) AS vectors,
	   count(*) FILTER (WHERE (SELECT s.id FROM storage_edges s
							   ORDER BY s.embedding <-> e.embedding LIMIT 1) = e.id) AS find_themselves
FROM storage_edges e WHERE e.edge IS NOT NULL
GROUP BY 1, 2 ORDER BY 1, 2;
RESET enable_seqscan;
