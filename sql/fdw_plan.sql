-- fdw_plan: vectorpg_fdw planning without a remote call.  Every foreign
-- table here names its metric, so the planner needs no describe, and
-- EXPLAIN without ANALYZE sends no request (the URL is never contacted).
SET client_min_messages = warning;
CREATE SERVER pc_plan FOREIGN DATA WRAPPER vectorpg_fdw
	OPTIONS (provider 'pinecone', url 'https://api.pinecone.io');
CREATE SERVER mv_plan FOREIGN DATA WRAPPER vectorpg_fdw
	OPTIONS (provider 'milvus', url 'https://milvus.example.com:19530');
CREATE USER MAPPING FOR CURRENT_USER SERVER pc_plan OPTIONS (api_key 'plan-secret');
CREATE USER MAPPING FOR CURRENT_USER SERVER mv_plan OPTIONS (token 'plan-token');
RESET client_min_messages;

CREATE FOREIGN TABLE pc_docs (id text, embedding vector(3), score float8,
	distance float8, metadata jsonb, genre text, year int, draft boolean,
	"Title" text OPTIONS (column_name 'title'))
	SERVER pc_plan OPTIONS (index 'docs', namespace 'ns1', metric 'cosine');
CREATE FOREIGN TABLE mv_docs (id bigint, embedding vector(3), distance float8,
	genre text, year bigint)
	SERVER mv_plan OPTIONS (collection 'docs', partition 'p1', metric 'l2');

-- remote top-k with the filter, namespace and topK in the request
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id, score FROM pc_docs
 WHERE genre = 'news' AND year >= 2020 AND "Title" IN ('a', 'b')
 ORDER BY embedding <=> '[1,2,3]' LIMIT 10;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id FROM pc_docs WHERE genre <> 'x' OR draft IS NULL OR NOT draft
 ORDER BY embedding <=> '[1,2,3]' LIMIT 5 OFFSET 2;
-- Milvus: the filter as an expression, offset sent, partition shown
EXPLAIN (VERBOSE, COSTS OFF)
SELECT id, distance FROM mv_docs WHERE genre = 'a"b' AND year NOT IN (1, 2)
 ORDER BY embedding <-> '[1,2,3]' LIMIT 3 OFFSET 4;
-- fetch by id
EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM pc_docs WHERE id IN ('a', 'b');
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM mv_docs WHERE id = 7 AND year > 1;
-- parameters: prepared statement with a generic plan
SET plan_cache_mode = force_generic_plan;
PREPARE q(vector, int, text) AS
	SELECT id FROM pc_docs WHERE genre = $3 ORDER BY embedding <=> $1 LIMIT $2;
EXPLAIN (VERBOSE, COSTS OFF) EXECUTE q('[1,2,3]', 4, 'news');
DEALLOCATE q;
RESET plan_cache_mode;

-- not pushed: operator of another metric, a local condition, no LIMIT,
-- WITH TIES; all would read the whole index and are refused
EXPLAIN (COSTS OFF) SELECT id FROM pc_docs ORDER BY embedding <-> '[1,2,3]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM pc_docs WHERE genre LIKE 'n%'
 ORDER BY embedding <=> '[1,2,3]' LIMIT 5;
EXPLAIN (COSTS OFF) SELECT id FROM pc_docs ORDER BY embedding <=> '[1,2,3]';
EXPLAIN (COSTS OFF) SELECT id FROM pc_docs ORDER BY embedding <=> '[1,2,3]'
 FETCH FIRST 5 ROWS WITH TIES;
-- (an allowed full scan asks the remote for its row count while planning,
-- so its plans are tested against the fakes: test/t/045, 046)
-- ORDER BY the distance column is no search: the refusal says so
EXPLAIN (COSTS OFF) SELECT id FROM pc_docs ORDER BY distance LIMIT 5;
-- LIMIT without ORDER BY: a bounded scan, pushed, without allow_full_scan
EXPLAIN (VERBOSE, COSTS OFF) SELECT id, genre FROM pc_docs LIMIT 5;
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM mv_docs WHERE genre = 'a' LIMIT 3 OFFSET 1;
-- Pinecone: with a filter, fetch_by_metadata
EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM pc_docs WHERE genre = 'a' LIMIT 5;
-- ... but not beyond 10000 rows, nor with a local condition
EXPLAIN (COSTS OFF) SELECT id FROM pc_docs LIMIT 10001;
EXPLAIN (COSTS OFF) SELECT id FROM mv_docs WHERE genre LIKE 'a%' LIMIT 5;

-- bad table definitions
CREATE FOREIGN TABLE bad1 (id text, a vector(3), b vector(3))
	SERVER pc_plan OPTIONS (index 'docs', metric 'cosine');
SELECT id FROM bad1 WHERE id = 'x';
CREATE FOREIGN TABLE bad2 (id integer, embedding vector(3))
	SERVER pc_plan OPTIONS (index 'docs', metric 'cosine');
SELECT id FROM bad2 WHERE id = 1;
-- IMPORT FOREIGN SCHEMA takes no options
CREATE SCHEMA imp_plan;
IMPORT FOREIGN SCHEMA x FROM SERVER pc_plan INTO imp_plan OPTIONS (dimension '3');

DROP SCHEMA imp_plan;
DROP FOREIGN TABLE pc_docs, mv_docs, bad1, bad2;
DROP USER MAPPING FOR CURRENT_USER SERVER pc_plan;
DROP USER MAPPING FOR CURRENT_USER SERVER mv_plan;
DROP SERVER pc_plan, mv_plan;
