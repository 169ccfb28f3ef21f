-- Batch search: many queries, per-query k/offset/thresholds (records form),
-- search by id, paging with has_more, filters, include_vectors, the plan
-- (hnsw index through a nested loop), settings restored, non-atomic error
-- rows, multi-query retrieval, fusion and hybrid search, and the errors.

CREATE FUNCTION batch_err(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	state text;
	msg text;
	detail text;
	hint text;
BEGIN
	EXECUTE query;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
		detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
	RETURN state || ': ' || msg ||
		coalesce(nullif(' | DETAIL: ' || detail, ' | DETAIL: '), '') ||
		coalesce(nullif(' | HINT: ' || hint, ' | HINT: '), '');
END $$;

-- 100 points on a line: item i is at [i, 0]; metadata says whether i is
-- even and its tens
SELECT vectorpg.create_collection('s', 2, 'l2', text_config => 'english');
SELECT inserted FROM vectorpg.upsert('s',
	(SELECT array_agg(i::text ORDER BY i) FROM generate_series(1, 100) i),
	(SELECT array_agg(format('[%s,0]', i)::vector ORDER BY i) FROM generate_series(1, 100) i),
	(SELECT array_agg(jsonb_build_object('even', i % 2 = 0, 'tens', i / 10, 'tag', ARRAY['t' || (i % 3)]) ORDER BY i)
	 FROM generate_series(1, 100) i),
	(SELECT array_agg(CASE WHEN i % 10 = 0 THEN 'round number ' || i ELSE 'plain number' END ORDER BY i)
	 FROM generate_series(1, 100) i));

-- two queries, k = 3
SELECT query, rank, id, distance, score, metadata, vector, has_more, error
FROM vectorpg.search('s', ARRAY['[10,0]', '[50.4,0]']::vector[], k => 3);
-- paging: the second page of 3, and the last page
SELECT query, rank, id, has_more FROM vectorpg.search('s', ARRAY['[1,0]']::vector[], k => 3, page_offset => 3);
SELECT query, rank, id, has_more FROM vectorpg.search('s', ARRAY['[1,0]']::vector[], k => 3, page_offset => 97);
SELECT count(*) FROM vectorpg.search('s', ARRAY['[1,0]']::vector[], k => 3, page_offset => 100);
-- thresholds
SELECT query, rank, id, distance, has_more FROM vectorpg.search('s', ARRAY['[10,0]']::vector[], k => 10, max_distance => 2);
SELECT query, rank, id, score FROM vectorpg.search('s', ARRAY['[10,0]']::vector[], k => 10, min_score => 0.4);
-- a filter, and include_vectors
SELECT query, rank, id, vector, metadata FROM vectorpg.search('s', ARRAY['[10,0]']::vector[], k => 3,
	filter => '{"even": false, "tens": {"$gte": 1}}', include_vectors => true);
SELECT query, rank, id FROM vectorpg.search('s', ARRAY['[10,0]']::vector[], k => 3, filter => '{"tag": "t0"}');
SELECT query, rank, id FROM vectorpg.search('s', ARRAY['[10,0]']::vector[], k => 3, filter => '{"tens": 99}');

-- records form: each query its own k, offset and thresholds; by id
SELECT query, rank, id, distance, has_more, error FROM vectorpg.search('s',
	'[{"vector": [20, 0], "k": 2},
	  {"values": [20, 0], "k": 2, "offset": 2},
	  {"id": "70", "k": 3},
	  {"id": 71, "k": 1, "max_distance": 0.5},
	  {"vector": [5, 0], "k": 5, "min_score": 0.3}]'::jsonb);
SELECT query, rank, id, distance FROM vectorpg.search_by_id('s', ARRAY['5', '95'], k => 2);

-- non-atomic: failed queries are error rows, the others answer
SELECT query, rank, id, error FROM vectorpg.search('s',
	'[{"vector": [1, 0], "k": 1},
	  {"vector": [1, 2, 3]},
	  {"vector": [1, "NaN"]},
	  {"vector": [1e39, 0]},
	  {"vector": []},
	  {"id": "nope"},
	  {"vector": [1, 0], "id": "1"},
	  {},
	  {"vector": [1, 0], "k": 0},
	  {"vector": [1, 0], "k": 1.5},
	  {"vector": [1, 0], "k": 1001},
	  {"vector": [1, 0], "offset": -1},
	  {"vector": [1, 0], "max_distance": "x"},
	  {"vector": [1, 0], "bogus": 1},
	  "x",
	  {"id": "2", "k": 1}]'::jsonb, atomic => false);
SELECT query, rank, id, error FROM vectorpg.search('s', ARRAY['[1,0]', '[1,2,3]', NULL]::vector[], k => 1, atomic => false);

-- atomic: the first failed query's error
SELECT batch_err($$SELECT * FROM vectorpg.search('s', ARRAY['[1,0]', '[1,2,3]']::vector[])$$);
SELECT batch_err($$SELECT * FROM vectorpg.search('s', '[{"id": "nope"}]'::jsonb)$$);
SELECT batch_err($$SELECT * FROM vectorpg.search_by_id('s', ARRAY['1', 'nope'])$$);

-- call-level errors and limits: k, page_offset, ef_search at min-1/min/max/max+1
SELECT batch_err($$SELECT * FROM vectorpg.search('s', ARRAY['[1,0]']::vector[], k => 0)$$);
SELECT count(*) FROM vectorpg.search('s', ARRAY['[1,0]']::vector[], k => 1);
SELECT count(*) FROM vectorpg.search('s', ARRAY['[1,0]']::vector[], k => 1000);
SELECT batch_err($$SELECT * FROM vectorpg.search('s', ARRAY['[1,0]']::vector[], k => 1001)$$);
SELECT batch_err($$SELECT * FROM vectorpg.search('s', ARRAY['[1,0]']::vector[], k => NULL)$$);
SELECT batch_err($$SELECT * FROM vectorpg.search('s', ARRAY['[1,0]']::vector[], page_offset => -1)$$);
SELECT count(*) FROM vectorpg.search('s', ARRAY['[1,0]']::vector[], page_offset => 10000);
SELECT batch_err($$SELECT * FROM vectorpg.search('s', ARRAY['[1,0]']::vector[], page_offset => 10001)$$);
SELECT batch_err($$SELECT * FROM vectorpg.search('s', ARRAY['[1,0]']::vector[], ef_search => 0)$$);
SELECT count(*) FROM vectorpg.search('s', ARRAY['[1,0]']::vector[], ef_search => 1, k => 1);
SELECT count(*) FROM vectorpg.search('s', ARRAY['[1,0]']::vector[], ef_search => 1000);
SELECT batch_err($$SELECT * FROM vectorpg.search('s', ARRAY['[1,0]']::vector[], ef_search => 1001)$$);
SELECT batch_err($$SELECT * FROM vectorpg.search('s', ARRAY['[1,0]', '[2,0]']::vector[], batch_size_limit => 1)$$);
SELECT batch_err($$SELECT * FROM vectorpg.search('s', '{"vector": [1, 0]}'::jsonb)$$);
SELECT batch_err($$SELECT * FROM vectorpg.search('s', ARRAY['[1,0]']::vector[], filter => '{"x": {"$bad": 1}}')$$);
SELECT batch_err($$SELECT * FROM vectorpg.search('s', ARRAY['[1,0]']::vector[], include_vectors => NULL)$$);
SELECT batch_err($$SELECT * FROM vectorpg.search('s', '[1]')$$);

-- settings: the call raises ef_search and sets iterative scans under a
-- filter, and puts both back
SET hnsw.ef_search = 10;
SELECT count(*) FROM vectorpg.search('s', ARRAY['[1,0]']::vector[], k => 50, filter => '{"even": true}');
SHOW hnsw.ef_search;
SHOW hnsw.iterative_scan;
RESET hnsw.ef_search;

-- the plan: one nested loop over the queries, the hnsw index inside
CREATE FUNCTION show_plan() RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
	l text;
BEGIN
	SET LOCAL enable_seqscan = off;
	FOR l IN EXPLAIN (COSTS OFF)
		SELECT q.n, h.id FROM unnest(ARRAY['[1,0]', '[2,0]']::vector[]) WITH ORDINALITY q(v, n)
		CROSS JOIN LATERAL (SELECT t.id FROM s t ORDER BY t.embedding <-> q.v LIMIT 3) h
	LOOP
		RETURN NEXT l;
	END LOOP;
END $$;
SELECT * FROM show_plan();
DROP FUNCTION show_plan();

-- multi-query retrieval: merged, de-duplicated, reranked, final k
SELECT rank, id, score, distance, hits FROM vectorpg.multi_search('s', ARRAY['[10,0]', '[12,0]']::vector[], k => 4, candidates => 3);
SELECT rank, id, score, distance, hits FROM vectorpg.multi_search('s', ARRAY['[10,0]', '[12,0]']::vector[], k => 4,
	candidates => 3, fusion => 'max_score');
SELECT rank, id, distance, hits, vector FROM vectorpg.multi_search('s', ARRAY['[10,0]', '[30,0]']::vector[], k => 3,
	candidates => 3, rerank_vector => '[29,0]', include_vectors => true);
SELECT rank, id FROM vectorpg.multi_search('s', ARRAY['[10,0]', '[30,0]']::vector[], k => 2, filter => '{"even": true}');
SELECT batch_err($$SELECT * FROM vectorpg.multi_search('s', ARRAY['[10,0]']::vector[], fusion => 'sum')$$);
SELECT batch_err($$SELECT * FROM vectorpg.multi_search('s', ARRAY['[10,0]']::vector[], rerank_vector => '[1,2,3]')$$);
SELECT batch_err($$SELECT * FROM vectorpg.multi_search('s', ARRAY['[10,0]']::vector[], candidates => 0)$$);
SELECT batch_err($$SELECT * FROM vectorpg.multi_search('s', ARRAY['[10,0]']::vector[], rrf_k => -1)$$);

-- fusion over ranked lists: rrf (k at min and default) and weighted
SELECT * FROM vectorpg.fuse('[["a", "b", "c"], ["c", "a", "d"]]');
SELECT * FROM vectorpg.fuse('[["a", "b", "c"], ["c", "a", "d"]]', k => 0);
SELECT * FROM vectorpg.fuse('[["a", "b", "a"], [1, 2]]', weights => ARRAY[2, 1]);
SELECT * FROM vectorpg.fuse('[[{"id": "a", "score": 0.9}, {"id": "b", "score": 0.5}, {"id": "c", "score": 0.1}],
                              [{"id": "c", "score": 10}, {"id": "a", "score": 5}]]', 'weighted', weights => ARRAY[0.7, 0.3]);
SELECT * FROM vectorpg.fuse('[[], []]');
SELECT batch_err($$SELECT * FROM vectorpg.fuse('{"a": 1}')$$);
SELECT batch_err($$SELECT * FROM vectorpg.fuse('[["a"], "b"]')$$);
SELECT batch_err($$SELECT * FROM vectorpg.fuse('[["a"]]', 'borda')$$);
SELECT batch_err($$SELECT * FROM vectorpg.fuse('[["a"]]', weights => ARRAY[1, 2])$$);
SELECT batch_err($$SELECT * FROM vectorpg.fuse('[["a"]]', 'weighted')$$);
SELECT batch_err($$SELECT * FROM vectorpg.fuse('[[{"x": 1}]]')$$);
SELECT batch_err($$SELECT * FROM vectorpg.fuse('[["a"]]', k => 100001)$$);

-- hybrid search: vector and full text fused
SELECT rank, id, vector_rank, text_rank, round(score::numeric, 6) AS score
FROM vectorpg.hybrid_search('s', '[47,0]', 'round', k => 5, candidates => 5);
SELECT rank, id, vector_rank, text_rank, round(score::numeric, 6) AS score
FROM vectorpg.hybrid_search('s', '[47,0]', 'round', k => 5, candidates => 5, fusion => 'weighted', vector_weight => 0.8);
SELECT rank, id, vector_rank, text_rank FROM vectorpg.hybrid_search('s', '[47,0]', 'round -"number 50"', k => 3,
	filter => '{"tens": {"$lt": 5}}', candidates => 5);
SELECT batch_err($$SELECT * FROM vectorpg.hybrid_search('s', '[1,0]', 'x', vector_weight => 1.5)$$);
SELECT batch_err($$SELECT * FROM vectorpg.hybrid_search('s', '[1,0]', NULL)$$);
SELECT batch_err($$SELECT * FROM vectorpg.hybrid_search('s', '[1,0]', 'x', fusion => 'max')$$);
SELECT vectorpg.create_collection('notext', 2);
SELECT batch_err($$SELECT * FROM vectorpg.hybrid_search('notext', '[1,0]', 'x')$$);

-- a registered table with a text column (not tsvector)
CREATE TABLE articles (id integer PRIMARY KEY, v vector(2), body text, meta jsonb);
INSERT INTO articles VALUES (1, '[1,0]', 'cats and dogs', '{}'), (2, '[0,1]', 'only dogs', '{}'), (3, '[1,1]', 'birds', '{}');
SELECT vectorpg.register_collection('articles', 'articles', vector_column => 'v', metadata_column => 'meta',
	text_column => 'body', text_config => 'english', metric => 'cosine');
SELECT rank, id, vector_rank, text_rank FROM vectorpg.hybrid_search('articles', '[1,0]', 'dog', k => 3);

-- fetch and count
SELECT * FROM vectorpg.fetch('s', ARRAY['3', '1', 'nope']);
SELECT * FROM vectorpg.fetch('articles', ARRAY['2']);
SELECT vectorpg.count('s'), vectorpg.count('s', '{"even": true}'), vectorpg.count('articles');

-- scores of each metric
SELECT m, vectorpg.score(m, 0.25) FROM unnest(ARRAY['cosine', 'ip', 'l2', 'l1']) m;
-- a null argument gives null, and the planner inlines the function (a
-- search computes it for every hit)
SELECT vectorpg.score(NULL, 0.25) IS NULL AS no_metric, vectorpg.score('l2', NULL) IS NULL AS no_distance;
EXPLAIN (VERBOSE, COSTS OFF) SELECT vectorpg.score('l2', d) FROM (VALUES (0.25::float8), (1)) v(d);

SELECT vectorpg.drop_collection('s');
SELECT vectorpg.drop_collection('notext');
SELECT vectorpg.drop_collection('articles', drop_table => true);
DROP FUNCTION batch_err(text);

-- a statement that fails for one query only (row-level security whose
-- policy raises on the row that query reaches first): non-atomic mode
-- retries query by query, each with a one-query slice of the arrays, also
-- when the arrays do not count from 1
CREATE TABLE sr (id text PRIMARY KEY, embedding vector(2), metadata jsonb NOT NULL DEFAULT '{}');
INSERT INTO sr VALUES ('a', '[1,0]'), ('b', '[0,1]'), ('boom', '[5,5]');
SELECT vectorpg.register_collection('sr', 'sr', 'id', 'embedding', 'metadata', 'l2');
CREATE INDEX ON sr USING hnsw (embedding vector_l2_ops);
CREATE FUNCTION sr_ok(id text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
	IF id = 'boom' THEN
		RAISE EXCEPTION 'boom row read' USING ERRCODE = 'data_exception';
	END IF;
	RETURN true;
END $$;
CREATE ROLE regress_searcher;
GRANT SELECT ON sr TO regress_searcher;
GRANT USAGE ON SCHEMA vectorpg TO regress_searcher;
GRANT SELECT ON vectorpg.collections TO regress_searcher;
ALTER TABLE sr ENABLE ROW LEVEL SECURITY;
CREATE POLICY sr_p ON sr USING (sr_ok(id));
SET enable_seqscan = off;
SET ROLE regress_searcher;
SELECT query, rank, id, error FROM vectorpg.search('sr', ARRAY['[1,0]', '[5,5]', '[0,1]']::vector[], k => 1, atomic => false);
SELECT query, rank, id, error FROM vectorpg.search('sr', '[3:5]={"[1,0]","[5,5]","[0,1]"}'::vector[], k => 1, atomic => false);
RESET ROLE;
RESET enable_seqscan;
SELECT vectorpg.drop_collection('sr', drop_table => true);
REVOKE ALL ON vectorpg.collections FROM regress_searcher;
REVOKE USAGE ON SCHEMA vectorpg FROM regress_searcher;
DROP ROLE regress_searcher;
DROP FUNCTION sr_ok(text);
