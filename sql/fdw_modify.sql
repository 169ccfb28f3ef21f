-- fdw_modify: INSERT, UPDATE and DELETE on vectorpg_fdw foreign tables
-- without a remote call: the plans, and every refusal that comes before a
-- row reaches the remote's own validation (doc/fdw.md, "Writes").  The
-- servers' URLs are never contacted.
SET client_min_messages = warning;
CREATE SERVER pc_mod FOREIGN DATA WRAPPER vectorpg_fdw
	OPTIONS (provider 'pinecone', url 'https://api.pinecone.io');
CREATE SERVER mv_mod FOREIGN DATA WRAPPER vectorpg_fdw
	OPTIONS (provider 'milvus', url 'https://milvus.example.com:19530');
CREATE USER MAPPING FOR CURRENT_USER SERVER pc_mod OPTIONS (api_key 'mod-secret');
CREATE USER MAPPING FOR CURRENT_USER SERVER mv_mod OPTIONS (token 'mod-token');
RESET client_min_messages;

CREATE FOREIGN TABLE pc_w (id text, embedding vector(3), score float8,
	distance float8, metadata jsonb, genre text, year int, rating float8,
	"Title" text OPTIONS (column_name 'title'))
	SERVER pc_mod OPTIONS (index 'docs', namespace 'ns1', metric 'cosine');
CREATE FOREIGN TABLE mv_w (id bigint, embedding vector(3), genre text)
	SERVER mv_mod OPTIONS (collection 'docs', partition 'p1', metric 'l2');
CREATE FOREIGN TABLE no_id (key text, embedding vector(3))
	SERVER pc_mod OPTIONS (index 'docs', metric 'cosine');

-- plans: an INSERT is an upsert at commit; UPDATE and DELETE scan by id
EXPLAIN (VERBOSE, COSTS OFF)
INSERT INTO pc_w (id, embedding, genre) VALUES ('a', '[1,2,3]', 'news');
EXPLAIN (VERBOSE, COSTS OFF)
UPDATE pc_w SET genre = 'x', embedding = '[0,0,1]' WHERE id = 'a';
EXPLAIN (VERBOSE, COSTS OFF)
DELETE FROM pc_w WHERE id IN ('a', 'b') RETURNING id, genre;
EXPLAIN (COSTS OFF) DELETE FROM mv_w WHERE id = ANY ('{1,2,3}'::bigint[]);
EXPLAIN (VERBOSE, COSTS OFF)
INSERT INTO mv_w SELECT g, '[1,1,1]', 'g' || g FROM generate_series(1, 3) g;

-- an unqualified DELETE is refused before anything is sent, also with
-- allow_full_scan, and also when the condition folds to true
DELETE FROM pc_w;
DELETE FROM pc_w WHERE 1 = 1;
ALTER FOREIGN TABLE pc_w OPTIONS (ADD allow_full_scan 'true');
DELETE FROM pc_w;
ALTER FOREIGN TABLE pc_w OPTIONS (DROP allow_full_scan);
-- a condition that cannot be pushed needs a full scan
DELETE FROM pc_w WHERE genre LIKE 'n%';
UPDATE pc_w SET genre = 'x';
-- the id cannot change; scores and distances are not written
UPDATE pc_w SET id = 'b' WHERE id = 'a';
UPDATE pc_w SET score = 1 WHERE id = 'a';
INSERT INTO pc_w (id, embedding, distance) VALUES ('a', '[1,2,3]', 0.5);
-- INSERT is an upsert: ON CONFLICT would promise what it cannot keep
INSERT INTO pc_w (id, embedding) VALUES ('a', '[1,2,3]') ON CONFLICT DO NOTHING;
-- bad rows
INSERT INTO pc_w (id, embedding) VALUES (NULL, '[1,2,3]');
INSERT INTO pc_w (id, genre) VALUES ('a', 'news');
INSERT INTO pc_w (id, embedding, metadata) VALUES ('a', '[1,2,3]', '[1, 2]');
INSERT INTO pc_w (id, embedding, rating) VALUES ('a', '[1,2,3]', 'NaN');
INSERT INTO no_id VALUES ('a', '[1,2,3]');
-- TRUNCATE is not a write of the FDW
TRUNCATE pc_w;

-- Rows that pass these checks are validated against the remote's own
-- rules (which needs its description) and buffered until commit: ROLLBACK,
-- savepoints, COPY, PREPARE TRANSACTION and the buffer limit are tested
-- against the fakes by test/t/048_fdw_writes.pl.

-- nothing buffered: PREPARE goes on to PostgreSQL's own checks
BEGIN;
SELECT count(*) FROM pc_w WHERE id = 'never fetched' AND false;
PREPARE TRANSACTION 'vpg_fdw_modify';
ROLLBACK PREPARED 'vpg_fdw_modify';

-- the buffer limit: min/default/max
SHOW vectorpg.fdw_write_buffer_limit;
SET vectorpg.fdw_write_buffer_limit = '1023kB';
SET vectorpg.fdw_write_buffer_limit = '1024kB';
SET vectorpg.fdw_write_buffer_limit = '67108864kB';
SET vectorpg.fdw_write_buffer_limit = '67108865kB';
RESET vectorpg.fdw_write_buffer_limit;

DROP FOREIGN TABLE pc_w, mv_w, no_id;
SET client_min_messages = warning;
DROP SERVER pc_mod CASCADE;
DROP SERVER mv_mod CASCADE;
