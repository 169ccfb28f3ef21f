-- Text, binary and typmod round trips of the vector type.

-- Text input: whitespace is tolerated around every token
SELECT '[1,2,3]'::vector;
SELECT '  [ 1 , 2 ,3 ]  '::vector;
SELECT E'[\t1,\n2\r,3\f]'::vector;
SELECT '[-1.5, 1e3, 2.5E-3, +4, .5, 6.]'::vector;
SELECT '[0x1p3]'::vector;

-- Output uses the shortest text that reads back to the same float4
SELECT '[0.1, 0.2, 0.3]'::vector;
SELECT '[1.23456789, 123456789, 0.000001234]'::vector;
SELECT '[3.4028235e38, -3.4028235e38, 1.17549435e-38, 1e-45]'::vector;
SELECT '[0.1]'::vector::text::vector = '[0.1]'::vector AS text_round_trip;

-- Every float4 survives text output and input bit for bit
SELECT count(*) AS mismatches
FROM (SELECT array_agg(((random() * 2e6 - 1e6) / (i % 97 + 1))::real) AS a
      FROM generate_series(1, 2000) i GROUP BY i % 20) t
WHERE a::vector::text::vector::real[] IS DISTINCT FROM a;

-- Binary send produces pgvector's layout: int16 dim, int16 0, big-endian float4s
SELECT vector_send('[1,2,3]');
SELECT vector_send('[-0]');

-- typmod
SELECT '[1,2,3]'::vector(3);
SELECT format_type('vector'::regtype, 3);
CREATE TABLE io_t (id int, v vector(3), w vector);
INSERT INTO io_t VALUES (1, '[1,2,3]', '[1]'), (2, NULL, '[1,2,3,4,5]');
SELECT * FROM io_t ORDER BY id;
SELECT attname, format_type(atttypid, atttypmod), attstorage
FROM pg_attribute WHERE attrelid = 'io_t'::regclass AND attnum > 0 ORDER BY attnum;
DROP TABLE io_t;

-- The storage strategy keeps vectors up to ~2000 dims inline in the heap
SELECT typstorage FROM pg_type WHERE typname = 'vector';
CREATE TABLE storage_t (id int, v vector);
INSERT INTO storage_t
SELECT i, array_fill(i::real + 0.5, ARRAY[d])::vector FROM (VALUES (1, 128), (2, 1000), (3, 2000)) x(i, d);
-- random (incompressible) data of 1500 dims stays inline and uncompressed
INSERT INTO storage_t
SELECT 4, array_agg(random()::real)::vector FROM generate_series(1, 1500);
SELECT id, vector_dims(v), pg_column_compression(v) IS NULL AS uncompressed
FROM storage_t ORDER BY id;
SELECT pg_relation_size(reltoastrelid) AS toast_bytes
FROM pg_class WHERE oid = 'storage_t'::regclass;
DROP TABLE storage_t;

-- New tables get STORAGE plain on vector(n) columns that fit in a page
-- together, so that even compressible vectors stay uncompressed inline
CREATE TABLE plain_t (id int, a vector(784), b vector(16), note text);
CREATE TABLE big_t (a vector(1000), b vector(1000));
CREATE TABLE free_t (a vector);
SET vectorpg.inline_storage = off;
CREATE TABLE optout_t (a vector(3));
RESET vectorpg.inline_storage;
CREATE TABLE as_t AS SELECT '[1,2]'::vector(2) AS v;
SELECT attrelid::regclass, attname, attstorage
FROM pg_attribute
WHERE attrelid IN ('plain_t'::regclass, 'big_t'::regclass, 'free_t'::regclass,
				   'optout_t'::regclass, 'as_t'::regclass)
  AND attnum > 0 AND atttypid = 'vector'::regtype
ORDER BY attrelid::regclass::text, attname;
INSERT INTO plain_t SELECT 1, array_fill(7, ARRAY[784])::vector, array_fill(1, ARRAY[16])::vector, 'x';
SELECT pg_column_compression(a) IS NULL AS uncompressed, pg_column_size(a) AS bytes FROM plain_t;
-- and a toast_tuple_target that leaves the other columns the usual 2032
-- bytes, so that a small jsonb beside a 3 kB vector stays in the row (it
-- went to TOAST), while a large text still goes; set only for tables with
-- plain vectors, never over one the CREATE TABLE gave, and for a
-- partition (whose vectors are plain already) but not its parent
SELECT c.relname, c.reloptions FROM pg_class c
WHERE c.relname IN ('plain_t', 'big_t', 'free_t', 'optout_t', 'as_t') ORDER BY 1;
CREATE TABLE meta_t (id int, v vector(784), m jsonb, body text);
INSERT INTO meta_t SELECT 1, array_fill(7, ARRAY[784])::vector, '{"n": 1, "tag": "some words"}', 'short';
SELECT pg_relation_size(reltoastrelid) AS toast_bytes_after_small_columns
FROM pg_class WHERE oid = 'meta_t'::regclass;
INSERT INTO meta_t SELECT 2, array_fill(7, ARRAY[784])::vector, '{"n": 2}',
	(SELECT string_agg(md5(i::text), '') FROM generate_series(1, 200) i);
SELECT pg_relation_size(reltoastrelid) > 0 AS large_text_went_to_toast
FROM pg_class WHERE oid = 'meta_t'::regclass;
CREATE TABLE given_t (v vector(784)) WITH (toast_tuple_target = 4000);
CREATE TABLE part_t (id int, v vector(784), m jsonb) PARTITION BY RANGE (id);
CREATE TABLE part_1 PARTITION OF part_t FOR VALUES FROM (0) TO (100);
SELECT c.relname, c.reloptions FROM pg_class c
WHERE c.relname IN ('meta_t', 'given_t', 'part_t', 'part_1') ORDER BY 1;
DROP TABLE meta_t, given_t, part_t;
-- the trigger works with an empty search_path, as pg_restore runs
SET search_path = '';
CREATE TABLE public.sp_t (a public.vector(3));
RESET search_path;
SELECT attstorage FROM pg_attribute WHERE attrelid = 'sp_t'::regclass AND attname = 'a';
DROP TABLE sp_t;
-- an explicit choice later is kept
ALTER TABLE plain_t ALTER COLUMN a SET STORAGE MAIN;
SELECT attstorage FROM pg_attribute WHERE attrelid = 'plain_t'::regclass AND attname = 'a';
DROP TABLE plain_t, big_t, free_t, optout_t, as_t;

-- Plain integers of up to 7 digits take a fast path; it must read exactly
-- what strtof reads, and leave everything else to strtof
SELECT '[-0, +5, 0007, 1234567, 12345678, 1e3, 0x10, 7 ]'::vector;
SELECT '[-0]'::vector::real[] AS keeps_negative_zero, '[16777215]'::vector::real[] AS largest_exact;
SELECT '[5abc]'::vector;
SELECT '[1_0]'::vector;
SELECT '[-]'::vector;

-- Short decimals take another fast path (ParseFastDecimal); it must give
-- exactly what float4in (strtof) gives.  The strings: shortest float8 and
-- float4 text, roundings to 6, 9 and 18 places, scientific notation, and
-- decimals at and next to halfway between two float4s, where a double
-- narrowed to float4 would round twice
SELECT setseed(0.5);
CREATE TEMP TABLE fp_strings AS
WITH r AS (
	SELECT (random() * 2 - 1) * 10 ^ (random() * 30 - 15) AS x FROM generate_series(1, 12000)
), f AS (
	SELECT x, x::float4::float8 AS f FROM r WHERE x <> 0
), m AS (
	SELECT f + sign(f) * 2 ^ (floor(ln(abs(f)) / ln(2)) - 24) AS mid FROM f
)
SELECT x::text AS s FROM f
UNION ALL SELECT f::text FROM f
UNION ALL SELECT trim(to_char(x, '9.99999EEEE')) FROM f
UNION ALL SELECT trim(to_char(x, '9.99999999EEEE')) FROM f
UNION ALL SELECT round(x::numeric, 6)::text FROM f
UNION ALL SELECT round(x::numeric, 9)::text FROM f
UNION ALL SELECT round(x::numeric, 18)::text FROM f
UNION ALL SELECT mid::text FROM m
UNION ALL SELECT (mid::numeric * (1 + 1e-17))::text FROM m
UNION ALL SELECT (mid::numeric * (1 - 1e-17))::text FROM m;
-- (compared as text, which tells every float4 apart, -0 from 0 included)
SELECT count(*) >= 100000 AS enough_strings,
	count(*) FILTER (WHERE ('[' || s || ']')::vector::real[]::text <> ARRAY[s::real]::text) AS mismatches
FROM fp_strings;
SELECT '[1.5, -2.25e-3, 3e+2, .5, 5., 1.0000000000000000001, 123456789012345678901, 1e-23]'::vector;
SELECT '[1.5x]'::vector;
SELECT '[1e]'::vector;
SELECT '[1.2.3]'::vector;
DROP TABLE fp_strings;

-- vectorpg.so does not link libcurl: a session that never talks to a
-- remote index does not load it (src/remote_curl.h)
SELECT pg_read_file('/proc/self/maps') LIKE '%libcurl%' AS libcurl_loaded;
