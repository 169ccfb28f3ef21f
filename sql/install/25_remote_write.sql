-- ---------------------------------------------------------------------------
-- Remote writes that are sent at once (src/remote_write.c; doc/remote.md,
-- "Writes").  They are not transactional: a ROLLBACK does not undo them.
-- INSERT, UPDATE and DELETE on the foreign table are the transactional path.
-- The caller needs INSERT and UPDATE (upsert) or DELETE on the foreign
-- table, USAGE on its server and a user mapping.
-- ---------------------------------------------------------------------------

CREATE FUNCTION vectorpg.remote_upsert(foreign_table regclass, ids text[],
		vectors @extschema@.vector[], metadata jsonb[] DEFAULT NULL,
		sparse_values jsonb[] DEFAULT NULL)
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'remote_upsert' LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION vectorpg.remote_upsert(regclass, text[], @extschema@.vector[], jsonb[], jsonb[]) IS
	'upserts records (vectors, optional metadata, optional sparse values {"indices":[...],"values":[...]}) into the index of a vectorpg_fdw foreign table at once, not transactionally (a ROLLBACK does not undo it); returns how many';

CREATE FUNCTION vectorpg.remote_delete(foreign_table regclass, ids text[])
	RETURNS bigint
	AS 'MODULE_PATHNAME', 'remote_delete' LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION vectorpg.remote_delete(regclass, text[]) IS
	'deletes records by id from the index of a vectorpg_fdw foreign table at once, not transactionally; returns how many distinct ids were sent';

CREATE FUNCTION vectorpg.remote_delete_where(foreign_table regclass, filter jsonb)
	RETURNS void
	AS 'MODULE_PATHNAME', 'remote_delete_where' LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION vectorpg.remote_delete_where(regclass, jsonb) IS
	'deletes the records a filter (Pinecone filter language) matches from the index of a vectorpg_fdw foreign table at once, not transactionally';

CREATE FUNCTION vectorpg.remote_delete_all(foreign_table regclass)
	RETURNS void
	AS 'MODULE_PATHNAME', 'remote_delete_all' LANGUAGE C VOLATILE PARALLEL UNSAFE;

COMMENT ON FUNCTION vectorpg.remote_delete_all(regclass) IS
	'deletes every record of the Pinecone namespace or Milvus collection (partition) of a vectorpg_fdw foreign table at once, not transactionally';

CREATE FUNCTION vectorpg.remote_last_failure(OUT failed boolean, OUT http_status integer,
		OUT transient boolean, OUT item integer, OUT nitems integer)
	RETURNS record
	AS 'MODULE_PATHNAME', 'remote_last_failure_sql' LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;

COMMENT ON FUNCTION vectorpg.remote_last_failure() IS
	'how the latest remote call of this session failed: HTTP status, whether trying later may help, and for writes the 0-based index of the invalid item or the first item of the failed request and their number';
