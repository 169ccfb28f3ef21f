-- 30_fdw.sql: the foreign data wrapper vectorpg_fdw (reads from Pinecone
-- indexes and Milvus collections; doc/fdw.md).  The validator function is
-- declared by 20_remote.sql.

CREATE FUNCTION vectorpg.fdw_handler() RETURNS fdw_handler
	AS 'MODULE_PATHNAME', 'vectorpg_fdw_handler'
	LANGUAGE C VOLATILE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION vectorpg.fdw_handler() IS
	'handler of the foreign data wrapper vectorpg_fdw (Pinecone and Milvus)';

CREATE FOREIGN DATA WRAPPER vectorpg_fdw
	HANDLER vectorpg.fdw_handler
	VALIDATOR vectorpg.fdw_validator;
COMMENT ON FOREIGN DATA WRAPPER vectorpg_fdw IS
	'remote vector search on Pinecone indexes and Milvus collections: top-k, filters and fetches by id run remotely';
