/*-------------------------------------------------------------------------
 *
 * remote_metrics.c
 *	  Counters of remote requests per (server, operation): calls, errors,
 *	  retries, new connections, bytes sent and received, and latency; read
 *	  through the view vectorpg.remote_metrics and cleared with
 *	  vectorpg.remote_metrics_reset().
 *
 * Where the counters live depends on how the library was loaded:
 *
 *	- In shared_preload_libraries: a hash table in shared memory, sized for
 *	  REMOTE_METRICS_MAX_ENTRIES keys, under one LWLock, so the view shows
 *	  the whole instance and a reset (superuser only) clears it for
 *	  everyone.  The lock is held for a hash lookup and a few additions per
 *	  call; a new key beyond the table's size is counted in the row
 *	  ("(overflow)", "*") instead of being lost silently.
 *	- Otherwise (loaded on first use by a session): a hash table in the
 *	  backend's own memory; each session sees its own requests since it
 *	  started or last reset.  No setup needed, no lock.
 *
 * vectorpg.remote_metrics_read() reports which in its "scope" column
 * ('instance' or 'session').
 *
 * A logical call is counted once, after its last attempt: "retries" is the
 * number of extra attempts, "errors" the calls that ended in an error
 * (cancellations are not counted: the request did not complete).
 * Latency covers all attempts and the waits between them.
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "remote.h"

/* Keys the shared table holds (servers x operations) */
#define REMOTE_METRICS_MAX_ENTRIES 1024

/* Hash key: a server and an operation name */
typedef struct RemoteMetricsKey
{
	Oid			serverid;
	char		operation[NAMEDATALEN];
} RemoteMetricsKey;

/* The counters of one key */
typedef struct RemoteMetricsEntry
{
	RemoteMetricsKey key;
	char		servername[NAMEDATALEN];	/* as last seen, for dropped servers */
	int64		calls;
	int64		errors;
	int64		retries;
	int64		connects;
	int64		bytes_sent;
	int64		bytes_received;
	double		total_ms;
	double		max_ms;
} RemoteMetricsEntry;

/* Backend-local table (library not preloaded) */
static HTAB *LocalMetrics = NULL;

/* Shared table and its lock (library preloaded) */
static HTAB *SharedMetrics = NULL;
static LWLock *SharedMetricsLock = NULL;
static bool metrics_shared = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* The key under which calls are counted when the shared table is full */
static void
OverflowKey(RemoteMetricsKey *key)
{
	memset(key, 0, sizeof(*key));
	key->serverid = InvalidOid;
	strlcpy(key->operation, "*", NAMEDATALEN);
}

/* shmem_request_hook: reserve the shared table and its lock */
static void
RemoteMetricsShmemRequest(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(hash_estimate_size(REMOTE_METRICS_MAX_ENTRIES,
											  sizeof(RemoteMetricsEntry)));
	RequestNamedLWLockTranche("vectorpg_remote_metrics", 1);
}

/* shmem_startup_hook: create or attach to the shared table */
static void
RemoteMetricsShmemStartup(void)
{
	HASHCTL		info;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();
	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	info.keysize = sizeof(RemoteMetricsKey);
	info.entrysize = sizeof(RemoteMetricsEntry);
	SharedMetrics = ShmemInitHash("vectorpg remote metrics",
								  REMOTE_METRICS_MAX_ENTRIES, REMOTE_METRICS_MAX_ENTRIES,
								  &info, HASH_ELEM | HASH_BLOBS);
	SharedMetricsLock = &(GetNamedLWLockTranche("vectorpg_remote_metrics"))->lock;
	/* the overflow entry exists from the start, so it can always be found */
	{
		RemoteMetricsKey key;
		RemoteMetricsEntry *entry;
		bool		found;

		OverflowKey(&key);
		entry = hash_search(SharedMetrics, &key, HASH_ENTER, &found);
		if (!found)
		{
			memset(((char *) entry) + sizeof(RemoteMetricsKey), 0,
				   sizeof(RemoteMetricsEntry) - sizeof(RemoteMetricsKey));
			strlcpy(entry->servername, "(overflow)", NAMEDATALEN);
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

/*
 * Module initialisation (called from RemoteConnectionInit): when loaded
 * from shared_preload_libraries, ask for the shared table.
 */
void
RemoteMetricsInit(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	metrics_shared = true;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = RemoteMetricsShmemRequest;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = RemoteMetricsShmemStartup;
}

/* Create the backend's table on first use */
static void
InitLocalMetrics(void)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(RemoteMetricsKey);
	ctl.entrysize = sizeof(RemoteMetricsEntry);
	ctl.hcxt = TopMemoryContext;
	LocalMetrics = hash_create("vectorpg remote metrics", 16, &ctl,
							   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/* Add one call to an entry */
static void
AddCall(RemoteMetricsEntry *entry, bool found, const char *servername, bool error,
		int retries, uint64 bytes_sent, uint64 bytes_received,
		double elapsed_ms, long connects)
{
	if (!found)
		memset(((char *) entry) + sizeof(RemoteMetricsKey), 0,
			   sizeof(RemoteMetricsEntry) - sizeof(RemoteMetricsKey));
	strlcpy(entry->servername, servername, NAMEDATALEN);
	entry->calls++;
	if (error)
		entry->errors++;
	entry->retries += retries;
	entry->connects += connects;
	entry->bytes_sent += bytes_sent;
	entry->bytes_received += bytes_received;
	entry->total_ms += elapsed_ms;
	if (elapsed_ms > entry->max_ms)
		entry->max_ms = elapsed_ms;
}

/* Count one logical call (see the file header) */
void
RemoteMetricsCount(RemoteTarget *target, const char *operation, bool error,
				   int retries, uint64 bytes_sent, uint64 bytes_received,
				   double elapsed_ms, long connects)
{
	RemoteMetricsKey key;
	RemoteMetricsEntry *entry;
	bool		found;
	const char *servername = target->servername ? target->servername : "?";

	memset(&key, 0, sizeof(key));
	key.serverid = target->serverid;
	strlcpy(key.operation, operation ? operation : "?", NAMEDATALEN);

	if (metrics_shared && SharedMetrics != NULL)
	{
		LWLockAcquire(SharedMetricsLock, LW_EXCLUSIVE);
		entry = hash_search(SharedMetrics, &key, HASH_ENTER_NULL, &found);
		if (entry == NULL)
		{
			/* table full: count under the overflow entry, made at startup */
			OverflowKey(&key);
			servername = "(overflow)";
			entry = hash_search(SharedMetrics, &key, HASH_FIND, &found);
			Assert(entry != NULL);
		}
		AddCall(entry, found, servername, error, retries, bytes_sent,
				bytes_received, elapsed_ms, connects);
		LWLockRelease(SharedMetricsLock);
		return;
	}

	if (LocalMetrics == NULL)
		InitLocalMetrics();
	entry = hash_search(LocalMetrics, &key, HASH_ENTER, &found);
	AddCall(entry, found, servername, error, retries, bytes_sent,
			bytes_received, elapsed_ms, connects);
}

PG_FUNCTION_INFO_V1(remote_metrics);

/* vectorpg.remote_metrics_read(): the rows of the view vectorpg.remote_metrics */
Datum
remote_metrics(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS scan;
	RemoteMetricsEntry *e;
	RemoteMetricsEntry *copy = NULL;
	int			n = 0;
	int			i;
	bool		shared = metrics_shared && SharedMetrics != NULL;
	HTAB	   *table = shared ? SharedMetrics : LocalMetrics;

	InitMaterializedSRF(fcinfo, 0);
	if (table == NULL)
		return (Datum) 0;

	/* copy under the lock, build tuples after releasing it */
	if (shared)
		LWLockAcquire(SharedMetricsLock, LW_SHARED);
	copy = palloc(sizeof(RemoteMetricsEntry) * Max(hash_get_num_entries(table), 1));
	hash_seq_init(&scan, table);
	while ((e = hash_seq_search(&scan)) != NULL)
	{
		if (e->calls > 0)
			copy[n++] = *e;
	}
	if (shared)
		LWLockRelease(SharedMetricsLock);

	for (i = 0; i < n; i++)
	{
		Datum		values[12];
		bool		nulls[12];
		ForeignServer *server;

		e = &copy[i];
		server = OidIsValid(e->key.serverid) ?
			GetForeignServerExtended(e->key.serverid, FSV_MISSING_OK) : NULL;
		memset(nulls, 0, sizeof(nulls));
		values[0] = CStringGetTextDatum(server ? server->servername : e->servername);
		values[1] = CStringGetTextDatum(e->key.operation);
		values[2] = Int64GetDatum(e->calls);
		values[3] = Int64GetDatum(e->errors);
		values[4] = Int64GetDatum(e->retries);
		values[5] = Int64GetDatum(e->connects);
		values[6] = Int64GetDatum(e->bytes_sent);
		values[7] = Int64GetDatum(e->bytes_received);
		values[8] = Float8GetDatum(e->total_ms);
		values[9] = Float8GetDatum(e->calls > 0 ? e->total_ms / e->calls : 0.0);
		values[10] = Float8GetDatum(e->max_ms);
		values[11] = CStringGetTextDatum(shared ? "instance" : "session");
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(remote_metrics_reset);

/*
 * vectorpg.remote_metrics_reset(): clear the counters (the instance's when
 * shared, so only a superuser may; this session's otherwise)
 */
Datum
remote_metrics_reset(PG_FUNCTION_ARGS)
{
	if (metrics_shared && SharedMetrics != NULL)
	{
		HASH_SEQ_STATUS scan;
		RemoteMetricsEntry *e;

		if (!superuser())
			ereport(ERROR,
					(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
					 errmsg("permission denied to reset the instance's remote metrics"),
					 errhint("Only a superuser can reset them when vectorpg is in shared_preload_libraries.")));
		LWLockAcquire(SharedMetricsLock, LW_EXCLUSIVE);
		hash_seq_init(&scan, SharedMetrics);
		while ((e = hash_seq_search(&scan)) != NULL)
		{
			if (OidIsValid(e->key.serverid) || strcmp(e->key.operation, "*") != 0)
				hash_search(SharedMetrics, &e->key, HASH_REMOVE, NULL);
			else
				memset(((char *) e) + sizeof(RemoteMetricsKey) + NAMEDATALEN, 0,
					   sizeof(RemoteMetricsEntry) - sizeof(RemoteMetricsKey) - NAMEDATALEN);
		}
		LWLockRelease(SharedMetricsLock);
		PG_RETURN_VOID();
	}
	if (LocalMetrics != NULL)
	{
		hash_destroy(LocalMetrics);
		LocalMetrics = NULL;
	}
	PG_RETURN_VOID();
}
