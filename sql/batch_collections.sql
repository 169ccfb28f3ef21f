-- Collections: create, register, list, describe, health, drop, and every
-- error of these functions with its SQLSTATE (batch_err prints the SQLSTATE,
-- message, detail and hint of a statement's error).

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

-- the tunables, and the catalog is extension configuration
SELECT * FROM vectorpg.limits() ORDER BY name;
SELECT extconfig::regclass[] FROM pg_extension WHERE extname = 'vectorpg';

-- create: table, hnsw index with the metric's opclass, GIN on metadata
SELECT vectorpg.create_collection('docs', 3);
SELECT vectorpg.create_collection('l2items', 4, 'l2', id_type => 'bigint', m => 8, ef_construction => 32);
SELECT vectorpg.create_collection('texts', 2, 'ip', text_config => 'english');
SELECT vectorpg.create_collection('noindex', 2, 'l1', with_index => false);
SELECT vectorpg.create_collection('nogin', 2, 'l2', metadata_index => false);
SELECT indexrelid::regclass FROM pg_index WHERE indrelid = 'nogin'::regclass ORDER BY 1::text;
SELECT check_name, status FROM vectorpg.collection_health('nogin') WHERE check_name = 'filter_index';
SELECT vectorpg.drop_collection('nogin');
CREATE SCHEMA other;
SELECT vectorpg.create_collection('elsewhere', 2, 'cosine', schema => 'other');
SELECT indexrelid::regclass, pg_get_indexdef(indexrelid) FROM pg_index
WHERE indrelid IN ('docs'::regclass, 'l2items'::regclass, 'texts'::regclass, 'noindex'::regclass)
ORDER BY 1::text;
\d texts
SELECT name, kind, relation, dimension, metric, owns_table FROM vectorpg.list_collections();

-- register an existing table; the metric comes from its hnsw index
CREATE TABLE products (sku bigint PRIMARY KEY, emb vector(3), attrs jsonb, title text);
CREATE INDEX ON products USING hnsw (emb vector_ip_ops);
SELECT vectorpg.register_collection('products', 'products', id_column => 'sku', vector_column => 'emb',
	metadata_column => 'attrs', text_column => 'title', text_config => 'english');
CREATE TABLE bare (id integer PRIMARY KEY, v vector(2));
SELECT vectorpg.register_collection('bare', 'bare', vector_column => 'v', metadata_column => NULL);
SELECT name, relation, id_column, vector_column, metadata_column, text_column, text_config, dimension, metric, owns_table, options
FROM vectorpg.collections ORDER BY name;

-- describe
SELECT name, kind, relation, dimension, metric, vector_count, vector_index, index_size > 0 AS has_index_size,
       table_size > 0 AS has_size, dead_rows
FROM vectorpg.describe_collection('docs');
SELECT name, vector_index, index_size FROM vectorpg.describe_collection('noindex');

-- health: every check of a sound collection, and the warnings of others
SELECT * FROM vectorpg.collection_health('docs', deep => true);
SELECT * FROM vectorpg.collection_health('bare');
SELECT * FROM vectorpg.collection_health('noindex');
-- an index too sparse to find its own elements (m 2, ef_construction 4:
-- searches miss most of them) gets the findability warning
SELECT setseed(0.5);
CREATE TABLE sparse_graph (id text PRIMARY KEY, embedding vector(8), metadata jsonb);
INSERT INTO sparse_graph SELECT 's' || i, (SELECT array_agg(random())::vector FROM generate_series(1, 8) WHERE i > 0), '{}'
FROM generate_series(1, 600) i;
CREATE INDEX ON sparse_graph USING hnsw (embedding vector_l2_ops) WITH (m = 2, ef_construction = 4);
SELECT vectorpg.register_collection('sparse_graph', 'sparse_graph', metric => 'l2');
SELECT check_name, status, detail ~ '^A search for its own vector missed \d+ of 600 sampled elements of public\.sparse_graph_embedding_idx: REINDEX' AS detail_ok
FROM vectorpg.collection_health('sparse_graph', deep => true) WHERE check_name = 'index_findability';
SELECT vectorpg.drop_collection('sparse_graph');
-- Inner product on vectors without negative components: every element is
-- reachable (the graph links by the inverted vectors' L2, not by inner
-- product, which left most of them unlinked), and findability is measured
-- in the distance the graph is linked by
SELECT setseed(0.5);
CREATE TABLE ip_graph (id text PRIMARY KEY, embedding vector(8), metadata jsonb);
INSERT INTO ip_graph SELECT 'p' || i, (SELECT array_agg(random())::vector FROM generate_series(1, 8) WHERE i > 0), '{}'
FROM generate_series(1, 600) i;
CREATE INDEX ON ip_graph USING hnsw (embedding vector_ip_ops);
SELECT vectorpg.register_collection('ip_graph', 'ip_graph', metric => 'ip');
SELECT check_name, status,
       CASE check_name WHEN 'index_reachability' THEN detail = 'Every element of public.ip_graph_embedding_idx is reachable by a search.'
                       ELSE detail ~ '^A search for its own vector missed \d of 600 sampled elements of public\.ip_graph_embedding_idx\.$' END AS detail_ok
FROM vectorpg.collection_health('ip_graph', deep => true) WHERE check_name IN ('index_reachability', 'index_findability');
SELECT vectorpg.drop_collection('ip_graph');
DROP TABLE ip_graph;
DROP TABLE sparse_graph;
DROP INDEX products_emb_idx;
ALTER TABLE products DROP COLUMN title;
SELECT * FROM vectorpg.collection_health('products');
SELECT count(*) AS checks FROM vectorpg.collection_health();

-- A registered table whose rows exceed toast_tuple_target with the vector
-- alone (made here without vectorpg_inline_storage, which would set the
-- target): its metadata goes to TOAST, and the health check says what to do
SET vectorpg.inline_storage = off;
CREATE TABLE wide_t (id text PRIMARY KEY, embedding vector(784), metadata jsonb);
RESET vectorpg.inline_storage;
SELECT vectorpg.register_collection('wide', 'wide_t');
SELECT status, detail FROM vectorpg.collection_health('wide') WHERE check_name = 'row_storage';
ALTER TABLE wide_t SET (toast_tuple_target = 5200);
SELECT status, detail FROM vectorpg.collection_health('wide') WHERE check_name = 'row_storage';
SELECT vectorpg.drop_collection('wide', drop_table => true);

-- errors of create and register
SELECT batch_err($$SELECT vectorpg.create_collection('docs', 3)$$);
SELECT batch_err($$SELECT vectorpg.create_collection('x', 0)$$);
SELECT batch_err($$SELECT vectorpg.create_collection('x', 16001)$$);
SELECT batch_err($$SELECT vectorpg.create_collection('x', 3, 'hamming')$$);
SELECT batch_err($$SELECT vectorpg.create_collection(NULL, 3)$$);
SELECT batch_err($$SELECT vectorpg.create_collection('x', 3, id_type => 'nosuchtype')$$);
SELECT batch_err($$SELECT vectorpg.create_collection('', 3)$$);
SELECT batch_err($$SELECT vectorpg.create_collection(repeat('x', 64), 3)$$);
SELECT batch_err($$SELECT vectorpg.register_collection('docs', 'products')$$);
SELECT batch_err($$SELECT vectorpg.register_collection('p2', 'products', id_column => 'nope')$$);
SELECT batch_err($$SELECT vectorpg.register_collection('p2', 'products', id_column => 'sku', vector_column => 'attrs')$$);
SELECT batch_err($$SELECT vectorpg.register_collection('p2', 'products', id_column => 'sku', vector_column => 'emb', metadata_column => 'emb')$$);
SELECT batch_err($$SELECT vectorpg.register_collection('p2', 'products', id_column => 'sku', vector_column => 'emb', metadata_column => 'nope')$$);
SELECT batch_err($$SELECT vectorpg.register_collection('p2', 'products', id_column => 'sku', vector_column => 'emb', metadata_column => 'attrs', text_column => 'sku')$$);
SELECT batch_err($$SELECT vectorpg.register_collection('p2', 'products', id_column => 'sku', vector_column => 'emb', metadata_column => 'attrs', text_column => 'nope')$$);
SELECT batch_err($$SELECT vectorpg.register_collection('p2', 'products', id_column => 'sku', vector_column => 'emb', metadata_column => 'attrs', metric => 'dot')$$);
CREATE TABLE nounique (id integer, v vector(2));
SELECT batch_err($$SELECT vectorpg.register_collection('p2', 'nounique', vector_column => 'v', metadata_column => NULL)$$);
CREATE TABLE nodim (id integer PRIMARY KEY, v vector);
SELECT batch_err($$SELECT vectorpg.register_collection('p2', 'nodim', vector_column => 'v', metadata_column => NULL)$$);
CREATE VIEW aview AS SELECT * FROM bare;
SELECT batch_err($$SELECT vectorpg.register_collection('p2', 'aview', vector_column => 'v', metadata_column => NULL)$$);
SELECT batch_err($$SELECT vectorpg.register_collection('p2', NULL)$$);

-- errors naming a collection
SELECT batch_err($$SELECT * FROM vectorpg.describe_collection('nope')$$);
SELECT batch_err($$SELECT * FROM vectorpg.collection_health('nope')$$);
SELECT batch_err($$SELECT vectorpg.drop_collection('nope')$$);
SELECT batch_err($$SELECT * FROM vectorpg.upsert('nope', '[]'::jsonb)$$);

-- drop: a created collection takes its table along, a registered one not
-- (unless asked); dropping a table forgets its collection
SELECT vectorpg.drop_collection('noindex');
SELECT to_regclass('noindex') AS noindex_table;
SELECT vectorpg.drop_collection('bare');
SELECT to_regclass('bare') AS bare_table;
SELECT vectorpg.register_collection('bare', 'bare', vector_column => 'v', metadata_column => NULL);
DROP VIEW aview;
SELECT vectorpg.drop_collection('bare', drop_table => true);
SELECT to_regclass('bare') AS bare_table;
SELECT vectorpg.drop_collection('elsewhere', drop_table => false);
SELECT to_regclass('other.elsewhere') AS elsewhere_table;
DROP TABLE products;
SELECT name FROM vectorpg.list_collections();

-- a collection whose table is gone reports it (the drop trigger normally
-- removes such rows; a superuser can still leave one behind)
INSERT INTO vectorpg.collections (name, relation, id_column, vector_column, dimension, metric, owns_table)
VALUES ('ghost', 4294967295, 'id', 'v', 2, 'l2', false);
SELECT * FROM vectorpg.collection_health('ghost');
SELECT batch_err($$SELECT * FROM vectorpg.describe_collection('ghost')$$);
DELETE FROM vectorpg.collections WHERE name = 'ghost';

-- hybrid_search refuses a remote collection without allow_full_scan; collection_health checks one
-- (this catalog row names a local table, so the remote check fails) (doc/batch.md)
INSERT INTO vectorpg.collections (name, kind, relation, id_column, vector_column, dimension, metric, owns_table)
VALUES ('far', 'remote', 'docs', 'id', 'embedding', 3, 'cosine', false);
SELECT batch_err($$SELECT * FROM vectorpg.hybrid_search('far', '[1,2,3]', 'text')$$);
SELECT * FROM vectorpg.collection_health('far');
DELETE FROM vectorpg.collections WHERE name = 'far';

SELECT vectorpg.drop_collection('docs');
SELECT vectorpg.drop_collection('l2items');
SELECT vectorpg.drop_collection('texts');
DROP SCHEMA other CASCADE;
DROP TABLE nounique, nodim;
DROP FUNCTION batch_err(text);
