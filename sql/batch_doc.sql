-- The examples of doc/batch.md, exactly and in order (test/t/030_batch_atomic.pl
-- checks that they match): the page's examples are run here.
\set SHOW_CONTEXT never

SELECT vectorpg.create_collection('docs', 3, metric => 'cosine', text_config => 'english');

CREATE TABLE products (sku bigint PRIMARY KEY, emb vector(3), attrs jsonb, title text);
CREATE INDEX ON products USING hnsw (emb vector_l2_ops);
SELECT vectorpg.register_collection('products', 'products', id_column => 'sku',
       vector_column => 'emb', metadata_column => 'attrs', text_column => 'title');
SELECT name, kind, relation, dimension, metric FROM vectorpg.list_collections();

SELECT name, dimension, metric, vector_count, vector_index, last_vacuum
FROM vectorpg.describe_collection('docs');
SELECT check_name, status, detail FROM vectorpg.collection_health('products');

SELECT inserted, updated, failed, status
FROM vectorpg.upsert('docs', ARRAY['a', 'b', 'c'],
       ARRAY['[1,0,0]', '[0,1,0]', '[0,0,1]']::vector[],
       ARRAY['{"genre": "drama", "year": 2001}', '{"genre": "comedy", "year": 2010}',
             '{"genre": ["drama", "comedy"], "year": 1999}']::jsonb[],
       texts => ARRAY['a quiet drama', 'a loud comedy', 'drama and comedy at once']);

SELECT inserted, updated, status
FROM vectorpg.upsert('docs', '[{"id": "d", "values": [1, 1, 0], "metadata": {"genre": "news"}},
                               {"id": "a", "values": [1, 0.1, 0], "metadata": {"genre": "drama", "year": 2002}}]'::jsonb);

SELECT inserted, failed, status, jsonb_pretty(errors) AS errors
FROM vectorpg.upsert('docs', '[{"id": "e", "values": [1, 2]},
                               {"id": "f", "values": [1, "NaN", 3]},
                               {"id": "g", "values": [1, 2, 3], "metadata": ["not", "an", "object"]},
                               {"id": "h", "values": [0, 1, 1]},
                               {"id": "h", "values": [1, 1, 1]}]'::jsonb, atomic => false);

SELECT updated, failed, status, errors
FROM vectorpg.update('docs', ARRAY['b', 'zz'],
       metadata => ARRAY['{"year": null, "rating": 4}', '{}']::jsonb[], atomic => false);
SELECT updated FROM vectorpg.update('docs', '[{"id": "c", "values": [0, 0.5, 1]}]'::jsonb);
SELECT id, embedding, metadata FROM docs WHERE id IN ('b', 'c') ORDER BY id;

SELECT deleted, status FROM vectorpg.delete('docs', ARRAY['h', 'nope']);
SELECT deleted FROM vectorpg.delete_where('docs', '{"genre": "news"}');

SELECT query, rank, id, round(distance::numeric, 4) AS distance, has_more
FROM vectorpg.search('docs', ARRAY['[1,0,0]', '[0,1,0]']::vector[], k => 2);

SELECT query, rank, id, has_more
FROM vectorpg.search('docs', ARRAY['[1,0,0]']::vector[], k => 1, page_offset => 1);
SELECT query, rank, id, metadata
FROM vectorpg.search('docs', ARRAY['[1,0,0]']::vector[], k => 5, filter => '{"genre": "drama"}');

SELECT query, rank, id, error
FROM vectorpg.search('docs', '[{"vector": [0, 0, 1], "k": 1},
                               {"id": "b", "k": 2, "max_distance": 0.5},
                               {"vector": [1, 2]},
                               {"id": "nope"}]'::jsonb, atomic => false);

SELECT vectorpg.count('docs', '{"genre": "drama"}') AS drama,
       vectorpg.count('docs', '{"genre": {"$ne": "drama"}}') AS not_drama,
       vectorpg.count('docs', '{"year": {"$gte": 2000}}') AS recent,
       vectorpg.count('docs', '{"rating": {"$exists": true}}') AS rated;
SELECT vectorpg.filter_sql('{"genre": {"$in": ["drama", "news"]}, "year": {"$lt": 2005}}');
SELECT vectorpg.filter_sql('{"year": {"$after": 2000}}');

SELECT rank, id, round(score::numeric, 4) AS score, hits
FROM vectorpg.multi_search('docs', ARRAY['[1,0,0]', '[0,1,0]']::vector[], k => 3, candidates => 2);

SELECT rank, id, vector_rank, text_rank, round(score::numeric, 5) AS score
FROM vectorpg.hybrid_search('docs', '[0,1,0]', 'drama', k => 3);

SELECT * FROM vectorpg.fuse('[["a", "b", "c"], ["c", "a", "d"]]');
SELECT * FROM vectorpg.fuse('[[{"id": "a", "score": 0.9}, {"id": "b", "score": 0.1}],
                              [{"id": "b", "score": 12}, {"id": "c", "score": 3}]]',
                            'weighted', weights => ARRAY[0.5, 0.5]);

SELECT * FROM vectorpg.limits() ORDER BY name;

SELECT * FROM vectorpg.upsert('docs', ARRAY['x', 'y'], ARRAY['[1,0,0]', '[0,1,0]']::vector[],
                              batch_size_limit => 1);

SELECT vectorpg.drop_collection('docs');
SELECT vectorpg.drop_collection('products');
DROP TABLE products;

