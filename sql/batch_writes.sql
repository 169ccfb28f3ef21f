-- Batch writes: upsert (arrays and records), update (merge and replace),
-- delete (ids and filter), atomic and non-atomic modes, every item error
-- code, batch_size_limit at min-1/min/max/max+1, chunked progress.

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

SELECT vectorpg.create_collection('w', 3, 'l2');

-- upsert, arrays form: inserted, then replaced (metadata replaced too)
SELECT inserted, updated, deleted, failed, errors, status
FROM vectorpg.upsert('w', ARRAY['a', 'b', 'c'], ARRAY['[1,0,0]', '[0,1,0]', '[0,0,1]']::vector[],
	ARRAY['{"g": "x", "n": 1}', '{"g": "y", "n": 2}', NULL]::jsonb[]);
SELECT inserted, updated, failed, status
FROM vectorpg.upsert('w', ARRAY['c', 'd'], ARRAY['[0,0,2]', '[1,1,1]']::vector[], ARRAY['{"g": "z"}', '{}']::jsonb[]);
SELECT * FROM w ORDER BY id;
SELECT processing_time_ms >= 0 AS timed FROM vectorpg.upsert('w', ARRAY['e'], ARRAY['[2,2,2]']::vector[]);

-- upsert, records form ("values" or "vector", numeric ids become text)
SELECT inserted, updated, failed, status
FROM vectorpg.upsert('w', '[{"id": "f", "values": [1, 2, 3], "metadata": {"g": "x"}},
                            {"id": 7, "vector": [3, 2, 1]}]'::jsonb);
SELECT * FROM w WHERE id IN ('f', '7') ORDER BY id;

-- every item error, non-atomic: the valid items are applied
SELECT inserted, updated, failed, status, jsonb_pretty(errors)
FROM vectorpg.upsert('w', '[{"id": "g1", "values": [1, 2]},
                            {"id": "g2", "values": [1, "NaN", 3]},
                            {"id": "g3", "values": [1, "Infinity", 3]},
                            {"id": "g4", "values": [1e39, 0, 0]},
                            {"id": "g5", "values": [1, 2, 3], "metadata": [1, 2]},
                            {"id": "g6", "values": [1, 2, 3], "metadata": "text"},
                            {"id": "g7", "values": [1, 2, 3]},
                            {"id": "g7", "values": [3, 2, 1]},
                            {"values": [1, 2, 3]},
                            {"id": null, "values": [1, 2, 3]},
                            {"id": "g8"},
                            {"id": "g9", "values": "[1,2,3]"},
                            {"id": "g10", "values": [1, "x", 3]},
                            {"id": "g11", "values": []},
                            {"id": {"a": 1}, "values": [1, 2, 3]},
                            {"id": "g12", "values": [1, 2, 3], "extra": 1},
                            [1, 2, 3],
                            {"id": "g13", "values": [1, 1e-50, 3]},
                            {"id": "g14", "values": [1, 2, 3], "metadata": null}]'::jsonb, atomic => false);
SELECT id, embedding FROM w WHERE id LIKE 'g%' ORDER BY id;
SELECT inserted, failed, status, errors
FROM vectorpg.upsert('w', ARRAY['h1', NULL, 'h2', 'h1'], ARRAY['[1,2,3]', '[1,2,3]', NULL, '[1,2,3,4]']::vector[],
	atomic => false);

-- atomic (the default): the first bad item's SQLSTATE, nothing applied
SELECT count(*) AS before FROM w;
SELECT batch_err($$SELECT * FROM vectorpg.upsert('w', ARRAY['i1', 'i2'], ARRAY['[1,2,3]', '[1,2]']::vector[])$$);
SELECT batch_err($$SELECT * FROM vectorpg.upsert('w', '[{"id": "i1", "values": [1,2,3]}, {"id": "i2", "values": [1,"NaN",3]}]'::jsonb)$$);
SELECT batch_err($$SELECT * FROM vectorpg.upsert('w', ARRAY['i1', 'i1'], ARRAY['[1,2,3]', '[1,2,3]']::vector[])$$);
SELECT batch_err($$SELECT * FROM vectorpg.upsert('w', ARRAY['i1'], ARRAY['[1,2,3]']::vector[], ARRAY['[]']::jsonb[])$$);
SELECT batch_err($$SELECT * FROM vectorpg.upsert('w', ARRAY[NULL], ARRAY['[1,2,3]']::vector[])$$);
SELECT count(*) AS after FROM w;

-- call-level errors
SELECT batch_err($$SELECT * FROM vectorpg.upsert('w', ARRAY['a', 'b'], ARRAY['[1,2,3]']::vector[])$$);
SELECT batch_err($$SELECT * FROM vectorpg.upsert('w', ARRAY['a'], ARRAY['[1,2,3]']::vector[], ARRAY['{}', '{}']::jsonb[])$$);
SELECT batch_err($$SELECT * FROM vectorpg.upsert('w', ARRAY['a'], ARRAY['[1,2,3]']::vector[], texts => ARRAY['x'])$$);
SELECT batch_err($$SELECT * FROM vectorpg.upsert('w', '{"id": "a"}'::jsonb)$$);
SELECT batch_err($$SELECT * FROM vectorpg.upsert('w', ARRAY['a'], ARRAY['[1,2,3]']::vector[], atomic => NULL)$$);
SELECT batch_err($$SELECT * FROM vectorpg.upsert('w', '[]')$$);
SELECT inserted, updated, failed, errors, status FROM vectorpg.upsert('w', '[]'::jsonb);
SELECT inserted, updated, failed, errors, status FROM vectorpg.upsert('w', '{}'::text[], '{}'::vector[]);

-- batch_size_limit: min-1, min, max, max+1, and a batch above the limit
SELECT batch_err($$SELECT * FROM vectorpg.upsert('w', ARRAY['a'], ARRAY['[1,0,0]']::vector[], batch_size_limit => 0)$$);
SELECT status FROM vectorpg.upsert('w', ARRAY['a'], ARRAY['[1,0,0]']::vector[], batch_size_limit => 1);
SELECT status FROM vectorpg.upsert('w', ARRAY['a'], ARRAY['[1,0,0]']::vector[], batch_size_limit => 100000);
SELECT batch_err($$SELECT * FROM vectorpg.upsert('w', ARRAY['a'], ARRAY['[1,0,0]']::vector[], batch_size_limit => 100001)$$);
SELECT batch_err($$SELECT * FROM vectorpg.upsert('w', ARRAY['a', 'b'], ARRAY['[1,0,0]', '[0,1,0]']::vector[], batch_size_limit => 1)$$);
SELECT batch_err($$SELECT * FROM vectorpg.upsert('w', '[{"id": "a", "values": [1,0,0]}, {"id": "b", "values": [1,0,0]}]'::jsonb, batch_size_limit => 1)$$);
SELECT batch_err($$SELECT * FROM vectorpg.update('w', ARRAY['a', 'b'], batch_size_limit => 1)$$);
SELECT batch_err($$SELECT * FROM vectorpg.delete('w', ARRAY['a', 'b'], batch_size_limit => 1)$$);

-- update: merge (a null patch value removes the key) or replace metadata,
-- vectors by id; unknown ids are P0002
SELECT updated, failed, status
FROM vectorpg.update('w', ARRAY['a', 'b'], metadata => ARRAY['{"n": null, "new": true}', '{"g": "yy"}']::jsonb[]);
SELECT id, metadata FROM w WHERE id IN ('a', 'b') ORDER BY id;
SELECT updated, failed, status
FROM vectorpg.update('w', ARRAY['a'], metadata => ARRAY['{"only": 1}']::jsonb[], merge_metadata => false);
SELECT updated, status FROM vectorpg.update('w', ARRAY['b'], vectors => ARRAY['[9,9,9]']::vector[]);
SELECT id, embedding, metadata FROM w WHERE id IN ('a', 'b') ORDER BY id;
SELECT updated, failed, status, errors
FROM vectorpg.update('w', '[{"id": "a", "metadata": {"x": 1}}, {"id": "nope", "metadata": {}},
                            {"id": "b", "values": [1, 2]}, {"id": "c"}, {"id": "a", "metadata": {}},
                            {"id": "d", "values": [4, 4, 4], "metadata": 5}]'::jsonb, atomic => false);
SELECT id, embedding, metadata FROM w WHERE id IN ('a', 'd') ORDER BY id;
SELECT batch_err($$SELECT * FROM vectorpg.update('w', ARRAY['a', 'nope'], metadata => ARRAY['{"y": 2}', '{}']::jsonb[])$$);
SELECT metadata FROM w WHERE id = 'a';
SELECT batch_err($$SELECT * FROM vectorpg.update('w', ARRAY['a'], merge_metadata => NULL, metadata => ARRAY['{}']::jsonb[])$$);

-- a batch mixing unchanged vectors (updated without naming the vector
-- column, so the index keeps their elements), changed ones and none: each
-- item updated once, with its vector and metadata
SELECT id, embedding, metadata FROM w WHERE id IN ('a', 'b', 'd') ORDER BY id;
SELECT updated, failed, status
FROM vectorpg.update('w', ARRAY['a', 'b', 'd'], vectors => (SELECT ARRAY[(SELECT embedding FROM w WHERE id = 'a'), '[7,7,7]', NULL]),
                     metadata => ARRAY['{"same": true}', '{"changed": true}', '{"none": true}']::jsonb[]);
SELECT id, embedding, metadata FROM w WHERE id IN ('a', 'b', 'd') ORDER BY id;
SET enable_seqscan = off;
SELECT id FROM w ORDER BY embedding <-> '[7,7,7]' LIMIT 1;
SELECT id FROM w ORDER BY embedding <-> (SELECT embedding FROM w WHERE id = 'a') LIMIT 1;
RESET enable_seqscan;
SELECT count(*) AS problems FROM hnsw_index_check('w_embedding_idx', true);

-- delete by ids: unknown ids are no error, null ids are
SELECT deleted, failed, status, errors FROM vectorpg.delete('w', ARRAY['e', 'e', 'nope', NULL], atomic => false);
SELECT batch_err($$SELECT * FROM vectorpg.delete('w', ARRAY['a', NULL])$$);
SELECT deleted, status FROM vectorpg.delete('w', '{}');

-- delete by filter, with its limit
SELECT vectorpg.count('w', '{"g": "x"}');
SELECT deleted, status FROM vectorpg.delete_where('w', '{"g": "x"}');
SELECT vectorpg.count('w', '{"g": "x"}');
SELECT batch_err($$SELECT * FROM vectorpg.delete_where('w', '{}')$$);
SELECT batch_err($$SELECT * FROM vectorpg.delete_where('w', NULL)$$);
SELECT batch_err($$SELECT * FROM vectorpg.delete_where('w', '{"n": {"$exists": false}}', batch_size_limit => 1)$$);
SELECT batch_err($$SELECT * FROM vectorpg.delete_where('w', '{"g": {"$foo": 1}}')$$);

-- ids of another type: bigint ids, and ids the type rejects
SELECT vectorpg.create_collection('wb', 2, 'cosine', id_type => 'bigint');
SELECT inserted, failed, status, errors
FROM vectorpg.upsert('wb', ARRAY['1', 'x', '2', '99999999999999999999'], ARRAY['[1,0]', '[0,1]', '[1,1]', '[1,2]']::vector[], atomic => false);
SELECT batch_err($$SELECT * FROM vectorpg.upsert('wb', ARRAY['3', 'y'], ARRAY['[1,0]', '[0,1]']::vector[])$$);
SELECT updated, failed, errors FROM vectorpg.update('wb', ARRAY['1', 'z'], vectors => ARRAY['[2,2]', '[1,1]']::vector[], atomic => false);
SELECT deleted, failed, errors FROM vectorpg.delete('wb', ARRAY['2', 'q'], atomic => false);
-- an ids array that starts at 0: its error rows count positions from 1
SELECT deleted, failed, errors FROM vectorpg.delete('wb', '[0:2]={7,r,8}'::text[], atomic => false);
SELECT * FROM wb ORDER BY id;

-- a registered table with its own constraint: the unforeseen failure sends
-- the non-atomic batch down the item-by-item path, and only that item fails
CREATE TABLE checked (id text PRIMARY KEY, v vector(2) NOT NULL, meta jsonb,
	CHECK (meta ->> 'ok' IS DISTINCT FROM 'no'));
SELECT vectorpg.register_collection('checked', 'checked', vector_column => 'v', metadata_column => 'meta', metric => 'l2');
SELECT inserted, updated, failed, status, errors
FROM vectorpg.upsert('checked', ARRAY['p', 'q', 'r'], ARRAY['[1,0]', '[0,1]', '[1,1]']::vector[],
	ARRAY['{"ok": "yes"}', '{"ok": "no"}', '{}']::jsonb[], atomic => false);
SELECT updated, failed, status, errors
FROM vectorpg.update('checked', ARRAY['p', 'r'], metadata => ARRAY['{"ok": "no"}', '{"z": 1}']::jsonb[], atomic => false);
SELECT * FROM checked ORDER BY id;
SELECT batch_err($$SELECT * FROM vectorpg.upsert('checked', ARRAY['s'], ARRAY['[1,0]']::vector[], ARRAY['{"ok": "no"}']::jsonb[])$$);

-- texts: written to the text column and searchable
SELECT vectorpg.create_collection('wt', 2, 'l2', text_config => 'english');
SELECT inserted, status FROM vectorpg.upsert('wt', ARRAY['t1', 't2'], ARRAY['[1,0]', '[0,1]']::vector[],
	texts => ARRAY['Running foxes', 'sleeping dogs']);
SELECT updated, status FROM vectorpg.update('wt', '[{"id": "t2", "text": "jumping dogs"}]'::jsonb);
SELECT id, content, content_tsv FROM wt ORDER BY id;

-- a collection without a metadata column
CREATE TABLE plain (id text PRIMARY KEY, v vector(2));
SELECT vectorpg.register_collection('plain', 'plain', vector_column => 'v', metadata_column => NULL);
SELECT inserted, status FROM vectorpg.upsert('plain', ARRAY['a'], ARRAY['[1,2]']::vector[]);
SELECT batch_err($$SELECT * FROM vectorpg.upsert('plain', ARRAY['a'], ARRAY['[1,2]']::vector[], ARRAY['{}']::jsonb[])$$);
SELECT batch_err($$SELECT * FROM vectorpg.delete_where('plain', '{"a": 1}')$$);

-- the metadata merge on its own
SELECT vectorpg.merge_metadata('{"a": 1, "b": 2}', '{"b": null, "c": 3}'),
       vectorpg.merge_metadata(NULL, '{"c": 3}'), vectorpg.merge_metadata('{"a": 1}', NULL);
-- only top-level nulls remove keys; nested ones are values like any other
SELECT vectorpg.merge_metadata('{"a": 1, "b": {"c": 1}}', '{"a": null, "b": {"c": null}, "d": [null], "e": null}'),
       vectorpg.merge_metadata(NULL, NULL), vectorpg.merge_metadata('{"a": 1}', '{}');
SELECT vectorpg.merge_metadata('{"a": 1}', '[{"b": 2}]');
SELECT vectorpg.merge_metadata('{"a": 1}', '"b"');

-- a batch longer than progress_chunk is written chunk by chunk with a
-- NOTICE after each
SELECT inserted, status FROM vectorpg.upsert('w',
	(SELECT array_agg('big' || i) FROM generate_series(1, 20001) i),
	(SELECT array_agg('[1,2,3]'::vector) FROM generate_series(1, 20001) i),
	batch_size_limit => 100000);
SELECT deleted FROM vectorpg.delete('w', (SELECT array_agg('big' || i) FROM generate_series(1, 20001) i),
	batch_size_limit => 100000);

-- load: chunk by chunk, a commit after each; positions count from the
-- start of the records; a duplicate in a later chunk replaces the earlier one
SELECT vectorpg.create_collection('ld', 2, 'l2');
DO $$
DECLARE
	r vectorpg.batch_result;
BEGIN
	CALL vectorpg.load('ld', '[{"id": "a", "values": [1, 2]}, {"id": "b", "values": [1]}, {"id": "c", "values": [3, 4]},
	                           {"id": "d", "values": [5, 6]}, {"id": "d", "values": [7, 8]}]', 2, r);
	RAISE NOTICE 'inserted %, updated %, failed %, status %, errors %', r.inserted, r.updated, r.failed, r.status, r.errors;
	CALL vectorpg.load('ld', '[]', result => r);
	RAISE NOTICE 'inserted %, status %, errors %', r.inserted, r.status, r.errors;
END $$;
SELECT id, embedding FROM ld ORDER BY id;
SELECT batch_err($$CALL vectorpg.load('ld', '{}')$$);
SELECT batch_err($$CALL vectorpg.load('ld', '[]', 0)$$);
SELECT batch_err($$CALL vectorpg.load('nope', '[]')$$);
\set SHOW_CONTEXT never
BEGIN;
CALL vectorpg.load('ld', '[{"id": "e", "values": [1, 2]}]');
ROLLBACK;
\set SHOW_CONTEXT errors

SELECT vectorpg.drop_collection(name) FROM vectorpg.list_collections() ORDER BY name;
DROP TABLE checked, plain;
DROP FUNCTION batch_err(text);
