-- ---------------------------------------------------------------------------
-- Remote transport (src/fdw_option.c, fdw_connection.c, remote_http.c,
-- remote_record.c, remote_metrics.c, remote_request.c; doc/remote.md)
-- ---------------------------------------------------------------------------

-- The option validator of vectorpg_fdw (sql/install/30_fdw.sql declares the
-- wrapper itself); any wrapper declared with it gets the same checks.
CREATE FUNCTION vectorpg.fdw_validator(text[], oid) RETURNS void
	AS 'MODULE_PATHNAME', 'fdw_validator' LANGUAGE C STRICT VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION vectorpg.fdw_validator(text[], oid) IS
	'validates the options of vectorpg_fdw servers, user mappings, foreign tables and columns';

-- One raw request through the transport, for tests and power users
CREATE FUNCTION vectorpg.remote_request(server name, method text, path text,
		request jsonb DEFAULT NULL,
		OUT status integer, OUT body text, OUT attempts integer,
		OUT elapsed_ms double precision)
	RETURNS record
	AS 'MODULE_PATHNAME', 'remote_request' LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION vectorpg.remote_request(name, text, text, jsonb) IS
	'sends one request to a vectorpg_fdw server (path appended to its url) and returns the answer';

-- The cached connection handles of this session
CREATE FUNCTION vectorpg.remote_connections(OUT server text, OUT user_mapping oid,
		OUT valid boolean, OUT requests bigint)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'remote_connections' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION vectorpg.remote_connections() IS
	'the remote connection handles this session keeps, one per user mapping';

-- Recordings of vectorpg.remote_mode = record, answered in replay mode
CREATE TABLE vectorpg.remote_recordings (
	fingerprint text PRIMARY KEY,
	provider text NOT NULL,
	server text NOT NULL,
	operation text NOT NULL,
	method text NOT NULL,
	path text NOT NULL,
	status integer NOT NULL,
	response bytea NOT NULL,
	recorded_at timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE vectorpg.remote_recordings IS
	'remote answers recorded under vectorpg.remote_mode = record, keyed by request fingerprint';

SELECT pg_catalog.pg_extension_config_dump('vectorpg.remote_recordings', '');

-- The fingerprint a request is recorded under
CREATE FUNCTION vectorpg.remote_fingerprint(provider text, index text, method text,
		path text, body text DEFAULT NULL)
	RETURNS text
	AS 'MODULE_PATHNAME', 'remote_fingerprint' LANGUAGE C IMMUTABLE PARALLEL SAFE;

COMMENT ON FUNCTION vectorpg.remote_fingerprint(text, text, text, text, text) IS
	'SHA-256 fingerprint of a request as vectorpg.remote_recordings keys it';

-- Metrics of remote requests: shared when vectorpg is preloaded, per session otherwise
CREATE FUNCTION vectorpg.remote_metrics_read(OUT server text, OUT operation text,
		OUT calls bigint, OUT errors bigint, OUT retries bigint, OUT connections bigint,
		OUT bytes_sent bigint, OUT bytes_received bigint, OUT total_ms double precision,
		OUT mean_ms double precision, OUT max_ms double precision, OUT scope text)
	RETURNS SETOF record
	AS 'MODULE_PATHNAME', 'remote_metrics' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION vectorpg.remote_metrics_read() IS
	'rows of the view vectorpg.remote_metrics';

CREATE VIEW vectorpg.remote_metrics AS
	SELECT * FROM vectorpg.remote_metrics_read();

-- Counts and latencies only, no request contents: readable by everyone
GRANT SELECT ON vectorpg.remote_metrics TO PUBLIC;

COMMENT ON VIEW vectorpg.remote_metrics IS
	'calls, errors, retries, connections, bytes and latency of remote requests per server and operation (instance-wide when preloaded, else this session)';

CREATE FUNCTION vectorpg.remote_metrics_reset() RETURNS void
	AS 'MODULE_PATHNAME', 'remote_metrics_reset' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION vectorpg.remote_metrics_reset() IS
	'clears the remote request metrics (the instance''s when preloaded, superuser only; else this session''s)';
