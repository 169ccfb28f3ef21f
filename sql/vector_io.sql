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
