-- Batch writes whose hnsw inserts are deferred and applied with parallel
-- workers (src/hnswdefer.c): chunks of at least 2,000 items.  Whether
-- workers start depends on the machine; what is checked does not: every
-- row is indexed with its vector (hnsw_index_check with heapallindexed),
-- a scan in the writing transaction sees the rows, and aborts, savepoints
-- and commits without the apply lose nothing and index nothing dead.

SELECT vectorpg.create_collection('pw', 8, 'l2');

-- a vector of 8 dimensions from a seed, distinct for every seed used
CREATE FUNCTION pw_vec(seed integer) RETURNS vector LANGUAGE sql IMMUTABLE AS $$
	SELECT array_agg(sin(seed * 0.731 + j * 1.317) ORDER BY j)::vector FROM generate_series(1, 8) j
$$;

-- upsert of 2,500 new items, then 2,500 replaced
SELECT inserted, updated, failed, status
FROM vectorpg.upsert('pw', (SELECT array_agg('p' || i ORDER BY i) FROM generate_series(1, 2500) i),
	(SELECT array_agg(pw_vec(i) ORDER BY i) FROM generate_series(1, 2500) i), batch_size_limit => 5000);
SELECT count(*) AS problems FROM hnsw_index_check('pw_embedding_idx', true);
SELECT inserted, updated, failed, status
FROM vectorpg.upsert('pw', (SELECT array_agg('p' || i ORDER BY i) FROM generate_series(1, 2500) i),
	(SELECT array_agg(pw_vec(i + 5000) ORDER BY i) FROM generate_series(1, 2500) i), batch_size_limit => 5000);
SELECT count(*) AS problems FROM hnsw_index_check('pw_embedding_idx', true);

-- update of 2,500 vectors, non-atomic, 2 of them with unknown ids
SELECT updated, failed, status, errors -> 0 ->> 'code' AS code
FROM vectorpg.update('pw', (SELECT array_agg(CASE WHEN i % 1000 = 0 THEN 'nope' || i ELSE 'p' || i END ORDER BY i) FROM generate_series(1, 2500) i),
	vectors => (SELECT array_agg(pw_vec(i + 9000) ORDER BY i) FROM generate_series(1, 2500) i),
	atomic => false, batch_size_limit => 5000);
SELECT count(*) AS problems FROM hnsw_index_check('pw_embedding_idx', true);
SELECT count(*) FILTER (WHERE embedding = pw_vec(substr(id, 2)::integer + 9000)) AS new_vectors, count(*) FROM pw;

-- a failure in the statement, after the rows were written and their
-- inserts listed: an atomic batch leaves nothing behind, a non-atomic one
-- drops the list with the chunk's subtransaction and retries item by item
CREATE FUNCTION pw_refuse() RETURNS trigger LANGUAGE plpgsql SET search_path = public AS $$
BEGIN
	IF NEW.embedding = pw_vec(0) THEN
		RAISE EXCEPTION 'refused' USING ERRCODE = 'check_violation';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER pw_refuse BEFORE UPDATE ON pw FOR EACH ROW EXECUTE FUNCTION pw_refuse();
\set VERBOSITY terse
SELECT vectorpg.update('pw', (SELECT array_agg('p' || i ORDER BY i) FROM generate_series(1, 2500) i),
	vectors => (SELECT array_agg(CASE WHEN i = 2500 THEN pw_vec(0) ELSE pw_vec(i + 20000) END ORDER BY i) FROM generate_series(1, 2500) i),
	batch_size_limit => 5000);
\set VERBOSITY default
SELECT count(*) FILTER (WHERE embedding = pw_vec(substr(id, 2)::integer + 9000)) AS new_vectors FROM pw;
SELECT count(*) AS problems FROM hnsw_index_check('pw_embedding_idx', true);
SELECT updated, failed, status, errors
FROM vectorpg.update('pw', (SELECT array_agg('p' || i ORDER BY i) FROM generate_series(1, 2500) i),
	vectors => (SELECT array_agg(CASE WHEN i = 2500 THEN pw_vec(0) ELSE pw_vec(i + 20000) END ORDER BY i) FROM generate_series(1, 2500) i),
	atomic => false, batch_size_limit => 5000);
SELECT count(*) FILTER (WHERE embedding = pw_vec(substr(id, 2)::integer + 20000)) AS newer_vectors FROM pw;
SELECT count(*) AS problems FROM hnsw_index_check('pw_embedding_idx', true);

-- the internals, directly
CREATE TABLE pt (id integer PRIMARY KEY, v vector(8));
CREATE INDEX pt_v ON pt USING hnsw (v vector_l2_ops);
INSERT INTO pt SELECT i, pw_vec(i) FROM generate_series(1, 100) i;

-- too few items: nothing is deferred
BEGIN;
SELECT vectorpg._defer_index_inserts('pt', 1999);
INSERT INTO pt SELECT i, pw_vec(i) FROM generate_series(101, 200) i;
SELECT vectorpg._apply_index_inserts() AS applied;
COMMIT;

-- a scan in the writing transaction inserts the deferred items first
BEGIN;
SELECT vectorpg._defer_index_inserts('pt', 2000);
INSERT INTO pt SELECT i, pw_vec(i) FROM generate_series(201, 2200) i;
INSERT INTO pt VALUES (0, '[9,9,9,9,9,9,9,9]');
SET LOCAL enable_seqscan = off;
SELECT id FROM pt ORDER BY v <-> '[9,9,9,9,9,9,9,9]' LIMIT 1;
INSERT INTO pt SELECT i, pw_vec(i) FROM generate_series(2201, 2300) i;
SELECT vectorpg._apply_index_inserts() AS applied;
COMMIT;
SELECT count(*) AS problems FROM hnsw_index_check('pt_v', true);

-- a commit without the apply inserts what is listed
BEGIN;
SELECT vectorpg._defer_index_inserts('pt', 2000);
INSERT INTO pt SELECT i, pw_vec(i) FROM generate_series(2301, 2400) i;
COMMIT;
SELECT count(*) AS problems FROM hnsw_index_check('pt_v', true);

-- the abort of the subtransaction that deferred drops the list; the rows
-- written after it are indexed at once
BEGIN;
SAVEPOINT s;
SELECT vectorpg._defer_index_inserts('pt', 2000);
INSERT INTO pt SELECT i, pw_vec(i) FROM generate_series(2401, 2500) i;
ROLLBACK TO s;
INSERT INTO pt SELECT i, pw_vec(i) FROM generate_series(2501, 2510) i;
SELECT vectorpg._apply_index_inserts() AS applied;
COMMIT;
SELECT count(*) AS problems FROM hnsw_index_check('pt_v', true);

-- the abort of a deeper one keeps the list, and the apply skips its rows
BEGIN;
SELECT vectorpg._defer_index_inserts('pt', 2000);
INSERT INTO pt SELECT i, pw_vec(i) FROM generate_series(2601, 2700) i;
SAVEPOINT s;
INSERT INTO pt SELECT i, pw_vec(i) FROM generate_series(2701, 2800) i;
ROLLBACK TO s;
SAVEPOINT t;
INSERT INTO pt SELECT i, pw_vec(i) FROM generate_series(2801, 2850) i;
RELEASE t;
SELECT vectorpg._apply_index_inserts() AS applied;
COMMIT;
SELECT count(*) AS problems FROM hnsw_index_check('pt_v', true);

-- a row updated twice in the transaction: each version is indexed once
BEGIN;
SELECT vectorpg._defer_index_inserts('pt', 2000);
UPDATE pt SET v = pw_vec(id + 1) WHERE id BETWEEN 1 AND 50;
UPDATE pt SET v = pw_vec(id + 2) WHERE id BETWEEN 1 AND 50;
SELECT vectorpg._apply_index_inserts() AS applied;
COMMIT;
SELECT count(*) AS problems FROM hnsw_index_check('pt_v', true);

-- a rolled-back transaction leaves nothing listed for the next one
BEGIN;
SELECT vectorpg._defer_index_inserts('pt', 2000);
INSERT INTO pt SELECT i, pw_vec(i) FROM generate_series(2901, 2950) i;
ROLLBACK;
SELECT vectorpg._apply_index_inserts() AS applied;

-- two hnsw indexes on the table, and an expression index: each gets its
-- own entries
CREATE INDEX pt_v_cos ON pt USING hnsw (v vector_cosine_ops);
CREATE INDEX pt_v_half ON pt USING hnsw (((v * '[0.5,0.5,0.5,0.5,0.5,0.5,0.5,0.5]')::vector(8)) vector_l1_ops);
BEGIN;
SELECT vectorpg._defer_index_inserts('pt', 2000);
INSERT INTO pt SELECT i, pw_vec(i) FROM generate_series(3001, 3100) i;
SELECT vectorpg._apply_index_inserts() AS applied;
COMMIT;
SELECT count(*) AS problems FROM hnsw_index_check('pt_v', true);
SELECT count(*) AS problems FROM hnsw_index_check('pt_v_cos', true);
SELECT count(*) AS problems FROM hnsw_index_check('pt_v_half', true);

-- a list that reaches maintenance_work_mem is inserted on the spot, and
-- the rows after it are listed anew
CREATE TABLE pwide (id integer PRIMARY KEY, v vector(2000));
CREATE INDEX pwide_v ON pwide USING hnsw (v vector_l2_ops);
BEGIN;
SET LOCAL maintenance_work_mem = '1MB';
SELECT vectorpg._defer_index_inserts('pwide', 2000);
INSERT INTO pwide SELECT i, array_fill(i::real, ARRAY[2000])::vector FROM generate_series(1, 300) i;
SELECT vectorpg._apply_index_inserts() BETWEEN 1 AND 299 AS the_rest_applied;
COMMIT;
SELECT count(*) AS problems FROM hnsw_index_check('pwide_v', true);

-- temporary tables are not deferred (workers cannot read local buffers)
CREATE TEMP TABLE ptt (id integer, v vector(8));
CREATE INDEX ON ptt USING hnsw (v vector_l2_ops);
BEGIN;
SELECT vectorpg._defer_index_inserts('ptt', 2000);
INSERT INTO ptt SELECT i, pw_vec(i) FROM generate_series(1, 100) i;
SELECT vectorpg._apply_index_inserts() AS applied;
COMMIT;

SELECT count(*) FROM pt;

-- a partitioned table: the inserts into its partitions' indexes are
-- deferred, each checked against its own partition; a row that moves to
-- another partition is indexed there once; a partition of another table,
-- written in the same window, is not deferred
CREATE TABLE pp (id integer PRIMARY KEY, v vector(8)) PARTITION BY RANGE (id);
CREATE TABLE pp_1 PARTITION OF pp FOR VALUES FROM (0) TO (1500);
CREATE TABLE pp_2 PARTITION OF pp FOR VALUES FROM (1500) TO (100000);
CREATE INDEX pp_v ON pp USING hnsw (v vector_l2_ops);
CREATE TABLE po (id integer PRIMARY KEY, v vector(8)) PARTITION BY RANGE (id);
CREATE TABLE po_1 PARTITION OF po FOR VALUES FROM (0) TO (100000);
CREATE INDEX po_v ON po USING hnsw (v vector_l2_ops);
BEGIN;
SELECT vectorpg._defer_index_inserts('pp', 3000);
INSERT INTO pp SELECT i, pw_vec(i) FROM generate_series(1, 3000) i;
UPDATE pp SET id = id + 5000, v = pw_vec(id + 7000) WHERE id <= 10;
INSERT INTO po SELECT i, pw_vec(i) FROM generate_series(1, 20) i;
SELECT vectorpg._apply_index_inserts() AS applied;
COMMIT;
SELECT c.relname, count(p.problem) AS problems
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
LEFT JOIN LATERAL hnsw_index_check(c.oid::regclass, true) p ON true
WHERE i.inhparent IN ('pp_v'::regclass, 'po_v'::regclass)
GROUP BY c.relname ORDER BY 1;
SELECT (SELECT count(*) FROM pp_1) AS in_pp_1, (SELECT count(*) FROM pp_2) AS in_pp_2;
SET enable_seqscan = off;
SELECT id FROM pp ORDER BY v <-> pw_vec(7005) LIMIT 1;
RESET enable_seqscan;
-- the same through the batch API, on the table registered as a collection:
-- 2,500 upserts across both partitions, new rows and replaced ones
SELECT vectorpg.register_collection('ppc', 'pp', vector_column => 'v', metadata_column => NULL);
SELECT inserted, updated, failed, status
FROM vectorpg.upsert('ppc', (SELECT array_agg((i * 2)::text ORDER BY i) FROM generate_series(1, 2500) i),
	(SELECT array_agg(pw_vec(i + 30000) ORDER BY i) FROM generate_series(1, 2500) i), batch_size_limit => 5000);
SELECT c.relname, count(p.problem) AS problems
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
LEFT JOIN LATERAL hnsw_index_check(c.oid::regclass, true) p ON true
WHERE i.inhparent = 'pp_v'::regclass
GROUP BY c.relname ORDER BY 1;
SELECT count(*) FILTER (WHERE v = pw_vec(id / 2 + 30000)) AS upserted FROM pp;
SELECT vectorpg.drop_collection('ppc');

-- arrays that do not count from 1 are renumbered: the error row's position
-- and id are the item's, and the retry after a statement's failure (the
-- trigger above) writes the right items
SELECT inserted, updated, failed, errors
FROM vectorpg.upsert('pw', '[0:2]={q1,q2,q1}'::text[],
	'[0:2]={"[1,2,3,4,5,6,7,8]","[2,2,2,2,2,2,2,2]","[3,3,3,3,3,3,3,3]"}'::vector[], atomic => false);
SELECT updated, failed, errors
FROM vectorpg.update('pw', '[5:7]={q1,q2,p7}'::text[],
	vectors => ARRAY[pw_vec(0), '[4,4,4,4,4,4,4,4]', '[5,5,5,5,5,5,5,5]']::vector[], atomic => false);
SELECT id, embedding FROM pw WHERE id IN ('q1', 'q2', 'p7') ORDER BY id;
SELECT vectorpg.drop_collection('pw', drop_table => true);
DROP TABLE pt, ptt, pwide;
DROP FUNCTION pw_vec(integer), pw_refuse();
