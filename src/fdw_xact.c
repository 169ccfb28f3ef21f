/*
 * fdw_xact.c: the per-transaction write buffer of vectorpg_fdw.
 *
 * INSERT, UPDATE and DELETE on a foreign table of vectorpg_fdw do not talk
 * to the remote: each row becomes a RemoteWrite (an upsert or a delete by
 * id) appended to this buffer, and the whole buffer is sent when the
 * transaction commits.  So ROLLBACK and ROLLBACK TO SAVEPOINT send nothing,
 * and a remote failure can still abort the transaction.
 *
 * Layout: one FdwXactTable per (foreign table, user), in the order the
 * transaction first wrote to them, each with the RemoteTarget resolved when
 * the table was first written and an ordered log of writes.  Every log
 * entry carries the subtransaction nesting level that wrote it.  The
 * entries of a level are always a suffix of the log (a deeper level starts
 * after everything of the levels above it), so
 *
 *   - ROLLBACK TO SAVEPOINT (subtransaction abort at level L) cuts the
 *     suffix of entries at levels >= L, and
 *   - RELEASE (subtransaction commit at level L) relabels that suffix to
 *     level L - 1.
 *
 * Coalescing by id happens when the log is sent: the last write of an id
 * wins (upsert then delete = delete; delete then upsert = upsert), so the
 * remote sees each id at most once per commit, as RemoteWriteMany wants.
 *
 * Sending: at XACT_EVENT_PRE_COMMIT (and PARALLEL_PRE_COMMIT) every table's
 * coalesced writes go through RemoteWriteMany.  An error there is an ERROR
 * in pre-commit, which aborts the transaction: nothing local is committed.
 * Writes of tables (or chunks) sent before the failure stay applied on the
 * remote; resending them is harmless because an upsert or a delete by id is
 * idempotent.  PREPARE TRANSACTION is refused while the buffer holds
 * anything (the remote has no two-phase commit).  At abort the buffer is
 * simply forgotten: it lives in TopTransactionContext.
 *
 * Memory: the log is bounded by vectorpg.fdw_write_buffer_limit (bytes of
 * ids, values and metadata); a write beyond it is an error (54000), never a
 * silent early flush, so that a rollback still sends nothing.
 */
#include "postgres.h"

#include "access/xact.h"
#include "common/hashfn.h"
#include "fdw.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

/* One buffered write */
typedef struct XactWrite
{
	RemoteWrite w;				/* strings and values in the buffer's context */
	int			level;			/* subtransaction nesting level that wrote it */
	Size		bytes;			/* what it counts against the limit */
} XactWrite;

/* The buffered writes to one foreign table, as one user */
typedef struct XactTable
{
	Oid			relid;
	Oid			userid;
	char	   *relname;
	RemoteTarget *target;
	XactWrite  *log;
	int			nlog;
	int			maxlog;
	HTAB	   *latest;			/* id -> index of its last write, for fetches */
	bool		latest_valid;	/* false after a savepoint rollback cut the log */
} XactTable;

/* The transaction's buffer; NULL when the transaction wrote nothing */
typedef struct XactBuffer
{
	MemoryContext cxt;			/* child of TopTransactionContext */
	List	   *tables;			/* XactTable *, in order of the first write */
	Size		bytes;
} XactBuffer;

static XactBuffer *xact_buffer = NULL;
static bool xact_callbacks_registered = false;

/* vectorpg.fdw_write_buffer_limit, in kB */
int			fdw_write_buffer_limit_kb = FDW_DEFAULT_WRITE_BUFFER_LIMIT_KB;

/* Hash table entry: id -> position (of its write in a log or an output) */
typedef struct CoalesceEntry
{
	char	   *id;				/* key: points into the log */
	int			pos;
} CoalesceEntry;

static HTAB *MakeIdHash(const char *name, long size, MemoryContext cxt);
static void FdwXactCallback(XactEvent event, void *arg);
static void FdwSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
							   SubTransactionId parentSubid, void *arg);

/*
 * Register the setting of the buffer limit and the transaction callbacks;
 * called once from _PG_init so that the setting exists before any write.
 */
void
FdwXactInit(void)
{
	DefineCustomIntVariable("vectorpg.fdw_write_buffer_limit",
							"Most memory the writes of one transaction to vectorpg_fdw foreign tables may buffer until commit.",
							"A write beyond it is an error; commit in smaller transactions.",
							&fdw_write_buffer_limit_kb,
							FDW_DEFAULT_WRITE_BUFFER_LIMIT_KB,
							FDW_MIN_WRITE_BUFFER_LIMIT_KB,
							FDW_MAX_WRITE_BUFFER_LIMIT_KB,
							PGC_USERSET, GUC_UNIT_KB, NULL, NULL, NULL);
	if (!xact_callbacks_registered)
	{
		RegisterXactCallback(FdwXactCallback, NULL);
		RegisterSubXactCallback(FdwSubXactCallback, NULL);
		xact_callbacks_registered = true;
	}
}

/* The buffer's entry for a table and user, made on first use */
static XactTable *
GetXactTable(Oid relid, Oid userid)
{
	ListCell   *lc;
	XactTable  *t;
	MemoryContext old;

	if (xact_buffer == NULL)
	{
		MemoryContext cxt = AllocSetContextCreate(TopTransactionContext,
												  "vectorpg_fdw write buffer",
												  ALLOCSET_DEFAULT_SIZES);

		xact_buffer = MemoryContextAllocZero(cxt, sizeof(XactBuffer));
		xact_buffer->cxt = cxt;
	}
	foreach(lc, xact_buffer->tables)
	{
		t = lfirst(lc);
		if (t->relid == relid && t->userid == userid)
			return t;
	}
	old = MemoryContextSwitchTo(xact_buffer->cxt);
	t = palloc0(sizeof(XactTable));
	t->relid = relid;
	t->userid = userid;
	t->relname = get_rel_name(relid);
	t->target = RemoteTargetFromTable(relid, userid);
	t->maxlog = 64;
	t->log = palloc(sizeof(XactWrite) * t->maxlog);
	t->latest = MakeIdHash("vectorpg_fdw latest", 64, xact_buffer->cxt);
	t->latest_valid = true;
	xact_buffer->tables = lappend(xact_buffer->tables, t);
	MemoryContextSwitchTo(old);
	return t;
}

/*
 * The RemoteTarget writes of this table and user will be sent with: the
 * modify callbacks validate rows against it (dimension, id rules) as they
 * come, so that a bad row fails its statement, not the commit.
 */
RemoteTarget *
FdwXactTarget(Oid relid, Oid userid)
{
	return GetXactTable(relid, userid)->target;
}

/*
 * Buffer one write (copied into the buffer) for the commit of the current
 * transaction, at the current subtransaction level.
 */
void
FdwXactAdd(Oid relid, Oid userid, const RemoteWrite *w)
{
	XactTable  *t = GetXactTable(relid, userid);
	XactWrite  *e;
	MemoryContext old;
	Size		bytes;
	Size		limit = (Size) fdw_write_buffer_limit_kb * 1024;

	bytes = sizeof(XactWrite) + strlen(w->id) + 1;
	if (!w->is_delete)
		bytes += sizeof(float4) * w->dim +
			(w->metadata_json ? strlen(w->metadata_json) + 1 : 0) +
			(w->sparse_json ? strlen(w->sparse_json) + 1 : 0);
	if (xact_buffer->bytes + bytes > limit)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("the writes of this transaction to remote vector indexes exceed vectorpg.fdw_write_buffer_limit (%d kB)",
						fdw_write_buffer_limit_kb),
				 errdetail("Writes to vectorpg_fdw foreign tables are kept in memory until the transaction commits."),
				 errhint("Commit in smaller transactions, or raise vectorpg.fdw_write_buffer_limit.")));

	old = MemoryContextSwitchTo(xact_buffer->cxt);
	if (t->nlog == t->maxlog)
	{
		t->maxlog *= 2;
		t->log = repalloc_huge(t->log, sizeof(XactWrite) * t->maxlog);
	}
	e = &t->log[t->nlog++];
	memset(e, 0, sizeof(XactWrite));
	e->w.id = pstrdup(w->id);
	e->w.is_delete = w->is_delete;
	if (!w->is_delete)
	{
		float4	   *v = palloc(sizeof(float4) * Max(w->dim, 1));

		memcpy(v, w->values, sizeof(float4) * w->dim);
		e->w.values = v;
		e->w.dim = w->dim;
		e->w.metadata_json = w->metadata_json ? pstrdup(w->metadata_json) : NULL;
		e->w.sparse_json = w->sparse_json ? pstrdup(w->sparse_json) : NULL;
	}
	e->level = GetCurrentTransactionNestLevel();
	e->bytes = bytes;
	xact_buffer->bytes += bytes;
	if (t->latest_valid)
	{
		char	   *key = (char *) e->w.id;
		CoalesceEntry *ce = hash_search(t->latest, &key, HASH_ENTER, NULL);

		ce->id = key;
		ce->pos = t->nlog - 1;
	}
	MemoryContextSwitchTo(old);
}

/* Number of writes buffered for all tables (for tests and EXPLAIN) */
int
FdwXactPending(void)
{
	ListCell   *lc;
	int			n = 0;

	if (xact_buffer == NULL)
		return 0;
	foreach(lc, xact_buffer->tables)
		n += ((XactTable *) lfirst(lc))->nlog;
	return n;
}

/* Hash and match functions for C-string keys held by pointer */
static uint32
CoalesceHash(const void *key, Size keysize)
{
	const char *s = *(char *const *) key;

	return hash_bytes((const unsigned char *) s, strlen(s));
}

/* Match function of the coalescing hash: equal ids */
static int
CoalesceMatch(const void *key1, const void *key2, Size keysize)
{
	return strcmp(*(char *const *) key1, *(char *const *) key2);
}

/* A hash table keyed by id strings (held by pointer) in a context */
static HTAB *
MakeIdHash(const char *name, long size, MemoryContext cxt)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(char *);
	ctl.entrysize = sizeof(CoalesceEntry);
	ctl.hash = CoalesceHash;
	ctl.match = CoalesceMatch;
	ctl.hcxt = cxt;
	return hash_create(name, size, &ctl,
					   HASH_ELEM | HASH_FUNCTION | HASH_COMPARE | HASH_CONTEXT);
}

/*
 * The table's log reduced to one write per id, the last one; returns the
 * count.  The output keeps the order of each id's first appearance.
 */
static int
Coalesce(XactTable *t, RemoteWrite **out)
{
	HTAB	   *hash;
	RemoteWrite *writes = palloc(sizeof(RemoteWrite) * Max(t->nlog, 1));
	int			n = 0;

	hash = MakeIdHash("vectorpg_fdw coalesce", Max(t->nlog, 16), CurrentMemoryContext);
	for (int i = 0; i < t->nlog; i++)
	{
		bool		found;
		char	   *key = (char *) t->log[i].w.id;
		CoalesceEntry *ce = hash_search(hash, &key, HASH_ENTER, &found);

		if (!found)
		{
			ce->id = key;
			ce->pos = n++;
		}
		writes[ce->pos] = t->log[i].w;
	}
	hash_destroy(hash);
	*out = writes;
	return n;
}

/*
 * Send everything buffered, table by table; a failure becomes an error that
 * names the table, with the remote's reason in the detail.
 */
static void
SendAll(void)
{
	XactBuffer *buf = xact_buffer;
	MemoryContext cxt;
	MemoryContext old;
	ListCell   *lc;

	if (buf == NULL)
		return;
	cxt = AllocSetContextCreate(buf->cxt, "vectorpg_fdw send", ALLOCSET_DEFAULT_SIZES);
	old = MemoryContextSwitchTo(cxt);
	foreach(lc, buf->tables)
	{
		XactTable  *t = lfirst(lc);
		RemoteWrite *writes;
		int			n;

		if (t->nlog == 0)
			continue;
		n = Coalesce(t, &writes);
		PG_TRY();
		{
			RemoteWriteMany(t->target, writes, n);
		}
		PG_CATCH();
		{
			ErrorData  *edata;

			MemoryContextSwitchTo(cxt);
			edata = CopyErrorData();
			FlushErrorState();
			ereport(ERROR,
					(errcode(edata->sqlerrcode),
					 errmsg("could not send the writes of this transaction to foreign table \"%s\"",
							t->relname),
					 errdetail("%s%s%s", edata->message,
							   edata->detail ? ": " : "",
							   edata->detail ? edata->detail : ""),
					 errhint("The transaction was rolled back: nothing of it was committed locally. Writes already acknowledged by the remote stay applied there; sending them again is safe, upserts and deletes by id being idempotent.")));
		}
		PG_END_TRY();
	}
	MemoryContextSwitchTo(old);
	MemoryContextDelete(cxt);
}

/*
 * Transaction callback: send at pre-commit, refuse PREPARE with pending
 * writes, forget the buffer when the transaction ends either way.
 */
static void
FdwXactCallback(XactEvent event, void *arg)
{
	switch (event)
	{
		case XACT_EVENT_PRE_COMMIT:
		case XACT_EVENT_PARALLEL_PRE_COMMIT:
			SendAll();
			xact_buffer = NULL;
			break;
		case XACT_EVENT_PRE_PREPARE:
			if (FdwXactPending() > 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot prepare a transaction that wrote to a vectorpg_fdw foreign table"),
						 errdetail("Writes to a remote vector index are sent at commit, and the remote has no two-phase commit.")));
			xact_buffer = NULL;
			break;
		case XACT_EVENT_COMMIT:
		case XACT_EVENT_PARALLEL_COMMIT:
		case XACT_EVENT_ABORT:
		case XACT_EVENT_PARALLEL_ABORT:
		case XACT_EVENT_PREPARE:
			/* the memory goes with TopTransactionContext */
			xact_buffer = NULL;
			break;
	}
}

/*
 * Subtransaction callback: an aborted savepoint drops its writes (and
 * those of savepoints inside it); a released one hands them to its parent.
 */
static void
FdwSubXactCallback(SubXactEvent event, SubTransactionId mySubid,
				   SubTransactionId parentSubid, void *arg)
{
	int			level;
	ListCell   *lc;

	if (xact_buffer == NULL ||
		(event != SUBXACT_EVENT_ABORT_SUB && event != SUBXACT_EVENT_COMMIT_SUB))
		return;
	level = GetCurrentTransactionNestLevel();
	foreach(lc, xact_buffer->tables)
	{
		XactTable  *t = lfirst(lc);
		int			i = t->nlog;

		while (i > 0 && t->log[i - 1].level >= level)
		{
			i--;
			if (event == SUBXACT_EVENT_COMMIT_SUB)
				t->log[i].level = level - 1;
			else
				xact_buffer->bytes -= t->log[i].bytes;
		}
		if (event == SUBXACT_EVENT_ABORT_SUB && i < t->nlog)
		{
			t->nlog = i;
			t->latest_valid = false;	/* rebuilt by the next fetch */
		}
	}
}

/*
 * A fetch by id reads the transaction's own writes: for each fetched id
 * with a buffered write to this table, the last one wins over the remote's
 * answer (an upsert is returned as written, a delete hides the record).
 * So UPDATE or DELETE by id after an INSERT in the same transaction, and
 * SELECT ... WHERE id = ..., see what the commit will send.  Searches and
 * full scans see only what the remote holds.
 */
RemoteResult *
FdwXactOverlayFetch(Oid relid, Oid userid, char **ids, int nids, RemoteResult *res)
{
	XactTable  *t = NULL;
	ListCell   *lc;
	RemoteResult *out;
	int			n = 0;

	if (xact_buffer == NULL || nids == 0)
		return res;
	foreach(lc, xact_buffer->tables)
	{
		XactTable  *x = lfirst(lc);

		if (x->relid == relid && x->userid == userid)
			t = x;
	}
	if (t == NULL || t->nlog == 0)
		return res;
	if (!t->latest_valid)
	{
		hash_destroy(t->latest);
		t->latest = MakeIdHash("vectorpg_fdw latest", Max(t->nlog, 64), xact_buffer->cxt);
		for (int i = 0; i < t->nlog; i++)
		{
			char	   *key = (char *) t->log[i].w.id;
			CoalesceEntry *ce = hash_search(t->latest, &key, HASH_ENTER, NULL);

			ce->id = key;
			ce->pos = i;
		}
		t->latest_valid = true;
	}

	out = palloc0(sizeof(RemoteResult));
	out->matches = palloc0(sizeof(RemoteMatch) * (nids + (res ? res->nmatches : 0)));
	/* the remote's records that have no buffered write */
	for (int i = 0; res && i < res->nmatches; i++)
	{
		char	   *key = res->matches[i].id;

		if (hash_search(t->latest, &key, HASH_FIND, NULL) == NULL)
			out->matches[n++] = res->matches[i];
	}
	/* the buffered upserts of the fetched ids */
	for (int i = 0; i < nids; i++)
	{
		char	   *key = ids[i];
		CoalesceEntry *ce = hash_search(t->latest, &key, HASH_FIND, NULL);
		RemoteWrite *w;
		RemoteMatch *m;

		if (ce == NULL || t->log[ce->pos].w.is_delete)
			continue;
		w = &t->log[ce->pos].w;
		m = &out->matches[n++];
		m->id = pstrdup(w->id);
		m->dim = w->dim;
		m->values = palloc(sizeof(float4) * Max(w->dim, 1));
		memcpy(m->values, w->values, sizeof(float4) * w->dim);
		m->metadata_json = w->metadata_json ? pstrdup(w->metadata_json) : NULL;
		m->sparse_json = w->sparse_json ? pstrdup(w->sparse_json) : NULL;
	}
	out->nmatches = n;
	return out;
}
