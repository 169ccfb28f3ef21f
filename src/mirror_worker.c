/*-------------------------------------------------------------------------
 *
 * mirror_worker.c
 *	  The mirror worker: one dynamic background worker per database that
 *	  backfills mirrored tables and drains vectorpg.mirror_outbox into the
 *	  remote indexes (doc/mirror.md).
 *
 * Loop: every round lists the mirrors of the database and makes, for each
 * running one whose backoff has passed, two attempts, each in its own
 * transaction: a drain (up to batch_size outbox rows) and, while the
 * backfill is not done, one backfill chunk (keyset on the id column).  Both
 * read the rows' current state as the mirror's owner, send it with
 * RemoteWriteMany and then, in the same transaction, delete exactly the
 * outbox rows that were read (by seq: rows committed later, or with an
 * earlier seq but not yet committed, stay) or advance the backfill cursor.
 * A crash between the remote's acknowledgment and the commit resends the
 * same state, which is harmless since upserts and deletes by id are
 * idempotent.  Both kinds of attempt run in this one process, one after the
 * other, so every send carries a state read after the previous send's: a
 * stale backfill read can never overwrite a newer drained state.
 *
 * Failures: an attempt runs under PG_TRY; on error the transaction is
 * aborted (which also restores the user id) and the failure is recorded in a
 * new transaction.  remote_last_failure says whether it was transient (429,
 * 5xx, timeouts, connection errors): then the mirror backs off
 * exponentially with jitter and the outbox is untouched.  When the remote
 * rejects items (validation, 400-class answers, Milvus row errors), the
 * batch is split, down to single items when needed, each try in a
 * subtransaction; every rejected item goes to vectorpg.mirror_dead_letters
 * with the remote's reason and leaves the outbox.  Other permanent errors
 * (credentials, missing index, local errors) count as one error per
 * attempt.  When the mirror's error count reaches max_errors it is parked.
 *
 * Crash safety: the worker is registered with a restart time, so after a
 * crash of any backend (kill -9 included) the postmaster starts it again
 * with the others.  Its advisory lock guarantees a single worker per
 * database (mirror.c).
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "commands/extension.h"
#include "common/pg_prng.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/lock.h"
#include "storage/proc.h"
#include "tcop/tcopprot.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/resowner.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "mirror.h"
#include "remote.h"
#include "vectorpg.h"

/* What an attempt does */
typedef enum MirrorAttemptKind
{
	MIRROR_DRAIN,
	MIRROR_BACKFILL
} MirrorAttemptKind;

/* A mirror's configuration, read at the start of each attempt */
typedef struct MirrorConf
{
	int32		id;
	char	   *name;
	Oid			source;
	Oid			target;
	Oid			owner;
	char	   *id_column;
	char	   *vector_column;
	char	   *metadata_expr;	/* SQL expression over alias s, or "NULL" */
	char	   *sparse_expr;	/* sparse values as text over alias s, or "NULL" */
	int			batch_size;
	int			max_errors;
	int			backoff_cap_ms;
	bool		backfill_done;
	char	   *cursor;			/* backfill: last id sent, or NULL */
	int			error_count;
	int			transient_failures;
	bool		runnable;		/* running and not backing off */
} MirrorConf;

/* Outcome of one item of a batch */
typedef enum ItemOutcome
{
	ITEM_PENDING,
	ITEM_SENT,
	ITEM_DEAD
} ItemOutcome;

/* One batch being sent: items, their outcomes, the dead letters made */
typedef struct MirrorBatch
{
	MirrorConf *conf;
	RemoteTarget *target;
	int			n;
	RemoteWrite *items;
	char	   *outcome;		/* ItemOutcome per item */
	int			dead;			/* dead letters made in this batch */
	char	   *last_reason;	/* the latest dead letter's reason */
} MirrorBatch;

/* What a failed attempt leaves for the bookkeeping transaction */
typedef struct MirrorFailureNote
{
	int32		id;
	int			transient_failures;
	int			backoff_cap_ms;
	bool		have_conf;
} MirrorFailureNote;

/* Long-lived context of the worker (attempt contexts are reset per attempt) */
static MemoryContext worker_context = NULL;

/*
 * Cut text to MIRROR_MAX_TEXT_BYTES on a character boundary; for error
 * texts and payload summaries stored in the catalog.
 */
static char *
ClipText(const char *s)
{
	int			len = strlen(s);

	if (len <= MIRROR_MAX_TEXT_BYTES)
		return pstrdup(s);
	len = pg_mbcliplen(s, len, MIRROR_MAX_TEXT_BYTES);
	return pnstrdup(s, len);
}

/* An error's text for last_error and dead letters: message and detail */
static char *
ErrorText(ErrorData *edata)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, edata->message ? edata->message : "unknown error");
	if (edata->detail)
		appendStringInfo(&buf, ": %s", edata->detail);
	return ClipText(buf.data);
}

/* Run a catalog statement as the worker itself, check its result */
static void
ExecCatalog(const char *sql, int nargs, Oid *types, Datum *values,
			const char *nulls, int expected)
{
	int			ret = SPI_execute_with_args(sql, nargs, types, values, nulls,
											false, 0);

	if (ret != expected)
		elog(ERROR, "mirror worker: \"%s\" returned %d", sql, ret);
}

/* Text of column col of row i of the latest SPI result, or NULL */
static char *
SpiText(int row, int col)
{
	return SPI_getvalue(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, col);
}

/*
 * Read mirror id's configuration (in the current transaction); false when
 * it is gone.  Column and relation names are resolved here, so that a
 * renamed table or column is followed (regclass, attribute names).
 */
static bool
LoadConf(int32 id, MirrorConf *conf)
{
	Oid			types[1] = {INT4OID};
	Datum		args[1];
	bool		isnull;
	HeapTuple	tup;
	TupleDesc	desc;
	Datum		d;

	args[0] = Int32GetDatum(id);
	ExecCatalog("SELECT m.name, m.source::oid, m.target::oid, m.owner::oid,"
				" m.id_column::text, m.vector_column::text,"
				" CASE WHEN m.metadata_column IS NOT NULL"
				"      THEN format('s.%I::text', m.metadata_column)"
				"      WHEN m.metadata_columns IS NOT NULL AND cardinality(m.metadata_columns) > 0"
				"      THEN format('pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(%s))::text',"
				"                  (SELECT string_agg(format('%L, s.%I', c, c), ', ' ORDER BY o)"
				"                     FROM unnest(m.metadata_columns) WITH ORDINALITY u(c, o)))"
				"      ELSE 'NULL' END,"
				" m.batch_size, m.max_errors, m.backoff_cap_ms, m.backfill_done,"
				" m.backfill_cursor, m.error_count, m.transient_failures,"
				" m.state = 'running' AND (m.retry_at IS NULL OR m.retry_at <= now()),"
				" CASE WHEN m.sparse_column IS NOT NULL"
				"      THEN format('s.%I::text', m.sparse_column) ELSE 'NULL' END"
				" FROM vectorpg.mirrors m WHERE m.id = $1",
				1, types, args, NULL, SPI_OK_SELECT);
	if (SPI_processed == 0)
		return false;
	tup = SPI_tuptable->vals[0];
	desc = SPI_tuptable->tupdesc;
	conf->id = id;
	conf->name = SpiText(0, 1);
	conf->source = DatumGetObjectId(SPI_getbinval(tup, desc, 2, &isnull));
	conf->target = DatumGetObjectId(SPI_getbinval(tup, desc, 3, &isnull));
	conf->owner = DatumGetObjectId(SPI_getbinval(tup, desc, 4, &isnull));
	conf->id_column = SpiText(0, 5);
	conf->vector_column = SpiText(0, 6);
	conf->metadata_expr = SpiText(0, 7);
	conf->batch_size = DatumGetInt32(SPI_getbinval(tup, desc, 8, &isnull));
	conf->max_errors = DatumGetInt32(SPI_getbinval(tup, desc, 9, &isnull));
	conf->backoff_cap_ms = DatumGetInt32(SPI_getbinval(tup, desc, 10, &isnull));
	conf->backfill_done = DatumGetBool(SPI_getbinval(tup, desc, 11, &isnull));
	conf->cursor = SpiText(0, 12);
	conf->error_count = DatumGetInt32(SPI_getbinval(tup, desc, 13, &isnull));
	conf->transient_failures = DatumGetInt32(SPI_getbinval(tup, desc, 14, &isnull));
	d = SPI_getbinval(tup, desc, 15, &isnull);
	conf->runnable = !isnull && DatumGetBool(d);
	conf->sparse_expr = SpiText(0, 16);
	return true;
}

/* Schema-qualified, quoted name of a relation, for the worker's queries */
static char *
QualifiedName(Oid relid)
{
	char	   *rel = get_rel_name(relid);

	if (rel == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("the mirrored relation with OID %u does not exist", relid)));
	return quote_qualified_identifier(get_namespace_name(get_rel_namespace(relid)), rel);
}

/* The SQL type name of the id column, for casting ids read as text */
static char *
IdTypeName(MirrorConf *conf)
{
	AttrNumber	att = get_attnum(conf->source, conf->id_column);

	if (att == InvalidAttrNumber)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_COLUMN),
				 errmsg("column \"%s\" of the mirrored table \"%s\" does not exist",
						conf->id_column, get_rel_name(conf->source))));
	return format_type_be(get_atttype(conf->source, att));
}

/*
 * Fill batch items from the latest SPI result, whose columns are: id text,
 * found boolean, vector, metadata text.  A row that is not found, or has a
 * NULL vector, becomes a delete (the record must not exist remotely), or is
 * left out when skip_missing (backfill).
 */
static void
ItemsFromResult(MirrorBatch *batch, bool skip_missing, char ***ids_out)
{
	int			n = SPI_processed;
	char	  **ids = palloc(sizeof(char *) * Max(n, 1));

	batch->items = palloc0(sizeof(RemoteWrite) * Max(n, 1));
	batch->outcome = palloc0(Max(n, 1));
	batch->n = 0;
	for (int i = 0; i < n; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull,
					vnull;
		bool		found = DatumGetBool(SPI_getbinval(tup, desc, 2, &isnull));
		Datum		vd = SPI_getbinval(tup, desc, 3, &vnull);
		RemoteWrite *w = &batch->items[batch->n];

		ids[i] = SpiText(i, 1);
		if (!found || vnull)
		{
			if (skip_missing)
				continue;
			w->id = ids[i];
			w->is_delete = true;
		}
		else
		{
			Vector	   *v = DatumGetVector(vd);
			char	   *meta = SpiText(i, 4);

			w->id = ids[i];
			w->values = v->x;
			w->dim = v->dim;
			w->metadata_json = (meta && strcmp(meta, "{}") != 0) ? meta : NULL;
			w->sparse_json = SpiText(i, 5);
		}
		batch->n++;
	}
	if (ids_out)
		*ids_out = ids;
}

/*
 * One try of RemoteWriteMany in a subtransaction, so that a failure can be
 * examined and the batch split without aborting the attempt.  Returns true
 * when every item was acknowledged; else fills fail and edata.
 */
static bool
TrySend(RemoteTarget *target, RemoteWrite *w, int n, RemoteFailure *fail,
		ErrorData **edata)
{
	MemoryContext oldcxt = CurrentMemoryContext;
	ResourceOwner oldowner = CurrentResourceOwner;
	volatile bool ok = false;

	BeginInternalSubTransaction(NULL);
	MemoryContextSwitchTo(oldcxt);
	PG_TRY();
	{
		remote_last_failure.failed = false;
		RemoteWriteMany(target, w, n);
		ReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
		ok = true;
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(oldcxt);
		*edata = CopyErrorData();
		FlushErrorState();
		*fail = remote_last_failure;
		RollbackAndReleaseCurrentSubTransaction();
		MemoryContextSwitchTo(oldcxt);
		CurrentResourceOwner = oldowner;
	}
	PG_END_TRY();
	return ok;
}

/*
 * Does this failure reject items (so that splitting the batch finds the
 * culprits) rather than the whole request (credentials, missing index)?
 * Validation errors (no status), 200 (Milvus row errors in the envelope),
 * 400, 413 and 422 reject items.
 */
static bool
RejectsItems(const RemoteFailure *fail)
{
	if (!fail->failed || fail->transient)
		return false;
	switch (fail->http_status)
	{
		case 0:
			return fail->item >= 0;
		case 200:
		case 400:
		case 413:
		case 422:
			return true;
		default:
			return false;
	}
}

/* Record item k of the batch as a dead letter with the remote's reason */
static void
DeadLetter(MirrorBatch *batch, int k, ErrorData *edata, long http_status)
{
	RemoteWrite *w = &batch->items[k];
	Oid			types[6] = {INT4OID, TEXTOID, TEXTOID, TEXTOID, TEXTOID, INT4OID};
	Datum		args[6];
	char		nulls[6] = {' ', ' ', ' ', ' ', ' ', ' '};
	char	   *reason = ErrorText(edata);
	char	   *payload;

	if (w->is_delete)
		payload = pstrdup("delete");
	else
		payload = ClipText(psprintf("upsert: %d values, metadata %s", w->dim,
									w->metadata_json ? w->metadata_json : "none"));
	args[0] = Int32GetDatum(batch->conf->id);
	args[1] = CStringGetTextDatum(w->id);
	args[2] = CStringGetTextDatum(w->is_delete ? "delete" : "upsert");
	args[3] = CStringGetTextDatum(payload);
	args[4] = CStringGetTextDatum(reason);
	args[5] = Int32GetDatum((int32) http_status);
	if (http_status == 0)
		nulls[5] = 'n';
	ExecCatalog("INSERT INTO vectorpg.mirror_dead_letters"
				" (mirror_id, row_id, operation, payload, reason, http_status)"
				" VALUES ($1, $2, $3, $4, $5, $6)",
				6, types, args, nulls, SPI_OK_INSERT);
	batch->outcome[k] = ITEM_DEAD;
	batch->dead++;
	batch->last_reason = reason;
}

/*
 * Send items idx[0..n) of the batch; items the remote rejects become dead
 * letters (splitting the set until each rejected item is alone).  A
 * transient failure, or a permanent one that is not about items, is raised
 * again and ends the attempt.  Once the mirror's permanent errors reach
 * max_errors, the remaining items are left pending (the mirror parks).
 */
static void
SendResolving(MirrorBatch *batch, int *idx, int n)
{
	RemoteWrite *w;
	RemoteFailure fail;
	ErrorData  *edata = NULL;
	int		   *part1,
			   *part2;
	int			n1 = 0,
				n2 = 0;

	if (n == 0)
		return;
	if (batch->conf->error_count + batch->dead >= batch->conf->max_errors)
		return;
	CHECK_FOR_INTERRUPTS();
	w = palloc(sizeof(RemoteWrite) * n);
	for (int i = 0; i < n; i++)
		w[i] = batch->items[idx[i]];
	if (TrySend(batch->target, w, n, &fail, &edata))
	{
		for (int i = 0; i < n; i++)
			batch->outcome[idx[i]] = ITEM_SENT;
		pfree(w);
		return;
	}
	pfree(w);
	if (!RejectsItems(&fail))
		ReThrowError(edata);
	if (n == 1)
	{
		DeadLetter(batch, idx[0], edata, fail.http_status);
		return;
	}
	FreeErrorData(edata);

	/* split: the failed chunk apart when it is known and smaller, else halves */
	part1 = palloc(sizeof(int) * n);
	part2 = palloc(sizeof(int) * n);
	if (fail.item >= 0 && fail.nitems >= 1 && fail.item + fail.nitems <= n &&
		fail.nitems < n)
	{
		for (int i = 0; i < n; i++)
		{
			if (i >= fail.item && i < fail.item + fail.nitems)
				part1[n1++] = idx[i];
			else
				part2[n2++] = idx[i];
		}
	}
	else
	{
		for (int i = 0; i < n; i++)
		{
			if (i < n / 2)
				part1[n1++] = idx[i];
			else
				part2[n2++] = idx[i];
		}
	}
	SendResolving(batch, part1, n1);
	SendResolving(batch, part2, n2);
}

/* Send the whole batch (see SendResolving) */
static void
SendBatch(MirrorBatch *batch)
{
	int		   *idx = palloc(sizeof(int) * Max(batch->n, 1));

	for (int i = 0; i < batch->n; i++)
		idx[i] = i;
	SendResolving(batch, idx, batch->n);
}

/*
 * Bookkeeping of a successful attempt: counters, the recent rate, dead
 * letters counted as permanent errors (parking at max_errors), backoff
 * cleared.
 */
static void
RecordSuccess(MirrorBatch *batch, int sent)
{
	Oid			types[4] = {INT4OID, INT8OID, INT4OID, TEXTOID};
	Datum		args[4];
	char		nulls[4] = {' ', ' ', ' ', ' '};

	args[0] = Int32GetDatum(batch->conf->id);
	args[1] = Int64GetDatum(sent);
	args[2] = Int32GetDatum(batch->dead);
	if (batch->last_reason)
		args[3] = CStringGetTextDatum(batch->last_reason);
	else
	{
		args[3] = (Datum) 0;
		nulls[3] = 'n';
	}
	ExecCatalog(psprintf("UPDATE vectorpg.mirrors SET"
						 " rows_sent = rows_sent + $2,"
						 " dead_letters = dead_letters + $3,"
						 " error_count = error_count + $3,"
						 " transient_failures = 0, retry_at = NULL,"
						 " last_success = CASE WHEN $2 > 0 THEN now() ELSE last_success END,"
						 " last_error = coalesce('item rejected: ' || $4, last_error),"
						 " last_error_at = CASE WHEN $4 IS NULL THEN last_error_at ELSE now() END,"
						 " state = CASE WHEN state = 'running' AND error_count + $3 >= max_errors"
						 "              THEN 'parked' ELSE state END,"
						 " rows_per_s = CASE WHEN rate_window_start IS NOT NULL"
						 "   AND clock_timestamp() - rate_window_start >= interval '%d milliseconds'"
						 "   THEN (rate_window_rows + $2) / extract(epoch FROM clock_timestamp() - rate_window_start)"
						 "   ELSE rows_per_s END,"
						 " rate_window_rows = CASE WHEN rate_window_start IS NULL"
						 "   OR clock_timestamp() - rate_window_start >= interval '%d milliseconds'"
						 "   THEN 0 ELSE rate_window_rows + $2 END,"
						 " rate_window_start = CASE WHEN rate_window_start IS NULL"
						 "   OR clock_timestamp() - rate_window_start >= interval '%d milliseconds'"
						 "   THEN clock_timestamp() ELSE rate_window_start END"
						 " WHERE id = $1",
						 MIRROR_RATE_WINDOW_MS, MIRROR_RATE_WINDOW_MS, MIRROR_RATE_WINDOW_MS),
				4, types, args, nulls, SPI_OK_UPDATE);
}

/*
 * Drain: read up to batch_size outbox rows, the current state of their
 * (distinct) ids, send, and delete the outbox rows whose ids were resolved.
 * Returns the number of outbox rows consumed.
 */
static int
Drain(MirrorConf *conf, RemoteTarget *target)
{
	Oid			types[2] = {INT4OID, INT4OID};
	Datum		args[2];
	int			nrows;
	Datum	   *seqs;
	Datum	   *rowids;
	ArrayType  *idarr;
	MirrorBatch batch;
	char	  **ids;
	Oid			save_userid;
	int			save_sec;
	int			ret;
	int			resolved = 0;
	Datum	   *done_ids;

	args[0] = Int32GetDatum(conf->id);
	args[1] = Int32GetDatum(conf->batch_size);
	ExecCatalog("SELECT seq, row_id FROM vectorpg.mirror_outbox"
				" WHERE mirror_id = $1 ORDER BY seq LIMIT $2",
				2, types, args, NULL, SPI_OK_SELECT);
	nrows = SPI_processed;
	if (nrows == 0)
		return 0;
	seqs = palloc(sizeof(Datum) * nrows);
	rowids = palloc(sizeof(Datum) * nrows);
	for (int i = 0; i < nrows; i++)
	{
		bool		isnull;

		seqs[i] = SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull);
		rowids[i] = CStringGetTextDatum(SpiText(i, 2));
	}
	idarr = construct_array(rowids, nrows, TEXTOID, -1, false, TYPALIGN_INT);

	/*
	 * The rows' current state, read as the mirror's owner.  read_only is
	 * false so that SPI takes a fresh snapshot, newer than the outbox read's:
	 * with the attempt's first snapshot, a change committed (with its outbox
	 * row) between that snapshot and the outbox read would be acknowledged
	 * with the row's older state and lost.
	 */
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(conf->owner, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	{
		Oid			rtypes[1] = {TEXTARRAYOID};
		Datum		rargs[1];

		rargs[0] = PointerGetDatum(idarr);
		ret = SPI_execute_with_args(psprintf("SELECT u.x, s.%s IS NOT NULL, s.%s, %s, %s"
											 " FROM (SELECT DISTINCT x FROM pg_catalog.unnest($1) x) u"
											 " LEFT JOIN %s s ON s.%s = u.x::%s",
											 quote_identifier(conf->id_column),
											 quote_identifier(conf->vector_column),
											 conf->metadata_expr, conf->sparse_expr,
											 QualifiedName(conf->source),
											 quote_identifier(conf->id_column),
											 IdTypeName(conf)),
									1, rtypes, rargs, NULL, false, 0);
		if (ret != SPI_OK_SELECT)
			elog(ERROR, "mirror worker: reading the changed rows returned %d", ret);
	}
	SetUserIdAndSecContext(save_userid, save_sec);

	memset(&batch, 0, sizeof(batch));
	batch.conf = conf;
	batch.target = target;
	ItemsFromResult(&batch, false, &ids);
	SendBatch(&batch);

	/* forget the outbox rows whose ids were sent or dead-lettered */
	done_ids = palloc(sizeof(Datum) * Max(batch.n, 1));
	for (int i = 0; i < batch.n; i++)
		if (batch.outcome[i] != ITEM_PENDING)
			done_ids[resolved++] = CStringGetTextDatum(batch.items[i].id);
	{
		Oid			dtypes[3] = {INT4OID, INT8ARRAYOID, TEXTARRAYOID};
		Datum		dargs[3];

		dargs[0] = Int32GetDatum(conf->id);
		dargs[1] = PointerGetDatum(construct_array(seqs, nrows, INT8OID, 8,
												   FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
		dargs[2] = PointerGetDatum(construct_array(done_ids, resolved, TEXTOID, -1,
												   false, TYPALIGN_INT));
		if (resolved == batch.n)
			ExecCatalog("DELETE FROM vectorpg.mirror_outbox"
						" WHERE mirror_id = $1 AND seq = ANY ($2)",
						2, dtypes, dargs, NULL, SPI_OK_DELETE);
		else
			ExecCatalog("DELETE FROM vectorpg.mirror_outbox"
						" WHERE mirror_id = $1 AND seq = ANY ($2) AND row_id = ANY ($3)",
						3, dtypes, dargs, NULL, SPI_OK_DELETE);
	}
	RecordSuccess(&batch, resolved - batch.dead);
	return nrows;
}

/*
 * Backfill: send the next batch_size rows in id order after the cursor and
 * advance the cursor (in the transaction that follows the acknowledgment).
 * Returns the number of rows read; fewer than batch_size ends the backfill.
 */
static int
Backfill(MirrorConf *conf, RemoteTarget *target)
{
	Oid			types[2] = {TEXTOID, INT4OID};
	Datum		args[2];
	char		nulls[2] = {' ', ' '};
	Oid			save_userid;
	int			save_sec;
	int			ret;
	int			nrows;
	MirrorBatch batch;
	char	  **ids;
	char	   *cursor = NULL;
	bool		complete = true;
	bool		done;
	const char *idq = quote_identifier(conf->id_column);

	args[0] = conf->cursor ? CStringGetTextDatum(conf->cursor) : (Datum) 0;
	if (!conf->cursor)
		nulls[0] = 'n';
	args[1] = Int32GetDatum(conf->batch_size);
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(conf->owner, save_sec | SECURITY_LOCAL_USERID_CHANGE);
	ret = SPI_execute_with_args(psprintf("SELECT s.%s::text, true, s.%s, %s, %s FROM %s s"
										 "%s ORDER BY s.%s LIMIT $2",
										 idq, quote_identifier(conf->vector_column),
										 conf->metadata_expr, conf->sparse_expr,
										 QualifiedName(conf->source),
										 conf->cursor
										 ? psprintf(" WHERE s.%s > $1::%s", idq, IdTypeName(conf))
										 : " WHERE $1 IS NULL",
										 idq),
								2, types, args, nulls, false, 0);
	if (ret != SPI_OK_SELECT)
		elog(ERROR, "mirror worker: reading the backfill chunk returned %d", ret);
	SetUserIdAndSecContext(save_userid, save_sec);
	nrows = SPI_processed;
	done = nrows < conf->batch_size;

	memset(&batch, 0, sizeof(batch));
	batch.conf = conf;
	batch.target = target;
	ItemsFromResult(&batch, true, &ids);
	SendBatch(&batch);

	/*
	 * The cursor moves past the last row read when every item was resolved,
	 * else to just before the first pending item (the mirror is parking).
	 */
	if (nrows > 0)
		cursor = ids[nrows - 1];
	for (int i = 0; i < batch.n; i++)
	{
		if (batch.outcome[i] == ITEM_PENDING)
		{
			complete = false;
			cursor = NULL;
			for (int r = 0; r < nrows; r++)
			{
				if (strcmp(ids[r], batch.items[i].id) == 0)
					break;
				cursor = ids[r];
			}
			if (cursor == NULL)
				cursor = conf->cursor;
			break;
		}
	}
	{
		Oid			utypes[4] = {INT4OID, TEXTOID, BOOLOID, INT8OID};
		Datum		uargs[4];
		char		unulls[4] = {' ', ' ', ' ', ' '};
		int			sent = 0;

		for (int i = 0; i < batch.n; i++)
			if (batch.outcome[i] == ITEM_SENT)
				sent++;
		uargs[0] = Int32GetDatum(conf->id);
		if (cursor)
			uargs[1] = CStringGetTextDatum(cursor);
		else
		{
			uargs[1] = (Datum) 0;
			unulls[1] = 'n';
		}
		uargs[2] = BoolGetDatum(done && complete);
		uargs[3] = Int64GetDatum(complete ? nrows : sent);
		ExecCatalog("UPDATE vectorpg.mirrors SET backfill_cursor = $2,"
					" backfill_done = $3, backfill_rows = backfill_rows + $4,"
					" backfill_finished = CASE WHEN $3 THEN now() END"
					" WHERE id = $1",
					4, utypes, uargs, unulls, SPI_OK_UPDATE);
		RecordSuccess(&batch, sent);
	}
	return nrows;
}

/*
 * Record a failed attempt in its own transaction: the error, the backoff
 * (exponential with jitter, capped by the mirror's backoff_cap_ms) and,
 * unless it was transient, one more permanent error, parking at max_errors.
 */
static void
RecordFailure(MirrorFailureNote *note, bool transient, const char *text)
{
	int			failures = note->transient_failures + 1;
	double		d = MIRROR_BACKOFF_BASE_MS;
	double		wait_ms;
	Oid			types[4] = {INT4OID, TEXTOID, BOOLOID, FLOAT8OID};
	Datum		args[4];

	for (int i = 1; i < failures && d < note->backoff_cap_ms; i++)
		d *= 2;
	if (d > note->backoff_cap_ms)
		d = note->backoff_cap_ms;
	wait_ms = d / 2 + pg_prng_double(&pg_global_prng_state) * d / 2;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	args[0] = Int32GetDatum(note->id);
	args[1] = CStringGetTextDatum(text);
	args[2] = BoolGetDatum(transient);
	args[3] = Float8GetDatum(wait_ms);
	ExecCatalog("UPDATE vectorpg.mirrors SET last_error = $2, last_error_at = now(),"
				" transient_failures = transient_failures + 1,"
				" error_count = error_count + CASE WHEN $3 THEN 0 ELSE 1 END,"
				" retry_at = clock_timestamp() + make_interval(secs => $4 / 1000.0),"
				" state = CASE WHEN NOT $3 AND state = 'running'"
				"                   AND error_count + 1 >= max_errors"
				"              THEN 'parked' ELSE state END"
				" WHERE id = $1",
				4, types, args, NULL, SPI_OK_UPDATE);
	PopActiveSnapshot();
	SPI_finish();
	CommitTransactionCommand();
}

/*
 * One attempt (drain or backfill chunk) for mirror id, in its own
 * transaction.  Returns the number of rows handled (0: nothing to do, or
 * the attempt failed and was recorded).
 */
static int
Attempt(int32 id, MirrorAttemptKind kind, MemoryContext attempt_cxt)
{
	volatile int handled = 0;
	MirrorFailureNote *note;
	MemoryContext oldcxt;

	MemoryContextReset(attempt_cxt);
	oldcxt = MemoryContextSwitchTo(attempt_cxt);
	note = palloc0(sizeof(MirrorFailureNote));
	note->id = id;
	note->backoff_cap_ms = MIRROR_DEFAULT_BACKOFF_CAP_MS;
	MemoryContextSwitchTo(oldcxt);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SPI_connect();
	PushActiveSnapshot(GetTransactionSnapshot());
	pgstat_report_activity(STATE_RUNNING,
						   kind == MIRROR_DRAIN ? "mirror: draining" : "mirror: backfilling");
	PG_TRY();
	{
		MirrorConf *conf = palloc0(sizeof(MirrorConf));

		remote_last_failure.failed = false;
		if (LoadConf(id, conf) && conf->runnable &&
			(kind == MIRROR_DRAIN || !conf->backfill_done))
		{
			RemoteTarget *target;

			note->transient_failures = conf->transient_failures;
			note->backoff_cap_ms = conf->backoff_cap_ms;
			note->have_conf = true;
			target = RemoteTargetFromTable(conf->target, conf->owner);
			if (kind == MIRROR_DRAIN)
				handled = Drain(conf, target);
			else
				handled = Backfill(conf, target);
		}
		PopActiveSnapshot();
		SPI_finish();
		CommitTransactionCommand();
	}
	PG_CATCH();
	{
		ErrorData  *edata;
		RemoteFailure fail;
		char	   *text;

		MemoryContextSwitchTo(attempt_cxt);
		edata = CopyErrorData();
		FlushErrorState();
		fail = remote_last_failure;
		AbortCurrentTransaction();
		text = ErrorText(edata);
		ereport(LOG,
				(errmsg("vectorpg mirror %d: %s attempt failed: %s", id,
						kind == MIRROR_DRAIN ? "drain" : "backfill", text)));
		RecordFailure(note, fail.failed && fail.transient, text);
		handled = 0;
	}
	PG_END_TRY();
	pgstat_report_activity(STATE_IDLE, NULL);
	MemoryContextSwitchTo(oldcxt);
	return handled;
}

/*
 * The mirrors of this database to serve in this round (running, backoff
 * over): the id, negated when the backfill is done so that the round only
 * drains.  *present is false when the extension is gone (the worker then
 * exits), *count is the number of mirrors in any state.
 */
static List *
ListMirrors(bool *present, int *count)
{
	List	   *ids = NIL;

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	*present = OidIsValid(get_extension_oid("vectorpg", true)) &&
		OidIsValid(get_namespace_oid("vectorpg", true)) &&
		OidIsValid(get_relname_relid("mirrors", get_namespace_oid("vectorpg", true)));
	*count = 0;
	if (*present)
	{
		SPI_connect();
		PushActiveSnapshot(GetTransactionSnapshot());
		ExecCatalog("SELECT id, state = 'running' AND (retry_at IS NULL OR retry_at <= now()),"
					" backfill_done FROM vectorpg.mirrors ORDER BY id",
					0, NULL, NULL, NULL, SPI_OK_SELECT);
		*count = SPI_processed;
		for (uint64 i = 0; i < SPI_processed; i++)
		{
			bool		isnull;
			int32		id = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[i],
														 SPI_tuptable->tupdesc, 1, &isnull));
			bool		runnable = DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i],
															  SPI_tuptable->tupdesc, 2, &isnull));

			bool		backfilling = !DatumGetBool(SPI_getbinval(SPI_tuptable->vals[i],
																	  SPI_tuptable->tupdesc, 3, &isnull));

			if (runnable)
			{
				MemoryContext old = MemoryContextSwitchTo(worker_context);

				/* a negative entry: drain only, the backfill is done */
				ids = lappend_int(ids, backfilling ? id : -id);
				MemoryContextSwitchTo(old);
			}
		}
		PopActiveSnapshot();
		SPI_finish();
	}
	CommitTransactionCommand();
	return ids;
}

/*
 * Entry point of the mirror worker (registered by MirrorLaunchWorker with
 * the database's OID as argument).  Connects as the bootstrap superuser,
 * takes the per-database lock (or exits: another worker runs), and loops
 * until the extension or the last mirror is gone.
 */
void
vectorpg_mirror_worker_main(Datum arg)
{
	Oid			dboid = DatumGetObjectId(arg);
	LOCKTAG		tag;
	bool		locked;
	TimestampTz idle_since = 0;
	MemoryContext attempt_cxt;

	pqsignal(SIGHUP, SignalHandlerForConfigReload);
	pqsignal(SIGTERM, die);
	BackgroundWorkerUnblockSignals();
	BackgroundWorkerInitializeConnectionByOid(dboid, InvalidOid, 0);
	pgstat_report_appname("vectorpg mirror worker");

	worker_context = AllocSetContextCreate(TopMemoryContext, "vectorpg mirror worker",
										   ALLOCSET_DEFAULT_SIZES);
	attempt_cxt = AllocSetContextCreate(worker_context, "vectorpg mirror attempt",
										ALLOCSET_DEFAULT_SIZES);

	SetCurrentStatementStartTimestamp();
	StartTransactionCommand();
	SET_LOCKTAG_ADVISORY(tag, MyDatabaseId, MIRROR_LOCK_KEY1, MIRROR_LOCK_KEY2, 2);
	locked = LockAcquire(&tag, ExclusiveLock, true, true) != LOCKACQUIRE_NOT_AVAIL;
	CommitTransactionCommand();
	if (!locked)
		proc_exit(0);			/* another worker serves this database */
	ereport(LOG, (errmsg("vectorpg mirror worker started")));

	for (;;)
	{
		bool		present;
		int			count;
		List	   *ids;
		ListCell   *lc;
		bool		worked = false;

		CHECK_FOR_INTERRUPTS();
		if (ConfigReloadPending)
		{
			ConfigReloadPending = false;
			ProcessConfigFile(PGC_SIGHUP);
		}
		ids = ListMirrors(&present, &count);
		if (!present)
			break;
		foreach(lc, ids)
		{
			int32		id = abs(lfirst_int(lc));

			if (Attempt(id, MIRROR_DRAIN, attempt_cxt) > 0)
				worked = true;
			if (lfirst_int(lc) > 0 &&
				Attempt(id, MIRROR_BACKFILL, attempt_cxt) > 0)
				worked = true;
		}
		list_free(ids);

		if (count == 0)
		{
			if (idle_since == 0)
				idle_since = GetCurrentTimestamp();
			else if (TimestampDifferenceExceeds(idle_since, GetCurrentTimestamp(),
												MIRROR_IDLE_EXIT_MS))
				break;
		}
		else
			idle_since = 0;

		if (!worked)
		{
			(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
							 mirror_naptime_ms, PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
		}
	}
	ereport(LOG, (errmsg("vectorpg mirror worker exiting: no mirror left in this database")));
	proc_exit(0);
}
