-- The metadata filter language: compiled SQL, semantics on a small table
-- (lists, types, missing fields, $ne/$nin on missing fields), the indexes
-- that serve it, and every invalid filter with its SQLSTATE.

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

-- the compiled SQL of each operator
SELECT vectorpg.filter_sql('{"genre": "drama"}');
SELECT vectorpg.filter_sql('{"genre": {"$eq": "drama"}}', 'meta');
SELECT vectorpg.filter_sql('{"year": {"$gte": 2000, "$lt": 2010.5}}');
SELECT vectorpg.filter_sql('{"genre": {"$in": ["a", 1, true]}, "x": {"$nin": []}, "y": {"$in": []}}');
SELECT vectorpg.filter_sql('{"$or": [{"a": {"$exists": true}}, {"b": {"$ne": false}}, {"c": {"$exists": false}}]}');
SELECT vectorpg.filter_sql('{"$and": [{"a": 1}, {"$or": [{"b": 2}, {"c": 3}]}]}');
SELECT vectorpg.filter_sql('{"it''s": "a \"quoted\" value"}', 'Mixed Case');
SELECT vectorpg.filter_sql('{}'), vectorpg.filter_sql(NULL), vectorpg.filter_sql('null');

-- semantics on a table
CREATE TABLE f (id integer PRIMARY KEY, m jsonb);
INSERT INTO f VALUES
	(1, '{"genre": "drama", "year": 2001, "tags": ["a", "b"], "ok": true}'),
	(2, '{"genre": "comedy", "year": 2010.5, "tags": ["b"], "ok": false}'),
	(3, '{"genre": "drama", "year": "2001", "tags": []}'),
	(4, '{"year": 1999}'),
	(5, '{}'),
	(6, NULL),
	(7, '{"genre": null, "year": 2001.0, "tags": "a"}');
CREATE FUNCTION matching(filter jsonb) RETURNS integer[] LANGUAGE plpgsql AS $$
DECLARE
	r integer[];
BEGIN
	EXECUTE 'SELECT coalesce(array_agg(id ORDER BY id), ''{}'') FROM f WHERE ' || vectorpg.filter_sql(filter, 'm') INTO r;
	RETURN r;
END $$;
SELECT f AS filter, matching(f::jsonb) FROM unnest(ARRAY[
	'{"genre": "drama"}',
	'{"genre": {"$ne": "drama"}}',
	'{"year": 2001}',
	'{"year": "2001"}',
	'{"year": {"$gt": 2000}}',
	'{"year": {"$gte": 2001, "$lte": 2001}}',
	'{"year": {"$lt": 2001}}',
	'{"tags": "a"}',
	'{"tags": {"$in": ["a", "x"]}}',
	'{"tags": {"$nin": ["a"]}}',
	'{"$and": [{"tags": "a"}, {"tags": "b"}]}',
	'{"ok": true}',
	'{"ok": {"$ne": true}}',
	'{"genre": {"$exists": true}}',
	'{"genre": {"$exists": false}}',
	'{"genre": {"$in": []}}',
	'{"genre": {"$nin": []}}',
	'{"$or": [{"genre": "comedy"}, {"year": {"$lt": 2000}}]}',
	'{"genre": "drama", "year": {"$gt": 2000}}',
	'{}'
]) f;
-- filter_matches evaluates one value the same way
SELECT vectorpg.filter_matches('{"tags": ["a"]}', '{"tags": "a"}'),
       vectorpg.filter_matches(NULL, '{"x": {"$ne": 1}}'),
       vectorpg.filter_matches('{"x": 1}', '{"x": {"$nin": [1, 2]}}');

-- indexes: GIN (jsonb_path_ops) serves $eq and $in, an expression index on
-- vectorpg.jnum serves ranges
INSERT INTO f SELECT i, jsonb_build_object('genre', 'g' || (i % 50), 'year', 1900 + i % 120)
FROM generate_series(100, 5099) i;
CREATE INDEX f_m_gin ON f USING gin (m jsonb_path_ops);
CREATE INDEX f_year ON f ((vectorpg.jnum(m -> 'year')));
ANALYZE f;
CREATE FUNCTION show_plan(filter jsonb) RETURNS SETOF text LANGUAGE plpgsql AS $$
DECLARE
	l text;
BEGIN
	FOR l IN EXECUTE 'EXPLAIN (COSTS OFF) SELECT id FROM f WHERE ' || vectorpg.filter_sql(filter, 'm') LOOP
		RETURN NEXT l;
	END LOOP;
END $$;
SELECT * FROM show_plan('{"genre": "g7"}');
SELECT * FROM show_plan('{"genre": {"$in": ["g7", "g8"]}}');
SELECT * FROM show_plan('{"year": {"$gt": 2015}}');

-- invalid filters: 22023 naming the operator or field (54000 for limits)
SELECT f AS filter, batch_err(format('SELECT vectorpg.filter_sql(%L)', f)) FROM unnest(ARRAY[
	'[1]',
	'"x"',
	'{"$not": {"a": 1}}',
	'{"a": {"$regex": "x"}}',
	'{"a": {"b": 1}}',
	'{"a": {}}',
	'{"a": null}',
	'{"a": [1, 2]}',
	'{"a": {"$eq": [1]}}',
	'{"a": {"$eq": {"b": 1}}}',
	'{"a": {"$ne": null}}',
	'{"a": {"$gt": "x"}}',
	'{"a": {"$lte": true}}',
	'{"a": {"$in": "x"}}',
	'{"a": {"$in": [{"b": 1}]}}',
	'{"a": {"$nin": [[1]]}}',
	'{"a": {"$exists": 1}}',
	'{"$and": []}',
	'{"$or": {"a": 1}}',
	'{"$and": [1]}'
]) f;
SELECT batch_err(format('SELECT vectorpg.filter_sql(%L)',
	jsonb_build_object('a', jsonb_build_object('$in', (SELECT jsonb_agg(i) FROM generate_series(1, 10001) i)))));
SELECT length(vectorpg.filter_sql(jsonb_build_object('a', jsonb_build_object('$in', (SELECT jsonb_agg(i) FROM generate_series(1, 10000) i))))) > 0 AS max_values_ok;
-- nesting: 32 levels are fine, 33 are not
SELECT length(vectorpg.filter_sql((SELECT repeat('{"$and": [', 31) || '{"a": 1}' || repeat(']}', 31))::jsonb)) > 0 AS depth_32_ok;
SELECT batch_err(format('SELECT vectorpg.filter_sql(%L)', repeat('{"$and": [', 32) || '{"a": 1}' || repeat(']}', 32)));

DROP FUNCTION show_plan(jsonb);
DROP FUNCTION matching(jsonb);
DROP TABLE f;
DROP FUNCTION batch_err(text);
