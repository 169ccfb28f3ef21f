-- hnsw: reloptions and settings at min-1, min, max, max+1; EXPLAIN shapes;
-- the errors of the access method.

CREATE TABLE h (id int, v vector(3));
INSERT INTO h SELECT i, ARRAY[i % 7, i % 11, i % 13]::vector FROM generate_series(1, 200) i;

-- m: 2..100
CREATE INDEX ON h USING hnsw (v vector_l2_ops) WITH (m = 1);
CREATE INDEX h_m2 ON h USING hnsw (v vector_l2_ops) WITH (m = 2, ef_construction = 4);
CREATE INDEX h_m100 ON h USING hnsw (v vector_l2_ops) WITH (m = 100, ef_construction = 200);
CREATE INDEX ON h USING hnsw (v vector_l2_ops) WITH (m = 101);
-- ef_construction: 4..1000, and at least 2 * m
CREATE INDEX ON h USING hnsw (v vector_l2_ops) WITH (ef_construction = 3);
CREATE INDEX h_efc1000 ON h USING hnsw (v vector_l2_ops) WITH (ef_construction = 1000);
CREATE INDEX ON h USING hnsw (v vector_l2_ops) WITH (ef_construction = 1001);
CREATE INDEX ON h USING hnsw (v vector_l2_ops) WITH (m = 16, ef_construction = 31);
CREATE INDEX ON h USING hnsw (v vector_l2_ops) WITH (unknown_option = 1);
SELECT count(*) AS problems FROM hnsw_index_check('h_m2', true);
SELECT count(*) AS problems FROM hnsw_index_check('h_m100', true);
SELECT count(*) AS problems FROM hnsw_index_check('h_efc1000', true);
DROP INDEX h_m2, h_m100, h_efc1000;

-- hnsw.ef_search: 1..1000
SET hnsw.ef_search = 0;
SET hnsw.ef_search = 1;
SET hnsw.ef_search = 1000;
SET hnsw.ef_search = 1001;
SHOW hnsw.ef_search;
RESET hnsw.ef_search;
SHOW hnsw.ef_search;

-- hnsw.iterative_scan
SHOW hnsw.iterative_scan;
SET hnsw.iterative_scan = relaxed_order;
SET hnsw.iterative_scan = strict_order;
SET hnsw.iterative_scan = off;
SET hnsw.iterative_scan = on;
RESET hnsw.iterative_scan;

-- hnsw.max_scan_tuples: 1..INT_MAX
SET hnsw.max_scan_tuples = 0;
SET hnsw.max_scan_tuples = 1;
SET hnsw.max_scan_tuples = 2147483647;
SET hnsw.max_scan_tuples = 2147483648;
SHOW hnsw.max_scan_tuples;
RESET hnsw.max_scan_tuples;

-- hnsw.scan_mem_multiplier: 1..1000
SET hnsw.scan_mem_multiplier = 0.99;
SET hnsw.scan_mem_multiplier = 1;
SET hnsw.scan_mem_multiplier = 1000;
SET hnsw.scan_mem_multiplier = 1000.5;
RESET hnsw.scan_mem_multiplier;

-- the prefix is reserved
SET hnsw.no_such_setting = 1;

-- settings as registered
SELECT name, setting, min_val, max_val, enumvals, context
FROM pg_settings WHERE name LIKE 'hnsw.%' ORDER BY name;

-- EXPLAIN: ORDER BY distance LIMIT uses the index, for each operator class
CREATE INDEX h_l2 ON h USING hnsw (v vector_l2_ops);
CREATE INDEX h_ip ON h USING hnsw (v vector_ip_ops);
CREATE INDEX h_cos ON h USING hnsw (v vector_cosine_ops);
CREATE INDEX h_l1 ON h USING hnsw (v vector_l1_ops);
ANALYZE h;
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT id FROM h ORDER BY v <-> '[1,2,3]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM h ORDER BY v <#> '[1,2,3]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM h ORDER BY v <=> '[1,2,3]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM h ORDER BY v <+> '[1,2,3]' LIMIT 5;
-- a filter stays above the index scan
EXPLAIN (COSTS OFF) SELECT id FROM h WHERE id > 10 ORDER BY v <-> '[1,2,3]' LIMIT 5;
-- never without ORDER BY, nor for an order the opclass cannot give
EXPLAIN (COSTS OFF) SELECT id FROM h WHERE v = '[1,2,3]';
EXPLAIN (COSTS OFF) SELECT id FROM h ORDER BY v <-> '[1,2,3]' DESC LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM h ORDER BY v LIMIT 5;
RESET enable_seqscan;

-- answers come back in distance order, equal to an exact scan's
SET hnsw.ef_search = 200;
SELECT array_agg(id ORDER BY d, id) FROM (SELECT id, v <-> '[3,4,5]' AS d FROM h ORDER BY v <-> '[3,4,5]' LIMIT 10) x;
SET enable_indexscan = off;
SELECT array_agg(id ORDER BY d, id) FROM (SELECT id, v <-> '[3,4,5]' AS d FROM h ORDER BY v <-> '[3,4,5]' LIMIT 10) x;
RESET enable_indexscan;
RESET hnsw.ef_search;

-- NULLs are not indexed; a NULL query returns rows in no particular order
INSERT INTO h VALUES (1000, NULL);
SELECT count(*) FROM (SELECT id FROM h ORDER BY v <-> NULL LIMIT 5) x;
-- zero vectors are skipped by cosine, kept by the others
INSERT INTO h VALUES (1001, '[0,0,0]');
SELECT count(*) AS problems FROM hnsw_index_check('h_cos', true);
SELECT id FROM h ORDER BY v <-> '[0,0,0]' LIMIT 1;
SET enable_seqscan = off;
SELECT count(*) FROM (SELECT id FROM h ORDER BY v <=> '[0,0,0]' LIMIT 5) x;
RESET enable_seqscan;

-- errors
CREATE TABLE h_nodim (v vector);
CREATE INDEX ON h_nodim USING hnsw (v vector_l2_ops);
CREATE TABLE h_big (v vector(2001));
CREATE INDEX ON h_big USING hnsw (v vector_l2_ops);
CREATE TABLE h_ok (v vector(2000));
CREATE INDEX ON h_ok USING hnsw (v vector_l2_ops);
INSERT INTO h_ok SELECT array_fill(i, ARRAY[2000])::vector FROM generate_series(1, 3) i;
SELECT count(*) AS problems FROM hnsw_index_check('h_ok_v_idx', true);
CREATE INDEX ON h USING hnsw (v vector_l2_ops, v vector_l2_ops);
CREATE UNIQUE INDEX ON h USING hnsw (v vector_l2_ops);
CREATE INDEX ON h USING hnsw (id);
SELECT * FROM hnsw_index_check('h');
SELECT * FROM hnsw_index_check('h_nodim');
CREATE INDEX h_btree ON h (id);
SELECT * FROM hnsw_index_check('h_btree');
SET enable_seqscan = off;
SELECT id FROM h ORDER BY v <-> '[1,2]' LIMIT 1;
RESET enable_seqscan;

-- unlogged tables get an init fork
CREATE UNLOGGED TABLE h_unlogged (v vector(3));
CREATE INDEX h_unlogged_idx ON h_unlogged USING hnsw (v vector_l2_ops);
SELECT pg_relation_size('h_unlogged_idx', 'init') > 0 AS has_init_fork;
INSERT INTO h_unlogged VALUES ('[1,2,3]'), ('[4,5,6]');
SELECT v FROM h_unlogged ORDER BY v <-> '[4,5,6]' LIMIT 1;

-- an empty index works, and fills through inserts
CREATE TABLE h_empty (v vector(2));
CREATE INDEX h_empty_idx ON h_empty USING hnsw (v vector_l2_ops);
SELECT v FROM h_empty ORDER BY v <-> '[1,1]' LIMIT 1;
INSERT INTO h_empty SELECT ARRAY[i, i]::vector FROM generate_series(1, 100) i;
SELECT v FROM h_empty ORDER BY v <-> '[50.2,50.2]' LIMIT 3;
SELECT count(*) AS problems FROM hnsw_index_check('h_empty_idx', true);

-- the operator classes
SELECT opc.opcname, opc.opcdefault, amop.amopopr::regoperator, amproc.amprocnum, amproc.amproc::regprocedure
FROM pg_opclass opc JOIN pg_am am ON am.oid = opc.opcmethod
JOIN pg_amop amop ON amop.amopfamily = opc.opcfamily
JOIN pg_amproc amproc ON amproc.amprocfamily = opc.opcfamily
WHERE am.amname = 'hnsw' ORDER BY 1, 4;

DROP TABLE h, h_nodim, h_big, h_ok, h_unlogged, h_empty;
