/*-------------------------------------------------------------------------
 *
 * remote_write.c
 *	  Remote writes: validation, chunking and parallel sending of upserts
 *	  and deletes (the contract is in remote.h), and the SQL functions that
 *	  write at once: vectorpg.remote_upsert, remote_delete,
 *	  remote_delete_where and remote_delete_all.
 *
 * Design:
 *
 *	- Validate everything first.  RemoteWriteMany checks every item before
 *	  a byte is sent (id, dimension, finite values, metadata shape and size,
 *	  sparse values, against the provider's rules and, for Milvus, the
 *	  collection's schema)
 *	  and raises the first invalid item's error, with remote_last_failure
 *	  naming it, so that a bad row in a batch never leaves half the batch
 *	  applied.
 *	- Chunks.  Upserts and deletes are sent in separate requests (one kind
 *	  per chunk, items in writes[] order), each with at most
 *	  write_batch_size items (Pinecone: also at most 1,000) and a body below
 *	  the provider's cap (Pinecone 2 MB): a chunk is cut early when the next
 *	  item would pass it.  The clients build the bodies straight into a
 *	  StringInfo (no JSON tree): vectors through the ryu printer, metadata
 *	  copied from its text.
 *	- Waves.  Bodies are built for a wave of 4 x write_parallelism chunks
 *	  (at most 64 MB of bodies), sent with RemoteHttpCallMany
 *	  (write_parallelism in flight) and acknowledged (counts checked); the
 *	  next wave reuses the body buffers, so that memory stays bounded for
 *	  any number of items and large buffers are allocated (and paged in)
 *	  once per call.
 *	- Failures.  The first failed chunk raises its error; remote_last_failure
 *	  then names the chunk's first item and its size, and says whether the
 *	  failure is transient.  Chunks acknowledged before stay applied: an
 *	  upsert or a delete by id is idempotent, so the caller may simply send
 *	  the whole call again.
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "remote_client.h"
#include "vectorpg.h"

/*
 * Chunks built and sent per wave: a multiple of write_parallelism, so that
 * the wait for a wave's slowest request is paid once per several rounds,
 * and at most this many body bytes, so that memory stays bounded
 */
#define REMOTE_WRITE_WAVE_FACTOR	4
#define REMOTE_WRITE_WAVE_BYTES		(64 * 1000 * 1000)

/*
 * The checks every provider shares: an id, and for an upsert a vector of
 * finite values; then the provider's own.
 */
static bool
ValidateOne(RemoteTarget *target, const RemoteWrite *w, RemoteWriteError *err)
{
	memset(err, 0, sizeof(*err));
	if (w->id == NULL || w->id[0] == '\0')
	{
		err->sqlstate = ERRCODE_INVALID_PARAMETER_VALUE;
		err->message = pstrdup("record id must not be empty");
		err->hint = pstrdup("Every record written to a remote index needs a non-empty id.");
		return false;
	}
	if (!w->is_delete)
	{
		if (w->values == NULL || w->dim < 1)
		{
			err->sqlstate = ERRCODE_NULL_VALUE_NOT_ALLOWED;
			err->message = psprintf("record \"%s\" has no vector", RemoteShortId(w->id));
			err->hint = pstrdup("An upsert needs the record's vector.");
			return false;
		}
		for (int i = 0; i < w->dim; i++)
		{
			if (!isfinite(w->values[i]))
			{
				err->sqlstate = ERRCODE_DATA_EXCEPTION;
				err->message = psprintf("vector of record \"%s\" contains %s at position %d",
										RemoteShortId(w->id),
										isnan(w->values[i]) ? "NaN" : "Infinity", i + 1);
				err->hint = pstrdup("Remote indexes store finite float32 values only.");
				return false;
			}
		}
	}
	if (target->provider == REMOTE_PINECONE)
		return PineconeValidateWrite(target, w, err);
	return MilvusValidateWrite(target, w, err);
}

/*
 * Check one write against the provider's rules without sending anything
 * (remote.h); for callers that want to refuse a row early, e.g. at INSERT
 * time rather than at commit.
 */
bool
RemoteValidateWrite(RemoteTarget *target, const RemoteWrite *w,
					int *sqlstate, char **message)
{
	RemoteWriteError err;

	if (ValidateOne(target, w, &err))
		return true;
	*sqlstate = err.sqlstate;
	*message = err.message;
	return false;
}

/* Raise the validation error of item i, naming it in remote_last_failure */
static void
RaiseInvalid(RemoteTarget *target, int i, RemoteWriteError *err)
{
	remote_last_failure.failed = true;
	remote_last_failure.http_status = 0;
	remote_last_failure.transient = false;
	remote_last_failure.item = i;
	remote_last_failure.nitems = 1;
	ereport(ERROR,
			(errcode(err->sqlstate),
			 errmsg_internal("%s", err->message),
			 err->detail ? errdetail_internal("%s", err->detail) : 0,
			 err->hint ? errhint("%s", err->hint) : 0,
			 errcontext("remote write to server \"%s\"", target->servername)));
}

/* Records per request: write_batch_size within the provider's limit */
static int
ChunkRecords(RemoteTarget *target)
{
	int			batch = target->write_batch_size;

	if (batch < REMOTE_MIN_WRITE_BATCH_SIZE)
		batch = REMOTE_DEFAULT_WRITE_BATCH_SIZE;
	batch = Min(batch, REMOTE_MAX_WRITE_BATCH_SIZE);
	if (target->provider == REMOTE_PINECONE)
		batch = Min(batch, REMOTE_PINECONE_MAX_WRITE_RECORDS);
	return batch;
}

/* Body bytes per request */
static int
ChunkBytes(RemoteTarget *target)
{
	return target->provider == REMOTE_PINECONE ?
		REMOTE_MAX_WRITE_BODY_BYTES : REMOTE_MILVUS_MAX_WRITE_BODY_BYTES;
}

/* Bytes a chunk's body still needs after its items, to be safe */
#define REMOTE_CHUNK_TAIL_BYTES 1024

/* Client dispatch: start a chunk's body */
static void
BeginChunk(RemoteTarget *target, RemoteWriteChunk *chunk)
{
	if (target->provider == REMOTE_PINECONE)
		PineconeBeginChunk(target, chunk);
	else
		MilvusBeginChunk(target, chunk);
}

/* Client dispatch: append one item to a chunk's body */
static void
AppendItem(RemoteTarget *target, RemoteWriteChunk *chunk, const RemoteWrite *w)
{
	if (target->provider == REMOTE_PINECONE)
		PineconeAppendItem(target, chunk, w);
	else
		MilvusAppendItem(target, chunk, w);
}

/*
 * Close a chunk's body and make its request: the client closes the body and
 * names the URL and the statuses it reads; the rest is the same for both.
 */
static void
EndChunk(RemoteTarget *target, RemoteWriteChunk *chunk)
{
	memset(&chunk->req, 0, sizeof(RemoteRequest));
	if (target->provider == REMOTE_PINECONE)
		PineconeEndChunk(target, chunk);
	else
		MilvusEndChunk(target, chunk);
	chunk->req.operation = chunk->is_delete ? "delete" : "upsert";
	chunk->req.method = "POST";
	chunk->req.url = chunk->url;
	chunk->req.body = chunk->body.data;
}

/* Client dispatch: check a chunk's answer, raising its failure */
static void
CheckAck(RemoteTarget *target, RemoteWriteChunk *chunk, RemoteResponse *resp)
{
	if (target->provider == REMOTE_PINECONE)
		PineconeCheckAck(target, chunk, resp);
	else
		MilvusCheckAck(target, chunk, resp);
}

/*
 * A generous guess of a chunk's body size, so that its buffer is allocated
 * once rather than doubled (and copied) on the way to 2 MB.
 */
static int
ChunkBytesGuess(RemoteTarget *target, const RemoteWrite *w)
{
	int64		per_item = 64 + strlen(w->id) * 2;

	if (!w->is_delete)
		per_item += (int64) w->dim * REMOTE_MAX_FLOAT_TEXT +
			(w->metadata_json ? strlen(w->metadata_json) : 0) +
			(w->sparse_json ? strlen(w->sparse_json) : 0);
	return (int) Min(per_item * ChunkRecords(target) + REMOTE_CHUNK_TAIL_BYTES,
					 (int64) ChunkBytes(target));
}

/*
 * Build one chunk from the items of one kind starting at *cursor into the
 * (reused) buffer body; advances *cursor past the items taken (to n when
 * none of that kind remain).  The buffer comes back in chunk->body.
 */
static void
BuildChunk(RemoteTarget *target, const RemoteWrite *writes, int n,
		   bool is_delete, int *cursor, StringInfo body, RemoteWriteChunk *chunk)
{
	int			max_records = ChunkRecords(target);
	int			max_bytes = ChunkBytes(target) - REMOTE_CHUNK_TAIL_BYTES;
	int			i = *cursor;

	memset(chunk, 0, sizeof(*chunk));
	chunk->is_delete = is_delete;
	chunk->first = -1;
	resetStringInfo(body);
	if (body->maxlen < ChunkBytesGuess(target, &writes[i]))
		enlargeStringInfo(body, ChunkBytesGuess(target, &writes[i]));
	chunk->body = *body;
	BeginChunk(target, chunk);
	for (; i < n && chunk->nitems < max_records; i++)
	{
		int			mark;

		if (writes[i].is_delete != is_delete)
			continue;
		mark = chunk->body.len;
		AppendItem(target, chunk, &writes[i]);
		if (chunk->body.len > max_bytes && chunk->nitems > 0)
		{
			/* this item goes into the next chunk */
			chunk->body.len = mark;
			chunk->body.data[mark] = '\0';
			break;
		}
		if (chunk->body.len > max_bytes)
			elog(ERROR, "record \"%s\" alone exceeds the request size limit",
				 RemoteShortId(writes[i].id));
		if (chunk->first < 0)
			chunk->first = i;
		chunk->nitems++;
	}
	/* skip to the next item of this kind */
	while (i < n && writes[i].is_delete != is_delete)
		i++;
	*cursor = i;
	EndChunk(target, chunk);
	*body = chunk->body;		/* keep the buffer, grown or not */
}

/*
 * Send a wave of chunks and check their acknowledgements; on failure,
 * remote_last_failure names the failed chunk's items.
 */
static void
SendWave(RemoteTarget *target, RemoteWriteChunk *chunks, int nchunks)
{
	RemoteRequest *reqs = palloc(sizeof(RemoteRequest) * nchunks);
	RemoteResponse **resps = palloc0(sizeof(RemoteResponse *) * nchunks);
	volatile int current = -1;

	for (int c = 0; c < nchunks; c++)
		reqs[c] = chunks[c].req;

	PG_TRY();
	{
		RemoteHttpCallMany(target, reqs, nchunks, target->write_parallelism, resps);
		for (int c = 0; c < nchunks; c++)
		{
			current = c;
			CheckAck(target, &chunks[c], resps[c]);
		}
	}
	PG_CATCH();
	{
		int			c = current >= 0 ? current : remote_last_failure.item;

		if (c >= 0 && c < nchunks)
		{
			remote_last_failure.item = chunks[c].first;
			remote_last_failure.nitems = chunks[c].nitems;
		}
		PG_RE_THROW();
	}
	PG_END_TRY();
}

/*
 * Validate, chunk and send writes (remote.h).  Returns when every chunk was
 * acknowledged.
 */
void
RemoteWriteMany(RemoteTarget *target, const RemoteWrite *writes, int n)
{
	MemoryContext cxt;
	MemoryContext wave_cxt;
	MemoryContext old;
	int			upsert_cursor = 0;
	int			delete_cursor = 0;
	int			wave;
	StringInfoData *bodies;
	RemoteWriteError err;

	remote_last_failure.failed = false;
	remote_last_failure.http_status = 0;
	remote_last_failure.transient = false;
	remote_last_failure.item = -1;
	remote_last_failure.nitems = 0;
	if (n <= 0)
		return;

	cxt = AllocSetContextCreate(CurrentMemoryContext, "vectorpg remote writes",
								ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);

	/* validation allocates a little per item: freed item by item */
	wave_cxt = AllocSetContextCreate(cxt, "vectorpg remote write wave",
									 ALLOCSET_DEFAULT_SIZES);
	MemoryContextSwitchTo(wave_cxt);
	for (int i = 0; i < n; i++)
	{
		if (!ValidateOne(target, &writes[i], &err))
			RaiseInvalid(target, i, &err);
		MemoryContextReset(wave_cxt);
	}
	MemoryContextSwitchTo(cxt);

	/* start both cursors at the first item of their kind */
	while (upsert_cursor < n && writes[upsert_cursor].is_delete)
		upsert_cursor++;
	while (delete_cursor < n && !writes[delete_cursor].is_delete)
		delete_cursor++;

	/* the body buffers live across waves, so large ones are made once */
	wave = Max(target->write_parallelism, 1) * REMOTE_WRITE_WAVE_FACTOR;
	bodies = palloc0(sizeof(StringInfoData) * wave);
	for (int c = 0; c < wave; c++)
		initStringInfo(&bodies[c]);
	while (upsert_cursor < n || delete_cursor < n)
	{
		RemoteWriteChunk *chunks;
		int			nchunks = 0;
		int64		bytes = 0;

		MemoryContextSwitchTo(wave_cxt);
		chunks = palloc(sizeof(RemoteWriteChunk) * wave);
		while (nchunks < wave && bytes < REMOTE_WRITE_WAVE_BYTES && upsert_cursor < n)
		{
			BuildChunk(target, writes, n, false, &upsert_cursor, &bodies[nchunks],
					   &chunks[nchunks]);
			bytes += chunks[nchunks++].body.len;
		}
		while (nchunks < wave && bytes < REMOTE_WRITE_WAVE_BYTES && delete_cursor < n)
		{
			BuildChunk(target, writes, n, true, &delete_cursor, &bodies[nchunks],
					   &chunks[nchunks]);
			bytes += chunks[nchunks++].body.len;
		}
		SendWave(target, chunks, nchunks);
		MemoryContextSwitchTo(cxt);
		MemoryContextReset(wave_cxt);
		CHECK_FOR_INTERRUPTS();
	}

	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
	remote_last_failure.item = -1;
	remote_last_failure.nitems = 0;
}

/*
 * Delete the records a filter (Pinecone's filter language) matches, in the
 * table's namespace or partition.
 */
void
RemoteDeleteByFilter(RemoteTarget *target, const char *filter_json)
{
	if (target->provider == REMOTE_PINECONE)
		PineconeDeleteByFilter(target, filter_json);
	else
		MilvusDeleteByFilter(target, filter_json);
}

/* Delete every record of the table's namespace or partition */
void
RemoteDeleteAll(RemoteTarget *target)
{
	if (target->provider == REMOTE_PINECONE)
		PineconeDeleteAll(target);
	else
		MilvusDeleteAll(target);
}

/* ---- SQL functions ---- */

PG_FUNCTION_INFO_V1(remote_upsert);
PG_FUNCTION_INFO_V1(remote_delete);
PG_FUNCTION_INFO_V1(remote_delete_where);
PG_FUNCTION_INFO_V1(remote_delete_all);

/*
 * The target of a vectorpg_fdw foreign table for a write function, after
 * the checks a write through the table would make: a foreign table of
 * vectorpg_fdw, the privilege on the table, USAGE on its server, and (in
 * RemoteTargetFromTable) the user's mapping.
 */
static RemoteTarget *
WriteTarget(Oid relid, AclMode mode)
{
	ForeignTable *table;
	ForeignServer *server;
	ForeignDataWrapper *fdw;
	AclResult	aclresult;
	char	   *relname = get_rel_name(relid);

	if (relname == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation with OID %u does not exist", relid)));
	if (get_rel_relkind(relid) != RELKIND_FOREIGN_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a foreign table", relname),
				 errhint("Remote writes need a foreign table of vectorpg_fdw.")));
	table = GetForeignTable(relid);
	server = GetForeignServer(table->serverid);
	fdw = GetForeignDataWrapper(server->fdwid);
	if (strcmp(fdw->fdwname, "vectorpg_fdw") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("foreign table \"%s\" does not belong to vectorpg_fdw", relname),
				 errdetail("Its server \"%s\" uses the wrapper \"%s\".",
						   server->servername, fdw->fdwname)));
	aclresult = pg_class_aclcheck(relid, GetUserId(), mode);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FOREIGN_TABLE, relname);
	aclresult = pg_foreign_server_aclcheck(server->serverid, GetUserId(), ACL_USAGE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FOREIGN_SERVER, server->servername);
	return RemoteTargetFromTable(relid, GetUserId());
}

/* The elements of a one-dimensional array argument, with their nulls */
static int
ArrayElements(ArrayType *array, Datum **elems, bool **nulls)
{
	int16		typlen;
	bool		typbyval;
	char		typalign;
	int			n;

	if (ARR_NDIM(array) > 1)
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("arrays of remote writes must be one-dimensional")));
	get_typlenbyvalalign(ARR_ELEMTYPE(array), &typlen, &typbyval, &typalign);
	deconstruct_array(array, ARR_ELEMTYPE(array), typlen, typbyval, typalign,
					  elems, nulls, &n);
	return n;
}

/* The text of the ids array, refusing null ids */
static char **
IdArray(ArrayType *array, int *n)
{
	Datum	   *elems;
	bool	   *nulls;
	char	  **ids;

	*n = ArrayElements(array, &elems, &nulls);
	ids = palloc(sizeof(char *) * Max(*n, 1));
	for (int i = 0; i < *n; i++)
	{
		if (nulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("id %d of the array is null", i + 1)));
		ids[i] = TextDatumGetCString(elems[i]);
	}
	return ids;
}

/* An id and its position, for finding repeated ids */
typedef struct IdPos
{
	const char *id;
	int			pos;
} IdPos;

/* qsort comparator: by id, then by position */
static int
IdPosCompare(const void *a, const void *b)
{
	const IdPos *x = a;
	const IdPos *y = b;
	int			c = strcmp(x->id, y->id);

	if (c != 0)
		return c;
	return x->pos < y->pos ? -1 : (x->pos > y->pos ? 1 : 0);
}

/*
 * Deal with an id given twice in one call, whose order of application the
 * remote does not define: an upsert refuses it; a delete keeps the first
 * occurrence (deleting twice is deleting once).  Returns the number of ids
 * kept, compacted in their order.
 */
static int
CheckRepeatedIds(char **ids, int n, bool drop_repeats)
{
	IdPos	   *sorted = palloc(sizeof(IdPos) * Max(n, 1));
	bool	   *drop = palloc0(sizeof(bool) * Max(n, 1));
	int			kept = 0;

	for (int i = 0; i < n; i++)
	{
		sorted[i].id = ids[i];
		sorted[i].pos = i;
	}
	qsort(sorted, n, sizeof(IdPos), IdPosCompare);
	for (int i = 1; i < n; i++)
	{
		if (strcmp(sorted[i - 1].id, sorted[i].id) != 0)
			continue;
		if (!drop_repeats)
			ereport(ERROR,
					(errcode(ERRCODE_CARDINALITY_VIOLATION),
					 errmsg("id \"%s\" appears more than once", RemoteShortId(sorted[i].id)),
					 errdetail("Elements %d and %d of the arrays have the same id.",
							   sorted[i - 1].pos + 1, sorted[i].pos + 1),
					 errhint("Pass each id once per call.")));
		drop[sorted[i].pos] = true;
	}
	for (int i = 0; i < n; i++)
	{
		if (!drop[i])
			ids[kept++] = ids[i];
	}
	pfree(sorted);
	pfree(drop);
	return kept;
}

/*
 * vectorpg.remote_upsert(foreign_table regclass, ids text[], vectors
 * vector[], metadata jsonb[] DEFAULT NULL, sparse_values jsonb[] DEFAULT
 * NULL) -> bigint: upsert the records at once, outside the transaction;
 * returns how many were acknowledged.
 */
Datum
remote_upsert(PG_FUNCTION_ARGS)
{
	RemoteTarget *target;
	char	  **ids;
	Datum	   *vecs;
	bool	   *vnulls;
	Datum	   *metas = NULL;
	bool	   *mnulls = NULL;
	Datum	   *sparses = NULL;
	bool	   *snulls = NULL;
	int			n,
				nv,
				nm = 0,
				ns = 0;
	RemoteWrite *writes;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("foreign_table, ids and vectors must not be null")));
	target = WriteTarget(PG_GETARG_OID(0), ACL_INSERT | ACL_UPDATE);
	ids = IdArray(PG_GETARG_ARRAYTYPE_P(1), &n);
	nv = ArrayElements(PG_GETARG_ARRAYTYPE_P(2), &vecs, &vnulls);
	if (!PG_ARGISNULL(3))
		nm = ArrayElements(PG_GETARG_ARRAYTYPE_P(3), &metas, &mnulls);
	if (PG_NARGS() > 4 && !PG_ARGISNULL(4))
		ns = ArrayElements(PG_GETARG_ARRAYTYPE_P(4), &sparses, &snulls);
	if (nv != n || (metas != NULL && nm != n) || (sparses != NULL && ns != n))
		ereport(ERROR,
				(errcode(ERRCODE_ARRAY_SUBSCRIPT_ERROR),
				 errmsg("ids, vectors, metadata and sparse_values must have the same length"),
				 errdetail("There are %d ids, %d vectors, %d metadata objects and %d sparse values.",
						   n, nv, metas != NULL ? nm : n, sparses != NULL ? ns : n)));
	(void) CheckRepeatedIds(ids, n, false);

	writes = palloc0(sizeof(RemoteWrite) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		Vector	   *v;

		if (vnulls[i])
			ereport(ERROR,
					(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
					 errmsg("vector of record \"%s\" is null", RemoteShortId(ids[i]))));
		v = (Vector *) PG_DETOAST_DATUM(vecs[i]);
		writes[i].id = ids[i];
		writes[i].values = v->x;
		writes[i].dim = v->dim;
		if (metas != NULL && !mnulls[i])
		{
			Jsonb	   *jb = DatumGetJsonbP(metas[i]);

			writes[i].metadata_json = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
		}
		if (sparses != NULL && !snulls[i])
		{
			Jsonb	   *jb = DatumGetJsonbP(sparses[i]);

			writes[i].sparse_json = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
		}
	}
	RemoteWriteMany(target, writes, n);
	PG_RETURN_INT64((int64) n);
}

/*
 * vectorpg.remote_delete(foreign_table regclass, ids text[]) -> bigint:
 * delete the records at once, outside the transaction; returns how many
 * distinct ids were sent (the remote does not say which existed).
 */
Datum
remote_delete(PG_FUNCTION_ARGS)
{
	RemoteTarget *target;
	char	  **ids;
	int			n;
	RemoteWrite *writes;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("foreign_table and ids must not be null")));
	target = WriteTarget(PG_GETARG_OID(0), ACL_DELETE);
	ids = IdArray(PG_GETARG_ARRAYTYPE_P(1), &n);
	n = CheckRepeatedIds(ids, n, true);
	writes = palloc0(sizeof(RemoteWrite) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		writes[i].id = ids[i];
		writes[i].is_delete = true;
	}
	RemoteWriteMany(target, writes, n);
	PG_RETURN_INT64((int64) n);
}

/*
 * vectorpg.remote_delete_where(foreign_table regclass, filter jsonb):
 * delete what a filter in the Pinecone filter language matches, at once.
 */
Datum
remote_delete_where(PG_FUNCTION_ARGS)
{
	RemoteTarget *target;
	Jsonb	   *filter;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("foreign_table and filter must not be null")));
	target = WriteTarget(PG_GETARG_OID(0), ACL_DELETE);
	filter = PG_GETARG_JSONB_P(1);
	if (!JB_ROOT_IS_OBJECT(filter) || JB_ROOT_IS_SCALAR(filter) ||
		JB_ROOT_COUNT(filter) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("filter must be a non-empty JSON object"),
				 errhint("To delete every record, use vectorpg.remote_delete_all.")));
	RemoteDeleteByFilter(target, JsonbToCString(NULL, &filter->root, VARSIZE(filter)));
	PG_RETURN_VOID();
}

/*
 * vectorpg.remote_delete_all(foreign_table regclass): wipe the table's
 * Pinecone namespace or Milvus collection (partition), at once.
 */
Datum
remote_delete_all(PG_FUNCTION_ARGS)
{
	RemoteTarget *target;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("foreign_table must not be null")));
	target = WriteTarget(PG_GETARG_OID(0), ACL_DELETE);
	RemoteDeleteAll(target);
	PG_RETURN_VOID();
}

PG_FUNCTION_INFO_V1(remote_last_failure_sql);

/*
 * vectorpg.remote_last_failure(): remote_last_failure of this session, so
 * that a person (and the tests) can see what the mirror worker sees after
 * a failed call.
 */
Datum
remote_last_failure_sql(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		values[5];
	bool		nulls[5] = {false, false, false, false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	values[0] = BoolGetDatum(remote_last_failure.failed);
	values[1] = Int32GetDatum((int32) remote_last_failure.http_status);
	values[2] = BoolGetDatum(remote_last_failure.transient);
	values[3] = Int32GetDatum(remote_last_failure.item);
	values[4] = Int32GetDatum(remote_last_failure.nitems);
	nulls[3] = remote_last_failure.item < 0;
	nulls[4] = remote_last_failure.item < 0;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
