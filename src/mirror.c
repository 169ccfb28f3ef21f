/*-------------------------------------------------------------------------
 *
 * mirror.c
 *	  Mirroring, the backend side: the capture trigger, the launcher of the
 *	  per-database background worker, and the C helpers of the SQL functions
 *	  in sql/install/40_mirror.sql (doc/mirror.md).
 *
 * The capture trigger (vectorpg.mirror_capture) is a statement-level AFTER
 * trigger with transition tables: one INSERT ... SELECT per statement copies
 * the changed ids into vectorpg.mirror_outbox, in the writer's transaction,
 * so a rollback enqueues nothing and a commit never misses a change.  The
 * outbox insert runs as the outbox's owner (the extension's owner), so that
 * writers need no privilege on the outbox and cannot enqueue by hand.  A
 * BEFORE TRUNCATE trigger uses the same function to enqueue every id of the
 * table before it is emptied, so that the worker deletes them remotely.
 *
 * The worker: there is at most one per database.  It holds a session-level
 * advisory lock (mirror.h) for its whole life; MirrorWorkerRunning tries
 * that lock without waiting, and whoever finds it free registers a dynamic
 * background worker.  Two launchers racing may both register one; the
 * second worker finds the lock taken and exits at once with status 0, so
 * one worker remains.  The trigger checks at most once per
 * MIRROR_LAUNCH_INTERVAL_MS per backend, so a busy writer pays for a lock
 * probe only once a second.  No shared memory and no
 * shared_preload_libraries are needed.
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "access/xlog.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "postmaster/bgworker.h"
#include "storage/lock.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

#include "mirror.h"
#include "remote.h"
#include "remote_client.h"

int			mirror_naptime_ms = MIRROR_DEFAULT_NAPTIME_MS;

/* When this backend last probed for a worker (capture trigger) */
static TimestampTz last_probe = 0;

PG_FUNCTION_INFO_V1(mirror_capture);
PG_FUNCTION_INFO_V1(mirror_worker_start);
PG_FUNCTION_INFO_V1(mirror_remote_info);
PG_FUNCTION_INFO_V1(mirror_remote_delete);
PG_FUNCTION_INFO_V1(mirror_limits);

/* Register the mirror's settings; called from _PG_init */
void
MirrorInit(void)
{
	DefineCustomIntVariable("vectorpg.mirror_naptime_ms",
							"How long the mirror worker sleeps when it has nothing to do.",
							"Changes are noticed within this delay; the capture trigger does not wake the worker.",
							&mirror_naptime_ms,
							MIRROR_DEFAULT_NAPTIME_MS,
							MIRROR_MIN_NAPTIME_MS, MIRROR_MAX_NAPTIME_MS,
							PGC_SIGHUP, GUC_UNIT_MS,
							NULL, NULL, NULL);
}

/* The worker's advisory lock in this database */
static void
MirrorLockTag(LOCKTAG *tag)
{
	SET_LOCKTAG_ADVISORY(*tag, MyDatabaseId, MIRROR_LOCK_KEY1,
						 MIRROR_LOCK_KEY2, 2);
}

/*
 * Is a mirror worker running in this database?  Probes the worker's lock
 * without waiting; the probe is released at once.
 */
bool
MirrorWorkerRunning(void)
{
	LOCKTAG		tag;
	LockAcquireResult res;

	MirrorLockTag(&tag);
	res = LockAcquire(&tag, ExclusiveLock, true, true);
	if (res == LOCKACQUIRE_NOT_AVAIL)
		return true;
	if (res == LOCKACQUIRE_ALREADY_HELD || res == LOCKACQUIRE_ALREADY_CLEAR)
	{
		/* this backend holds it: it is the worker itself */
		LockRelease(&tag, ExclusiveLock, true);
		return true;
	}
	LockRelease(&tag, ExclusiveLock, true);
	return false;
}

/*
 * Register a worker for this database.  With report, a failure (no free
 * background worker slot) is a WARNING with a hint; the capture trigger
 * passes false and only logs at DEBUG1, since the next statement retries.
 */
bool
MirrorLaunchWorker(bool report)
{
	BackgroundWorker worker;
	BackgroundWorkerHandle *handle;

	memset(&worker, 0, sizeof(worker));
	worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
	worker.bgw_start_time = BgWorkerStart_RecoveryFinished;
	worker.bgw_restart_time = MIRROR_RESTART_SECONDS;
	snprintf(worker.bgw_library_name, BGW_MAXLEN, "vectorpg");
	snprintf(worker.bgw_function_name, BGW_MAXLEN, "vectorpg_mirror_worker_main");
	snprintf(worker.bgw_name, BGW_MAXLEN, "vectorpg mirror worker for database %u",
			 MyDatabaseId);
	snprintf(worker.bgw_type, BGW_MAXLEN, "vectorpg mirror worker");
	worker.bgw_main_arg = ObjectIdGetDatum(MyDatabaseId);
	worker.bgw_notify_pid = 0;

	if (!RegisterDynamicBackgroundWorker(&worker, &handle))
	{
		ereport(report ? WARNING : DEBUG1,
				(errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
				 errmsg("could not start the vectorpg mirror worker"),
				 errdetail("No background worker slot is free."),
				 errhint("Raise max_worker_processes; changes stay in the outbox until a worker runs.")));
		return false;
	}
	return true;
}

/*
 * Process id of this database's mirror worker, or 0: the holder of the
 * worker's lock, read from pg_locks.
 */
int
MirrorWorkerPid(void)
{
	int			pid = 0;
	Datum		args[2];
	Oid			types[2] = {OIDOID, OIDOID};
	bool		isnull;

	args[0] = ObjectIdGetDatum((Oid) MIRROR_LOCK_KEY1);
	args[1] = ObjectIdGetDatum((Oid) MIRROR_LOCK_KEY2);
	SPI_connect();
	if (SPI_execute_with_args("SELECT pid FROM pg_catalog.pg_locks"
							  " WHERE locktype = 'advisory' AND granted"
							  " AND database = (SELECT oid FROM pg_catalog.pg_database"
							  "                  WHERE datname = pg_catalog.current_database())"
							  " AND classid = $1 AND objid = $2 AND objsubid = 2",
							  2, types, args, NULL, true, 1) == SPI_OK_SELECT &&
		SPI_processed > 0)
	{
		Datum		d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1,
									  &isnull);

		if (!isnull)
			pid = DatumGetInt32(d);
	}
	SPI_finish();
	return pid;
}

/*
 * The capture trigger calls this after enqueueing: launch a worker when none
 * runs, probing at most once per MIRROR_LAUNCH_INTERVAL_MS in this backend.
 */
static void
MirrorKick(void)
{
	TimestampTz now = GetCurrentTimestamp();

	if (last_probe != 0 &&
		!TimestampDifferenceExceeds(last_probe, now, MIRROR_LAUNCH_INTERVAL_MS))
		return;
	last_probe = now;
	if (!MirrorWorkerRunning())
		MirrorLaunchWorker(false);
}

/* A capture trigger's prepared enqueue statement, by trigger OID */
typedef struct CapturePlanEntry
{
	Oid			tgoid;
	Oid			relid;			/* the trigger's table */
	bool		stale;			/* the table changed: prepare again */
	SPIPlanPtr	plan;
} CapturePlanEntry;

static HTAB *capture_plans = NULL;

/*
 * Relcache invalidation: a changed table (a column added, its id column's
 * type altered) may change its transition tables' row type, which the plan
 * cache does not track for them; mark its plans stale.
 */
static void
CapturePlanInval(Datum arg, Oid relid)
{
	HASH_SEQ_STATUS seq;
	CapturePlanEntry *entry;

	hash_seq_init(&seq, capture_plans);
	while ((entry = hash_seq_search(&seq)) != NULL)
		if (relid == InvalidOid || entry->relid == relid)
			entry->stale = true;
}

/*
 * The prepared enqueue statement of trigger tgoid, prepared on first use
 * (parsing and planning it for every statement was a third of the
 * trigger's cost on single-row writes).  The statement names only the
 * transition tables and the outbox, so the plan cache's revalidation keeps
 * it right; a dropped trigger's entry is simply never used again.  Must be
 * called after SPI_register_trigger_data.
 */
static SPIPlanPtr
CapturePlan(Oid tgoid, Oid relid, const char *query, Oid *argtypes)
{
	CapturePlanEntry *entry;
	bool		found;

	if (capture_plans == NULL)
	{
		HASHCTL		ctl;

		ctl.keysize = sizeof(Oid);
		ctl.entrysize = sizeof(CapturePlanEntry);
		capture_plans = hash_create("vectorpg mirror capture plans", 16, &ctl,
									HASH_ELEM | HASH_BLOBS);
		CacheRegisterRelcacheCallback(CapturePlanInval, (Datum) 0);
	}
	entry = hash_search(capture_plans, &tgoid, HASH_ENTER, &found);
	if (!found)
	{
		entry->plan = NULL;
		entry->stale = false;
	}
	entry->relid = relid;
	if (entry->plan != NULL && entry->stale)
	{
		SPI_freeplan(entry->plan);
		entry->plan = NULL;
	}
	if (entry->plan == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(query, 1, argtypes);

		if (plan == NULL)
			elog(ERROR, "mirror capture: SPI_prepare failed: %s",
				 SPI_result_code_string(SPI_result));
		SPI_keepplan(plan);
		entry->plan = plan;
		entry->stale = false;
	}
	return entry->plan;
}

/* Owner of vectorpg.mirror_outbox, as whom the trigger enqueues */
static Oid
OutboxOwner(void)
{
	Oid			nsp = get_namespace_oid("vectorpg", false);
	Oid			relid = get_relname_relid("mirror_outbox", nsp);
	HeapTuple	tup;
	Oid			owner;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"vectorpg.mirror_outbox\" does not exist")));
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return owner;
}

/*
 * vectorpg.mirror_capture(): the trigger function of every mirrored table.
 * Arguments (set by vectorpg.mirror): the mirror's id and the id column.
 * AFTER INSERT/UPDATE/DELETE FOR EACH STATEMENT with transition tables
 * enqueues the ids in them (an UPDATE both old and new ids, so that a
 * changed id deletes the old record); BEFORE TRUNCATE enqueues every id of
 * the table.
 */
Datum
mirror_capture(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	Trigger    *tg;
	Relation	rel;
	const char *idcol;
	int32		mirror_id;
	StringInfoData src;
	StringInfoData query;
	Oid			save_userid;
	int			save_sec;
	Oid			argtypes[1] = {INT4OID};
	Datum		args[1];
	int			ret;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("vectorpg.mirror_capture() was not called by the trigger manager")));
	if (!TRIGGER_FIRED_FOR_STATEMENT(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("vectorpg.mirror_capture() must be fired for each statement")));
	tg = trigdata->tg_trigger;
	rel = trigdata->tg_relation;
	if (tg->tgnargs != 2)
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("vectorpg.mirror_capture() needs two trigger arguments, the mirror and the id column")));
	mirror_id = pg_strtoint32(tg->tgargs[0]);
	idcol = quote_identifier(tg->tgargs[1]);

	initStringInfo(&src);
	if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		appendStringInfo(&src, "SELECT %s FROM ONLY %s", idcol,
						 quote_qualified_identifier(get_namespace_name(RelationGetNamespace(rel)),
													RelationGetRelationName(rel)));
	else
	{
		if (trigdata->tg_oldtable && tg->tgoldtable)
			appendStringInfo(&src, "SELECT %s FROM %s", idcol,
							 quote_identifier(tg->tgoldtable));
		if (trigdata->tg_newtable && tg->tgnewtable)
			appendStringInfo(&src, "%sSELECT %s FROM %s",
							 src.len > 0 ? " UNION " : "", idcol,
							 quote_identifier(tg->tgnewtable));
		if (src.len == 0)
			ereport(ERROR,
					(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
					 errmsg("vectorpg.mirror_capture() needs a transition table"),
					 errhint("Create the trigger with vectorpg.mirror().")));
	}
	initStringInfo(&query);
	appendStringInfo(&query,
					 "INSERT INTO vectorpg.mirror_outbox (mirror_id, row_id)"
					 " SELECT $1, s.x::text FROM (%s) s(x) WHERE s.x IS NOT NULL",
					 src.data);

	/* enqueue as the outbox's owner; the transition tables need no privilege */
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(OutboxOwner(),
						   save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	args[0] = Int32GetDatum(mirror_id);
	SPI_connect();
	SPI_register_trigger_data(trigdata);
	if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
		ret = SPI_execute_with_args(query.data, 1, argtypes, args, NULL, false, 0);
	else
		ret = SPI_execute_plan(CapturePlan(tg->tgoid, RelationGetRelid(rel), query.data, argtypes),
							   args, NULL, false, 0);
	if (ret != SPI_OK_INSERT)
		elog(ERROR, "mirror capture: enqueueing returned %d", ret);
	SPI_finish();
	SetUserIdAndSecContext(save_userid, save_sec);

	MirrorKick();
	return PointerGetDatum(NULL);
}

/*
 * vectorpg.mirror_worker_start(): the pid of this database's mirror worker;
 * when none runs, launch one and return NULL (it is starting).  Used by the
 * mirror functions and the status view, so that after a restart of
 * PostgreSQL looking at the mirrors brings the worker back.
 */
Datum
mirror_worker_start(PG_FUNCTION_ARGS)
{
	int			pid;

	if (RecoveryInProgress())
		PG_RETURN_NULL();
	pid = MirrorWorkerPid();
	if (pid != 0)
		PG_RETURN_INT32(pid);
	if (!MirrorWorkerRunning())
		MirrorLaunchWorker(true);
	PG_RETURN_NULL();
}

/*
 * Check that relid is a foreign table of vectorpg_fdw and resolve it for
 * userid; the mirror functions name the table in their errors.
 */
static RemoteTarget *
MirrorTarget(Oid relid, Oid userid)
{
	ForeignTable *table;
	ForeignServer *server;
	ForeignDataWrapper *fdw;

	if (get_rel_relkind(relid) != RELKIND_FOREIGN_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a foreign table", get_rel_name(relid)),
				 errhint("A mirror's target is a foreign table of vectorpg_fdw.")));
	table = GetForeignTable(relid);
	server = GetForeignServer(table->serverid);
	fdw = GetForeignDataWrapper(server->fdwid);
	if (strcmp(fdw->fdwname, "vectorpg_fdw") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("foreign table \"%s\" does not belong to vectorpg_fdw",
						get_rel_name(relid))));
	return RemoteTargetFromTable(relid, userid);
}

/*
 * vectorpg.mirror_remote_info(target): dimension, metric and record count
 * of a foreign table's remote index, asked afresh (the per-backend describe
 * cache is dropped first).  For mirror_doctor (credentials, dimension,
 * metric) and mirror_verify (count).  The count is the namespace's for
 * Pinecone, the collection's for Milvus (NULL when the remote does not say).
 */
Datum
mirror_remote_info(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	RemoteTarget *target = MirrorTarget(relid, GetUserId());
	RemoteIndexInfo *info;
	int64		count;
	TupleDesc	tupdesc;
	Datum		values[3];
	bool		nulls[3] = {false, false, false};
	const char *metric;

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	RemoteCacheForget(target);
	info = RemoteDescribe(target);
	count = info->count;
	if (target->provider == REMOTE_PINECONE)
		count = PineconeNamespaceCount(target);
	values[0] = Int32GetDatum(info->dimension);
	metric = RemoteMetricName(target->provider, info->metric);
	if (metric)
		values[1] = CStringGetTextDatum(metric);
	else
		nulls[1] = true;
	values[2] = Int64GetDatum(count);
	nulls[2] = count < 0;
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}

/*
 * vectorpg.mirror_remote_delete(target, ids): delete these ids remotely
 * (mirror_drop's optional clean-up).  Returns how many ids were sent.
 */
Datum
mirror_remote_delete(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	ArrayType  *arr = PG_GETARG_ARRAYTYPE_P(1);
	RemoteTarget *target = MirrorTarget(relid, GetUserId());
	Datum	   *elems;
	bool	   *nulls;
	int			n,
				k = 0;
	RemoteWrite *writes;

	deconstruct_array(arr, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
	writes = palloc0(sizeof(RemoteWrite) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		if (nulls[i])
			continue;
		writes[k].id = TextDatumGetCString(elems[i]);
		writes[k].is_delete = true;
		k++;
	}
	if (k > 0)
		RemoteWriteMany(target, writes, k);
	PG_RETURN_INT64(k);
}

/*
 * vectorpg.mirror_limits(): the tunables of mirror.h, so that the SQL
 * functions check option ranges against the C constants and tests probe
 * the bounds without repeating them.
 */
Datum
mirror_limits(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	static const struct
	{
		const char *name;
		int64		min,
					def,
					max;
	}			limits[] =
	{
		{"batch_size", MIRROR_MIN_BATCH_SIZE, MIRROR_DEFAULT_BATCH_SIZE, MIRROR_MAX_BATCH_SIZE},
		{"max_errors", MIRROR_MIN_MAX_ERRORS, MIRROR_DEFAULT_MAX_ERRORS, MIRROR_MAX_MAX_ERRORS},
		{"backoff_cap_ms", MIRROR_MIN_BACKOFF_CAP_MS, MIRROR_DEFAULT_BACKOFF_CAP_MS, MIRROR_MAX_BACKOFF_CAP_MS},
		{"naptime_ms", MIRROR_MIN_NAPTIME_MS, MIRROR_DEFAULT_NAPTIME_MS, MIRROR_MAX_NAPTIME_MS},
	};

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < lengthof(limits); i++)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = CStringGetTextDatum(limits[i].name);
		values[1] = Int64GetDatum(limits[i].min);
		values[2] = Int64GetDatum(limits[i].def);
		values[3] = Int64GetDatum(limits[i].max);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
