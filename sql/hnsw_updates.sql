-- An UPDATE that keeps the vector (other columns change, and an index on
-- them makes it a non-HOT update) adds the new heap TID to the element that
-- already holds the vector instead of inserting a new element: the index
-- does not grow, every row version stays findable, and vacuum then drops
-- the dead TIDs.
SET client_min_messages = warning;
SELECT setseed(0.7);
CREATE TABLE upd (id int PRIMARY KEY, n int, embedding vector(8));
INSERT INTO upd SELECT i, 0, (SELECT array_agg(random())::vector FROM generate_series(1, 8) WHERE i > 0)
FROM generate_series(1, 2000) i;
CREATE INDEX upd_hnsw ON upd USING hnsw (embedding vector_l2_ops);
CREATE INDEX upd_n ON upd (n);
ALTER TABLE upd SET (autovacuum_enabled = off);
SELECT pg_relation_size('upd_hnsw') AS size_before \gset

UPDATE upd SET n = n + 1;
UPDATE upd SET n = n + 1;
UPDATE upd SET n = n + 1;
SELECT pg_relation_size('upd_hnsw') <= :size_before AS index_did_not_grow;

-- Each row still finds itself as its own nearest neighbour (the graph's
-- few unreachable elements aside) and the index is sound with all TIDs
SET enable_seqscan = off;
SET hnsw.ef_search = 100;
SELECT count(*) >= 1900 AS rows_find_themselves
FROM upd u WHERE (SELECT id FROM upd v ORDER BY v.embedding <-> u.embedding LIMIT 1) = u.id;
RESET enable_seqscan;
SELECT count(*) AS problems FROM hnsw_index_check('upd_hnsw', true);

-- Vacuum removes the dead versions' TIDs; the index stays sound
VACUUM upd;
SELECT count(*) AS problems_after_vacuum FROM hnsw_index_check('upd_hnsw', true);

-- An UPDATE that changes the vector inserts it anew
UPDATE upd SET embedding = embedding + '[1,1,1,1,1,1,1,1]' WHERE id <= 10;
SET enable_seqscan = off;
SELECT count(*) AS moved_rows_found
FROM upd u WHERE id <= 10 AND (SELECT id FROM upd v ORDER BY v.embedding <-> u.embedding LIMIT 1) = u.id;
RESET enable_seqscan;
SELECT count(*) AS problems_at_end FROM hnsw_index_check('upd_hnsw', true);

-- Vacuum links back what removing the old versions cut off: every live
-- element is reachable by a search (reachable => true)
VACUUM upd;
SELECT count(*) AS unreachable FROM hnsw_index_check('upd_hnsw', reachable => true);

-- An insert cancelled part way (statement_timeout strikes during the graph
-- search) leaves nothing behind: the next inserts reuse the insert's memory
-- and the index stays sound
SET statement_timeout = '100ms';
INSERT INTO upd (id, n, embedding)
SELECT 100000 + i, 0, ARRAY[sin(i), cos(i), sin(2 * i), cos(2 * i), sin(3 * i), cos(3 * i), i % 7, i % 11]::vector
FROM generate_series(1, 200000) i;
RESET statement_timeout;
INSERT INTO upd (id, n, embedding)
SELECT 200000 + i, 0, ARRAY[sin(i), cos(i), sin(2 * i), cos(2 * i), 1, 2, i % 7, i % 11]::vector
FROM generate_series(1, 100) i;
SELECT count(*) AS problems_after_cancel FROM hnsw_index_check('upd_hnsw', true);

-- hnsw_index_findability: of a sample of live elements, how many a search
-- for their own vector misses (a fraction of a percent in a sound graph)
VACUUM upd;
SELECT live = (SELECT count(DISTINCT embedding) FROM upd) AS live_counted,
	   searched = 1000 AS sample_searched, not_found <= 20 AS few_missed
FROM hnsw_index_findability('upd_hnsw');
SELECT searched = live AS all_searched FROM hnsw_index_findability('upd_hnsw', 1000000);
SELECT * FROM hnsw_index_findability('upd_hnsw', 0);
SELECT * FROM hnsw_index_findability('upd_hnsw', 1000001);
SELECT * FROM hnsw_index_findability('upd_n');
SELECT * FROM hnsw_index_findability('upd');

-- Updates that keep the vector fill the heap TID slots of its element.  A
-- row updated a dozen times without a vacuum gets one more element for the
-- versions that do not fit, not one per update: the search that stops at
-- the first element holding the vector finds it full and searches again
-- for a duplicate with room
CREATE TABLE upd2 (id int PRIMARY KEY, n int, embedding vector(8));
INSERT INTO upd2 SELECT i, 0, ARRAY[sin(i), cos(i), sin(2 * i), cos(2 * i), sin(3 * i), cos(3 * i), i % 7, i % 11]::vector
FROM generate_series(1, 1000) i;
CREATE INDEX upd2_hnsw ON upd2 USING hnsw (embedding vector_l2_ops);
CREATE INDEX upd2_n ON upd2 (n);
ALTER TABLE upd2 SET (autovacuum_enabled = off);
SELECT live AS live_before FROM hnsw_index_findability('upd2_hnsw');
DO $$ BEGIN FOR i IN 1 .. 24 LOOP UPDATE upd2 SET n = n + 1 WHERE id <= 20; END LOOP; END $$;
SELECT live AS live_after_24_updates_of_20_rows FROM hnsw_index_findability('upd2_hnsw');
SELECT count(*) AS problems_after_updates FROM hnsw_index_check('upd2_hnsw', true);
