/*-------------------------------------------------------------------------
 *
 * remote_metrics.c
 *	  Counters of remote requests per (server, operation): calls, errors,
 *	  retries, new connections, bytes sent and received, and latency; read
 *	  through the view vectorpg.remote_metrics and cleared with
 *	  vectorpg.remote_metrics_reset().
 *
 * The counters are per backend: each session sees its own requests since
 * it started (or since its last reset).  This needs no shared memory, so it
 * works whether or not vectorpg is in shared_preload_libraries, costs no
 * lock on the request path, and is what the tests and the benchmark want
 * (the requests of one session).  Operators who want instance-wide totals
 * can sum the view from each session, or rely on the provider's own
 * metrics; doc/remote.md says so.
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
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/memutils.h"

#include "remote.h"

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

static HTAB *MetricsHash = NULL;

/* Module initialisation (called from RemoteConnectionInit): nothing shared */
void
RemoteMetricsInit(void)
{
}

/* Create the backend's table on first use */
static void
InitMetricsHash(void)
{
	HASHCTL		ctl;

	ctl.keysize = sizeof(RemoteMetricsKey);
	ctl.entrysize = sizeof(RemoteMetricsEntry);
	ctl.hcxt = TopMemoryContext;
	MetricsHash = hash_create("vectorpg remote metrics", 16, &ctl,
							  HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
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

	if (MetricsHash == NULL)
		InitMetricsHash();
	memset(&key, 0, sizeof(key));
	key.serverid = target->serverid;
	strlcpy(key.operation, operation ? operation : "?", NAMEDATALEN);
	entry = hash_search(MetricsHash, &key, HASH_ENTER, &found);
	if (!found)
	{
		memset(((char *) entry) + sizeof(RemoteMetricsKey), 0,
			   sizeof(RemoteMetricsEntry) - sizeof(RemoteMetricsKey));
	}
	strlcpy(entry->servername, target->servername ? target->servername : "?", NAMEDATALEN);
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

PG_FUNCTION_INFO_V1(remote_metrics);

/* vectorpg.remote_metrics_read(): the rows of the view vectorpg.remote_metrics */
Datum
remote_metrics(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	HASH_SEQ_STATUS scan;
	RemoteMetricsEntry *e;

	InitMaterializedSRF(fcinfo, 0);
	if (MetricsHash == NULL)
		return (Datum) 0;
	hash_seq_init(&scan, MetricsHash);
	while ((e = hash_seq_search(&scan)) != NULL)
	{
		Datum		values[11];
		bool		nulls[11];
		ForeignServer *server = GetForeignServerExtended(e->key.serverid, FSV_MISSING_OK);

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
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

PG_FUNCTION_INFO_V1(remote_metrics_reset);

/* vectorpg.remote_metrics_reset(): clear this backend's counters */
Datum
remote_metrics_reset(PG_FUNCTION_ARGS)
{
	if (MetricsHash != NULL)
	{
		hash_destroy(MetricsHash);
		MetricsHash = NULL;
	}
	PG_RETURN_VOID();
}
