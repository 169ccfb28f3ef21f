/*-------------------------------------------------------------------------
 *
 * fdw_connection.c
 *	  The cache of libcurl handles: one per (backend, user mapping), reused
 *	  across requests and queries so that TCP and TLS connections stay
 *	  alive, dropped when the server or the user mapping changes, and
 *	  cleaned up when the backend exits.
 *
 * Design, after postgres_fdw's connection.c:
 *
 *	- A backend-local hash table keyed by the user mapping's OID holds a
 *	  multi handle and an easy handle.  The transport drives the easy handle
 *	  through the multi handle (so that it can poll for interrupts between
 *	  steps), and libcurl keeps its pool of open connections, DNS cache and
 *	  TLS sessions in the multi handle: as long as the entry lives, requests
 *	  to the same host reuse one connection (HTTP keep-alive).
 *	- Syscache invalidation callbacks on FOREIGNSERVEROID and USERMAPPINGOID
 *	  mark the entries of a changed server or mapping; the next request
 *	  through such an entry closes its handles and opens new ones, so that
 *	  ALTER SERVER or ALTER USER MAPPING takes effect at once (a new CA file,
 *	  a new key, a new host) and no connection made under old settings is
 *	  reused.  Nothing is closed inside the callback itself: invalidation
 *	  can arrive while a request is being set up.
 *	- Handles are created lazily in a backend, never in the postmaster;
 *	  libcurl itself is loaded, and curl_global_init run, on the first
 *	  request (remote_curl.c).  An on_proc_exit callback closes every
 *	  handle at backend exit.
 *	- A request that failed or was aborted mid-transfer leaves a handle that
 *	  libcurl itself has disconnected; RemoteConnectionDiscard exists for
 *	  the cases where the transport wants a clean slate anyway.
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"


#include "access/htup_details.h"
#include "catalog/pg_user_mapping.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/ipc.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"

#include "remote.h"
#include "remote_curl.h"

/* One cached handle pair */
typedef struct RemoteConnEntry
{
	Oid			umid;			/* hash key: the user mapping */
	Oid			serverid;
	CURLM	   *multi;			/* owns the connection pool */
	CURL	   *easy;			/* the request handle */
	uint32		server_hashvalue;	/* syscache hash of the server row */
	uint32		mapping_hashvalue;	/* syscache hash of the mapping row */
	bool		invalidated;	/* server or mapping changed: renew */
	int64		requests;		/* requests made through this entry */
} RemoteConnEntry;

static HTAB *ConnectionHash = NULL;

static void RemoteConnInvalCallback(Datum arg, int cacheid, uint32 hashvalue);
static void RemoteConnExit(int code, Datum arg);

/* Close the handles of one entry (leaves the hash entry itself in place) */
static void
CloseEntry(RemoteConnEntry *entry)
{
	if (entry->multi && entry->easy)
		curl_multi_remove_handle(entry->multi, entry->easy);
	if (entry->easy)
		curl_easy_cleanup(entry->easy);
	if (entry->multi)
		curl_multi_cleanup(entry->multi);
	entry->easy = NULL;
	entry->multi = NULL;
}

/*
 * Set up the cache on first use in this backend: the hash table, the
 * invalidation callbacks and the exit callback.
 */
static void
InitConnectionHash(void)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(Oid);
	ctl.entrysize = sizeof(RemoteConnEntry);
	ctl.hcxt = TopMemoryContext;
	ConnectionHash = hash_create("vectorpg remote connections", 8, &ctl,
								 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	CacheRegisterSyscacheCallback(FOREIGNSERVEROID, RemoteConnInvalCallback, (Datum) 0);
	CacheRegisterSyscacheCallback(USERMAPPINGOID, RemoteConnInvalCallback, (Datum) 0);
	on_proc_exit(RemoteConnExit, (Datum) 0);
}

/*
 * The easy handle (and through *multi its multi handle) to use for a
 * request of this target; *fresh tells whether the handles were just made,
 * i.e. the request opens a new connection.  The handles stay owned by the
 * cache.
 */
void *
RemoteConnectionGet(RemoteTarget *target, void **multi, bool *fresh)
{
	RemoteConnEntry *entry;
	bool		found;

	if (ConnectionHash == NULL)
		InitConnectionHash();

	entry = hash_search(ConnectionHash, &target->umid, HASH_ENTER, &found);
	if (!found)
	{
		entry->serverid = target->serverid;
		entry->multi = NULL;
		entry->easy = NULL;
		entry->invalidated = false;
		entry->requests = 0;
	}
	if (entry->invalidated)
	{
		CloseEntry(entry);
		entry->invalidated = false;
	}
	*fresh = false;
	if (entry->easy == NULL)
	{
		entry->serverid = target->serverid;
		entry->server_hashvalue =
			GetSysCacheHashValue1(FOREIGNSERVEROID, ObjectIdGetDatum(target->serverid));
		entry->mapping_hashvalue =
			GetSysCacheHashValue1(USERMAPPINGOID, ObjectIdGetDatum(target->umid));
		entry->multi = curl_multi_init();
		entry->easy = curl_easy_init();
		if (entry->multi == NULL || entry->easy == NULL)
		{
			CloseEntry(entry);
			ereport(ERROR,
					(errcode(ERRCODE_FDW_OUT_OF_MEMORY),
					 errmsg("could not create a connection handle for server \"%s\"",
							target->servername)));
		}
		/* one connection per host is all a backend needs */
		curl_multi_setopt(entry->multi, CURLMOPT_MAXCONNECTS, 4L);
		*fresh = true;
	}
	entry->requests++;
	*multi = entry->multi;
	return entry->easy;
}

/* Drop the handles of a target's mapping, so that the next request starts afresh */
void
RemoteConnectionDiscard(RemoteTarget *target)
{
	RemoteConnEntry *entry;

	if (ConnectionHash == NULL)
		return;
	entry = hash_search(ConnectionHash, &target->umid, HASH_FIND, NULL);
	if (entry)
		CloseEntry(entry);
}

/*
 * Syscache callback: a server or user mapping row changed (or every row,
 * hashvalue 0).  Mark the entries that depend on it; they are renewed at
 * their next use.
 */
static void
RemoteConnInvalCallback(Datum arg, int cacheid, uint32 hashvalue)
{
	HASH_SEQ_STATUS scan;
	RemoteConnEntry *entry;

	hash_seq_init(&scan, ConnectionHash);
	while ((entry = hash_seq_search(&scan)) != NULL)
	{
		if (hashvalue == 0 ||
			(cacheid == FOREIGNSERVEROID && entry->server_hashvalue == hashvalue) ||
			(cacheid == USERMAPPINGOID && entry->mapping_hashvalue == hashvalue))
			entry->invalidated = true;
	}
}

/* Backend exit: close every handle, so that connections end cleanly */
static void
RemoteConnExit(int code, Datum arg)
{
	HASH_SEQ_STATUS scan;
	RemoteConnEntry *entry;

	if (ConnectionHash == NULL)
		return;
	hash_seq_init(&scan, ConnectionHash);
	while ((entry = hash_seq_search(&scan)) != NULL)
		CloseEntry(entry);
}

PG_FUNCTION_INFO_V1(remote_connections);

/*
 * vectorpg.remote_connections(): the cached handles of this backend, so
 * that tests and users can see reuse and invalidation.
 */
Datum
remote_connections(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS scan;
	RemoteConnEntry *entry;

	InitMaterializedSRF(fcinfo, 0);
	if (ConnectionHash == NULL)
		return (Datum) 0;
	hash_seq_init(&scan, ConnectionHash);
	while ((entry = hash_seq_search(&scan)) != NULL)
	{
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};
		ForeignServer *server;

		if (entry->easy == NULL)
			continue;
		server = GetForeignServerExtended(entry->serverid, FSV_MISSING_OK);
		if (server)
			values[0] = CStringGetTextDatum(server->servername);
		else
			nulls[0] = true;
		values[1] = ObjectIdGetDatum(entry->umid);
		values[2] = BoolGetDatum(!entry->invalidated);
		values[3] = Int64GetDatum(entry->requests);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

/*
 * Module initialisation, called once from _PG_init: the settings of the
 * other transport modules (libcurl's global state waits for the first
 * request: remote_curl.c)
 */
void
RemoteConnectionInit(void)
{
	RemoteRecordInit();
	RemoteMetricsInit();
}
