-- remote options: the validator of vectorpg_fdw on every catalog.  Every
-- option accepted and refused, numeric options at min-1/min/max/max+1,
-- superuser-only options, secrets outside user mappings, URL checks, and
-- the errors with their SQLSTATEs.  No network: nothing here sends a
-- request.
\set VERBOSITY default
\set SHOW_CONTEXT never
\set ECHO all

-- A wrapper of our own with the validator, so this test does not depend on
-- the handler (sql/install/30_fdw.sql declares vectorpg_fdw the same way)
CREATE FOREIGN DATA WRAPPER test_fdw VALIDATOR vectorpg.fdw_validator;

-- wrapper options: there are none
CREATE FOREIGN DATA WRAPPER test_fdw2 VALIDATOR vectorpg.fdw_validator OPTIONS (url 'https://x.example.com');

-- server: provider is required and is pinecone or milvus
CREATE SERVER s0 FOREIGN DATA WRAPPER test_fdw;
CREATE SERVER s0 FOREIGN DATA WRAPPER test_fdw OPTIONS (provider 'qdrant');
CREATE SERVER pc FOREIGN DATA WRAPPER test_fdw OPTIONS (provider 'pinecone');
CREATE SERVER pc2 FOREIGN DATA WRAPPER test_fdw OPTIONS (provider 'PineCone', url 'https://api.pinecone.io',
	index_host 'docs-abc123.svc.aped-4627-b74a.pinecone.io');
-- milvus needs a url
CREATE SERVER mv0 FOREIGN DATA WRAPPER test_fdw OPTIONS (provider 'milvus');
CREATE SERVER mv FOREIGN DATA WRAPPER test_fdw OPTIONS (provider 'milvus', url 'https://milvus.example.com:19530',
	db_name 'default', load_collection 'true');
-- unknown and misplaced options
ALTER SERVER pc OPTIONS (ADD colour 'blue');
ALTER SERVER pc OPTIONS (ADD collection 'docs');
ALTER SERVER pc OPTIONS (ADD column_name 'x');
-- secrets only on user mappings
ALTER SERVER pc OPTIONS (ADD api_key 'sk-should-not-be-echoed');
ALTER SERVER mv OPTIONS (ADD token 'tok-should-not-be-echoed');
ALTER SERVER mv OPTIONS (ADD password 'pw-should-not-be-echoed');
-- booleans
ALTER SERVER mv OPTIONS (SET load_collection 'maybe');
ALTER SERVER mv OPTIONS (SET load_collection 'off');

-- URLs: https only, a host, no user information, query or fragment
ALTER SERVER pc OPTIONS (ADD url 'ftp://api.pinecone.io');
ALTER SERVER pc OPTIONS (ADD url 'api.pinecone.io');
ALTER SERVER pc OPTIONS (ADD url 'https://');
ALTER SERVER pc OPTIONS (ADD url 'https://user:pw@api.pinecone.io');
ALTER SERVER pc OPTIONS (ADD url 'https://api.pinecone.io/?a=b');
ALTER SERVER pc OPTIONS (ADD url 'https://api.pinecone.io:0');
ALTER SERVER pc OPTIONS (ADD url 'https://api.pinecone.io:65536');
ALTER SERVER pc OPTIONS (ADD url 'https://api.pinecone.io:443/');
ALTER SERVER pc OPTIONS (SET url 'https://[2001:db8::1]:8443');
-- plain http, loopback, private and link-local hosts need allow_insecure
ALTER SERVER pc OPTIONS (SET url 'http://api.pinecone.io');
ALTER SERVER pc OPTIONS (SET url 'https://127.0.0.1:8080');
ALTER SERVER pc OPTIONS (SET url 'https://localhost');
ALTER SERVER pc OPTIONS (SET url 'https://10.1.2.3');
ALTER SERVER pc OPTIONS (SET url 'https://172.16.0.1');
ALTER SERVER pc OPTIONS (SET url 'https://192.168.1.1');
ALTER SERVER pc OPTIONS (SET url 'https://169.254.169.254');
ALTER SERVER pc OPTIONS (SET url 'https://[::1]');
ALTER SERVER pc OPTIONS (SET url 'https://[fd00::1]');
ALTER SERVER pc OPTIONS (SET url 'https://[::ffff:127.0.0.1]');
ALTER SERVER pc OPTIONS (SET url 'https://2130706433');
ALTER SERVER pc OPTIONS (ADD index_host '127.0.0.1:5000');
ALTER SERVER pc OPTIONS (SET url 'http://127.0.0.1:8080', ADD allow_insecure 'true');
ALTER SERVER pc OPTIONS (ADD index_host 'http://127.0.0.1:5001');
-- allow_insecure off again: the loopback URL is refused
ALTER SERVER pc OPTIONS (SET allow_insecure 'false');
ALTER SERVER pc OPTIONS (DROP url, DROP index_host, DROP allow_insecure);

-- numeric options: min-1, min, max, max+1, junk
ALTER SERVER pc OPTIONS (ADD connect_timeout_ms '99');
ALTER SERVER pc OPTIONS (ADD connect_timeout_ms '100');
ALTER SERVER pc OPTIONS (SET connect_timeout_ms '60000');
ALTER SERVER pc OPTIONS (SET connect_timeout_ms '60001');
ALTER SERVER pc OPTIONS (SET connect_timeout_ms '5s');
ALTER SERVER pc OPTIONS (ADD timeout_ms '99');
ALTER SERVER pc OPTIONS (ADD timeout_ms '100');
ALTER SERVER pc OPTIONS (SET timeout_ms '600000');
ALTER SERVER pc OPTIONS (SET timeout_ms '600001');
ALTER SERVER pc OPTIONS (ADD low_speed_time_ms '999');
ALTER SERVER pc OPTIONS (ADD low_speed_time_ms '1000');
ALTER SERVER pc OPTIONS (SET low_speed_time_ms '600000');
ALTER SERVER pc OPTIONS (SET low_speed_time_ms '600001');
ALTER SERVER pc OPTIONS (ADD max_retries '-1');
ALTER SERVER pc OPTIONS (ADD max_retries '0');
ALTER SERVER pc OPTIONS (SET max_retries '10');
ALTER SERVER pc OPTIONS (SET max_retries '11');
ALTER SERVER pc OPTIONS (ADD retry_budget_ms '-1');
ALTER SERVER pc OPTIONS (ADD retry_budget_ms '0');
ALTER SERVER pc OPTIONS (SET retry_budget_ms '600000');
ALTER SERVER pc OPTIONS (SET retry_budget_ms '600001');
ALTER SERVER pc OPTIONS (ADD max_response_bytes '65535');
ALTER SERVER pc OPTIONS (ADD max_response_bytes '65536');
ALTER SERVER pc OPTIONS (SET max_response_bytes '1073741824');
ALTER SERVER pc OPTIONS (SET max_response_bytes '1073741825');
ALTER SERVER pc OPTIONS (SET max_response_bytes '99999999999999999999');
ALTER SERVER pc OPTIONS (ADD write_batch_size '0');
ALTER SERVER pc OPTIONS (ADD write_batch_size '1');
ALTER SERVER pc OPTIONS (SET write_batch_size '1000');
ALTER SERVER pc OPTIONS (SET write_batch_size '1001');
ALTER SERVER pc OPTIONS (ADD write_parallelism '0');
ALTER SERVER pc OPTIONS (ADD write_parallelism '1');
ALTER SERVER pc OPTIONS (SET write_parallelism '16');
ALTER SERVER pc OPTIONS (SET write_parallelism '17');
SELECT srvname, srvoptions FROM pg_foreign_server WHERE srvname IN ('pc', 'pc2', 'mv') ORDER BY 1;

-- user mappings: api_key (pinecone), token or user + password (milvus)
CREATE USER MAPPING FOR CURRENT_USER SERVER pc OPTIONS (api_key 'sk-test');
CREATE USER MAPPING FOR PUBLIC SERVER pc2 OPTIONS (api_key '');
CREATE USER MAPPING FOR PUBLIC SERVER pc2 OPTIONS (url 'https://x.example.com');
CREATE USER MAPPING FOR PUBLIC SERVER pc2 OPTIONS (key 'x');
CREATE USER MAPPING FOR CURRENT_USER SERVER mv OPTIONS (user 'root');
CREATE USER MAPPING FOR CURRENT_USER SERVER mv OPTIONS (password 'Milvus');
CREATE USER MAPPING FOR CURRENT_USER SERVER mv OPTIONS (token 'root:Milvus', user 'root', password 'Milvus');
CREATE USER MAPPING FOR CURRENT_USER SERVER mv OPTIONS (user 'root', password 'Milvus');
ALTER USER MAPPING FOR CURRENT_USER SERVER mv OPTIONS (DROP user, DROP password, ADD token 'tok');

-- foreign tables
CREATE FOREIGN TABLE ft (id text, score float8) SERVER pc
	OPTIONS (index 'docs', namespace 'news', metric 'cosine', dimension '768', allow_full_scan 'false');
CREATE FOREIGN TABLE ft_bad (id text) SERVER pc OPTIONS (url 'https://x.example.com');
CREATE FOREIGN TABLE ft_bad (id text) SERVER pc OPTIONS (api_key 'sk-nope');
CREATE FOREIGN TABLE ft_bad (id text) SERVER pc OPTIONS (nonsense 'x');
CREATE FOREIGN TABLE ft_bad (id text) SERVER pc OPTIONS (metric 'hamming');
CREATE FOREIGN TABLE ft_bad (id text) SERVER pc OPTIONS (index '');
CREATE FOREIGN TABLE ft_bad (id text) SERVER pc OPTIONS (dimension '0');
CREATE FOREIGN TABLE ft_d1 (id text) SERVER pc OPTIONS (dimension '1');
CREATE FOREIGN TABLE ft_d2 (id text) SERVER pc OPTIONS (dimension '16000');
CREATE FOREIGN TABLE ft_bad (id text) SERVER pc OPTIONS (dimension '16001');
CREATE FOREIGN TABLE ft_bad (id text) SERVER pc OPTIONS (allow_full_scan 'sometimes');
-- write options: also on the table (whose value wins over the server's)
CREATE FOREIGN TABLE ft_bad (id text) SERVER pc OPTIONS (write_batch_size '0');
CREATE FOREIGN TABLE ft_w1 (id text) SERVER pc OPTIONS (write_batch_size '1', write_parallelism '1');
CREATE FOREIGN TABLE ft_w2 (id text) SERVER pc OPTIONS (write_batch_size '1000', write_parallelism '16');
CREATE FOREIGN TABLE ft_bad (id text) SERVER pc OPTIONS (write_batch_size '1001');
CREATE FOREIGN TABLE ft_bad (id text) SERVER pc OPTIONS (write_parallelism '0');
CREATE FOREIGN TABLE ft_bad (id text) SERVER pc OPTIONS (write_parallelism '17');
CREATE FOREIGN TABLE ft_bad (id text) SERVER pc OPTIONS (write_parallelism 'four');
CREATE FOREIGN TABLE fm (id bigint, title text OPTIONS (column_name 'Title')) SERVER mv
	OPTIONS (collection 'docs', partition 'p2024', vector_field 'embedding', id_field 'pk',
			 consistency_level 'strong', metric 'IP', dimension '4');
CREATE FOREIGN TABLE fm_bad (id bigint) SERVER mv OPTIONS (consistency_level 'Eventual');
-- column options
CREATE FOREIGN TABLE fc_bad (id text OPTIONS (colour 'red')) SERVER pc;
CREATE FOREIGN TABLE fc_bad (id text OPTIONS (column_name '')) SERVER pc;
ALTER FOREIGN TABLE fm ALTER COLUMN title OPTIONS (SET column_name 'headline');
ALTER FOREIGN TABLE fm ALTER COLUMN title OPTIONS (ADD api_key 'sk-nope');

-- superuser-only options: a non-superuser owner may not loosen security
CREATE ROLE regress_remote_owner;
GRANT USAGE ON FOREIGN DATA WRAPPER test_fdw TO regress_remote_owner;
SET ROLE regress_remote_owner;
CREATE SERVER nsu FOREIGN DATA WRAPPER test_fdw OPTIONS (provider 'pinecone', ca_file '/tmp/ca.pem');
CREATE SERVER nsu FOREIGN DATA WRAPPER test_fdw OPTIONS (provider 'pinecone', allow_insecure 'true');
CREATE SERVER nsu FOREIGN DATA WRAPPER test_fdw OPTIONS (provider 'milvus', url 'http://127.0.0.1:19530');
CREATE SERVER nsu FOREIGN DATA WRAPPER test_fdw OPTIONS (provider 'pinecone', allow_insecure 'false');
ALTER SERVER nsu OPTIONS (SET allow_insecure 'on');
ALTER SERVER nsu OPTIONS (ADD ca_file '/tmp/ca.pem');
ALTER SERVER nsu OPTIONS (ADD timeout_ms '1000');
RESET ROLE;
ALTER SERVER nsu OPTIONS (ADD ca_file '/tmp/ca.pem', SET allow_insecure 'true');
SELECT srvoptions FROM pg_foreign_server WHERE srvname = 'nsu';

-- a non-superuser sees no secrets in the catalogs
SET ROLE regress_remote_owner;
SELECT count(*) FROM pg_user_mapping;
SELECT srvname, umoptions FROM pg_user_mappings WHERE srvname IN ('pc', 'mv') ORDER BY 1;
RESET ROLE;

-- the raw request function checks its arguments before any network
SELECT * FROM vectorpg.remote_request('pc', 'TRACE', '/indexes');
SELECT * FROM vectorpg.remote_request('pc', 'GET', 'indexes');
SELECT * FROM vectorpg.remote_request('pc', 'GET', 'https://evil.example.com/');
SELECT * FROM vectorpg.remote_request('pc', 'GET', '/a b');
SELECT * FROM vectorpg.remote_request('pc', 'GET', '/a#b');
SELECT * FROM vectorpg.remote_request('no_such_server', 'GET', '/indexes');
-- no user mapping
SELECT * FROM vectorpg.remote_request('pc2', 'GET', '/indexes');
CREATE USER MAPPING FOR CURRENT_USER SERVER pc2;
SELECT * FROM vectorpg.remote_request('pc2', 'GET', '/indexes');
-- a server of another wrapper is refused
CREATE FOREIGN DATA WRAPPER other_fdw;
CREATE SERVER other FOREIGN DATA WRAPPER other_fdw OPTIONS (url 'https://x.example.com');
CREATE USER MAPPING FOR CURRENT_USER SERVER other OPTIONS (password 'secret');
SELECT * FROM vectorpg.remote_request('other', 'GET', '/indexes');
DROP FOREIGN DATA WRAPPER other_fdw CASCADE;
-- no USAGE on the server
GRANT USAGE ON SCHEMA vectorpg TO regress_remote_owner;
SET ROLE regress_remote_owner;
SELECT * FROM vectorpg.remote_request('pc', 'GET', '/indexes');
RESET ROLE;
-- replay with nothing recorded: an error, and nothing is sent
SET vectorpg.remote_mode = replay;
SELECT * FROM vectorpg.remote_request('pc', 'POST', '/query', '{"topK": 3, "vector": [0.5, 1]}');
RESET vectorpg.remote_mode;
SET ROLE regress_remote_owner;
SET vectorpg.remote_mode = record;
RESET ROLE;
SET vectorpg.remote_mode = sometimes;

-- fingerprints: key order and number spelling do not matter, the rest does
SELECT vectorpg.remote_fingerprint('pinecone', 'docs', 'POST', '/query', '{"topK": 3, "vector": [0.5, 1]}')
     = vectorpg.remote_fingerprint('pinecone', 'docs', 'POST', 'https://other-host:1234/query',
								   '{"vector": [5e-1, 1.0], "topK": 3.0}') AS same;
SELECT vectorpg.remote_fingerprint('pinecone', 'docs', 'POST', '/query', '{"topK": 3}')
     = vectorpg.remote_fingerprint('pinecone', 'other', 'POST', '/query', '{"topK": 3}') AS same_index,
       vectorpg.remote_fingerprint('pinecone', 'docs', 'POST', '/query', '{"topK": 3}')
     = vectorpg.remote_fingerprint('milvus', 'docs', 'POST', '/query', '{"topK": 3}') AS same_provider,
       vectorpg.remote_fingerprint('pinecone', 'docs', 'POST', '/query', '{"topK": 3}')
     = vectorpg.remote_fingerprint('pinecone', 'docs', 'POST', '/query', '{"topK": 4}') AS same_body;
SELECT length(vectorpg.remote_fingerprint('pinecone', NULL, 'GET', '/indexes', NULL));

-- metrics start empty; the view and the reset exist
SELECT count(*) FROM vectorpg.remote_metrics;
SELECT vectorpg.remote_metrics_reset();
SELECT count(*) FROM vectorpg.remote_connections();

-- remote writes refuse anything but a foreign table of vectorpg_fdw
CREATE TABLE local_t (id text);
SELECT vectorpg.remote_delete('local_t', ARRAY['a']);
SELECT vectorpg.remote_delete_all('ft');
SELECT vectorpg.remote_upsert('ft', ARRAY['a'], ARRAY['[1,2]']::vector[]);
DROP TABLE local_t;

DROP FOREIGN TABLE ft, ft_d1, ft_d2, ft_w1, ft_w2, fm;

-- the SQLSTATEs of the validator's errors, one of each kind
\set VERBOSITY sqlstate
ALTER SERVER pc OPTIONS (ADD colour 'blue');
ALTER SERVER pc OPTIONS (ADD api_key 'sk-x');
CREATE SERVER s0 FOREIGN DATA WRAPPER test_fdw;
ALTER SERVER pc OPTIONS (SET max_retries '11');
ALTER SERVER pc OPTIONS (SET max_retries 'x');
ALTER SERVER pc OPTIONS (ADD url 'https://user@x.example.com');
ALTER SERVER mv OPTIONS (SET url 'http://milvus.example.com');
ALTER SERVER mv OPTIONS (SET load_collection 'maybe');
CREATE USER MAPPING FOR PUBLIC SERVER mv OPTIONS (user 'u');
SET ROLE regress_remote_owner;
ALTER SERVER nsu OPTIONS (SET allow_insecure 'true');
SELECT * FROM vectorpg.remote_request('pc', 'GET', '/indexes');
RESET ROLE;
SELECT * FROM vectorpg.remote_request('pc2', 'GET', '/indexes');
SELECT * FROM vectorpg.remote_request('pc', 'GET', 'x');
\set VERBOSITY default

DROP SERVER nsu;
REVOKE USAGE ON SCHEMA vectorpg FROM regress_remote_owner;
DROP FOREIGN DATA WRAPPER test_fdw CASCADE;
DROP ROLE regress_remote_owner;
