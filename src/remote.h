/*
 * remote.h: module header of the remote side (Pinecone and Milvus over
 * REST, behind the foreign data wrapper vectorpg_fdw).
 *
 * The remote side is layered; each layer is one or a few files and only
 * talks to the layer below through what is declared here:
 *
 *   fdw.c, fdw_deparse.c, fdw_import.c   the FDW: planning, pushdown,
 *                                        execution, IMPORT FOREIGN SCHEMA
 *   remote_pinecone.c, remote_milvus.c   the clients: request bodies,
 *                                        response parsing, error envelopes,
 *                                        score conventions, filters
 *   remote_http.c, fdw_connection.c,     the transport: one libcurl handle
 *   remote_record.c, remote_metrics.c    per (backend, user mapping),
 *                                        timeouts, cancel, size cap,
 *                                        retries, record/replay, metrics
 *   fdw_option.c                         the option table of every catalog
 *                                        and RemoteTarget, resolved options
 *
 * Everything a request needs is in a RemoteTarget, resolved once per scan
 * from the server, user mapping and foreign table options.  Secrets (the
 * Pinecone API key, the Milvus token or password) live only in
 * RemoteTarget.secret and the transport's headers; no error, log line,
 * EXPLAIN output or recording may contain them.
 *
 * Errors: every failure is raised with ereport(ERROR) in the FDW class
 * (ERRCODE_FDW_*, SQLSTATE HV...), with the remote's own message in
 * errdetail and never the secret.  Functions here return only on success.
 */
#ifndef VECTORPG_REMOTE_H
#define VECTORPG_REMOTE_H

#include "postgres.h"

#include "nodes/pg_list.h"

/* Which service a server talks to (server option "provider") */
typedef enum RemoteProvider
{
	REMOTE_PINECONE,
	REMOTE_MILVUS
} RemoteProvider;

/*
 * The remote index's metric, in the remote's own terms; the vectorpg
 * operator that orders by it is given in brackets.  Pinecone: cosine,
 * euclidean, dotproduct.  Milvus: COSINE, L2, IP.
 */
typedef enum RemoteMetric
{
	REMOTE_METRIC_UNKNOWN,
	REMOTE_METRIC_COSINE,		/* <=> */
	REMOTE_METRIC_L2,			/* <-> */
	REMOTE_METRIC_IP			/* <#> */
} RemoteMetric;

/*
 * Tunables of the transport, shared by the option validator, the transport
 * and the tests that probe min-1/min/max/max+1 (server options of the same
 * name, without the REMOTE_ prefix, in lower case).
 */
#define REMOTE_MIN_CONNECT_TIMEOUT_MS		100
#define REMOTE_DEFAULT_CONNECT_TIMEOUT_MS	5000
#define REMOTE_MAX_CONNECT_TIMEOUT_MS		60000
#define REMOTE_MIN_TIMEOUT_MS				100
#define REMOTE_DEFAULT_TIMEOUT_MS			30000
#define REMOTE_MAX_TIMEOUT_MS				600000
#define REMOTE_MIN_MAX_RETRIES				0
#define REMOTE_DEFAULT_MAX_RETRIES			3
#define REMOTE_MAX_MAX_RETRIES				10
#define REMOTE_MIN_RETRY_BUDGET_MS			0
#define REMOTE_DEFAULT_RETRY_BUDGET_MS		30000
#define REMOTE_MAX_RETRY_BUDGET_MS			600000
#define REMOTE_MIN_MAX_RESPONSE_BYTES		(64 * 1024)
#define REMOTE_DEFAULT_MAX_RESPONSE_BYTES	(64 * 1024 * 1024)
#define REMOTE_MAX_MAX_RESPONSE_BYTES		(1024 * 1024 * 1024)

/*
 * Stall detection (server option low_speed_time_ms): a transfer that moves
 * fewer than REMOTE_LOW_SPEED_LIMIT_BYTES bytes per second for this long,
 * waiting for the first byte included, is aborted.  libcurl counts in whole
 * seconds, so the value is rounded up to a second.
 */
#define REMOTE_MIN_LOW_SPEED_TIME_MS		1000
#define REMOTE_DEFAULT_LOW_SPEED_TIME_MS	30000
#define REMOTE_MAX_LOW_SPEED_TIME_MS		600000
#define REMOTE_LOW_SPEED_LIMIT_BYTES		16

/* Backoff between retries: full jitter over base * 2^retry, capped */
#define REMOTE_BACKOFF_BASE_MS				100
#define REMOTE_BACKOFF_CAP_MS				10000
/* A Retry-After beyond this is clamped (and then usually beyond the budget) */
#define REMOTE_MAX_RETRY_AFTER_MS			3600000

/* Table option "dimension": 1 .. the vector type's limit */
#define REMOTE_MAX_DIMENSION				16000

/* Pinecone's control plane, the default "url" of a pinecone server */
#define REMOTE_PINECONE_DEFAULT_URL			"https://api.pinecone.io"
/* The Pinecone API version the transport pins on every request */
#define REMOTE_PINECONE_API_VERSION			"2026-07"
/* Remote text in errdetail is cut to this many bytes */
#define REMOTE_MAX_DETAIL_BYTES				1024

/*
 * Resolved options of one (server, user mapping, foreign table).  Built by
 * RemoteTargetFromTable / RemoteTargetFromServer (fdw_option.c) in the
 * caller's memory context.  Strings are palloc'd; NULL means "not set".
 */
typedef struct RemoteTarget
{
	Oid			serverid;
	Oid			userid;			/* the user the mapping was looked up for */
	Oid			umid;			/* user mapping OID: the connection cache key */
	char	   *servername;		/* for messages */
	RemoteProvider provider;

	/* server options */
	char	   *url;			/* Pinecone control plane or Milvus base URL */
	char	   *index_host;		/* Pinecone data-plane host; resolved when NULL */
	char	   *db_name;		/* Milvus database (NULL = server default) */
	char	   *ca_file;		/* superuser only: trust this CA bundle */
	bool		allow_insecure; /* superuser only: http:// and loopback/private */
	bool		load_collection;	/* Milvus: load a collection that is not */
	int			connect_timeout_ms;
	int			timeout_ms;
	int			max_retries;
	int			retry_budget_ms;
	int64		max_response_bytes;

	/* user mapping options: the secret, never printed */
	char	   *secret;			/* Pinecone api_key, Milvus token or user:password */

	/* foreign table options (NULL when built for a server only) */
	char	   *index;			/* Pinecone index / Milvus collection name */
	char	   *namespace_;		/* Pinecone namespace / Milvus partition */
	char	   *vector_field;	/* Milvus vector field (default: the only one) */
	char	   *id_field;		/* Milvus primary key field (default: the schema's) */
	char	   *consistency_level;	/* Milvus: Strong, Session, Bounded, ... */
	RemoteMetric metric;		/* REMOTE_METRIC_UNKNOWN: ask the remote */
	int			dimension;		/* 0: ask the remote */
	bool		allow_full_scan;	/* table option: allow pulling a whole index */

	/* added by the transport (server options) */
	int			low_speed_time_ms;	/* stall detection, see above */

	/* writes (server or table options; the table's wins) */
	int			write_batch_size;	/* records per upsert/delete request */
	int			write_parallelism;	/* requests in flight at once */
} RemoteTarget;

/*
 * Tunables of writes (server and table options of the same name): records
 * per request (Pinecone allows 1,000 and 2 MB per request; a chunk is also
 * cut when its body would pass REMOTE_MAX_WRITE_BODY_BYTES) and requests in
 * flight at once over curl multi.
 */
#define REMOTE_MIN_WRITE_BATCH_SIZE			1
#define REMOTE_DEFAULT_WRITE_BATCH_SIZE		100
#define REMOTE_MAX_WRITE_BATCH_SIZE			1000
#define REMOTE_MIN_WRITE_PARALLELISM		1
#define REMOTE_DEFAULT_WRITE_PARALLELISM	4
#define REMOTE_MAX_WRITE_PARALLELISM		16
#define REMOTE_MAX_WRITE_BODY_BYTES			(2 * 1000 * 1000)

/* fdw_option.c */
extern RemoteTarget *RemoteTargetFromTable(Oid foreigntableid, Oid userid);
extern RemoteTarget *RemoteTargetFromServer(Oid serverid, Oid userid);
extern const char *RemoteMetricName(RemoteProvider provider, RemoteMetric metric);
extern RemoteMetric RemoteMetricFromName(const char *name);
/* URL checks shared by the validator and the transport */
extern bool RemoteParseUrl(const char *url, bool allow_query, bool *https,
						   char **host, const char **why);
extern bool RemoteHostIsPrivate(const char *host);
extern bool RemoteAddressIsPrivate(int family, const void *addr);
extern char *RemoteHostUrl(const char *host);

/*
 * Transport (remote_http.c).  One call is one logical request: the
 * transport retries 429, 5xx, timeouts and connection errors (and whatever
 * is_retryable says) with exponential backoff and jitter within
 * max_retries and retry_budget_ms, honours Retry-After, waits
 * interruptibly, enforces max_response_bytes while the body streams in,
 * counts the call in the metrics under (serverid, operation), and in
 * record/replay mode records or answers it from vectorpg.remote_recordings.
 *
 * It raises an error for transport failures and, after the retries, for
 * statuses the caller does not accept; a non-2xx status it returns only
 * when the caller listed it in accept_status (0-terminated), so that a
 * client can map 404 to "no such index", for example.
 */
typedef struct RemoteRequest
{
	const char *operation;		/* metrics key and messages: "query", ... */
	const char *method;			/* "GET", "POST", "DELETE", "PATCH" */
	const char *url;			/* full URL, scheme included */
	const char *body;			/* JSON text or NULL */
	const long *accept_status;	/* extra statuses returned, 0-terminated */

	/*
	 * Provider hook: does this 2xx response carry a retryable error (Milvus
	 * answers 200 with code 1, 2, 4, 8 or 1807)?  NULL: never.
	 */
	bool		(*is_retryable) (long status, const char *body, size_t len);

	/*
	 * Added by the transport.  extra_headers: NULL-terminated "Name: value"
	 * lines sent in addition to the transport's own (Content-Type, Accept,
	 * the provider's authentication and version headers), or NULL; never a
	 * secret.  not_idempotent: never retry (an insert that would duplicate).
	 */
	const char *const *extra_headers;
	bool		not_idempotent;
} RemoteRequest;

typedef struct RemoteResponse
{
	long		status;			/* HTTP status */
	char	   *body;			/* NUL-terminated, palloc'd */
	size_t		len;
	int			attempts;		/* 1 + retries made */
	double		elapsed_ms;		/* wall time of all attempts */
	char	   *retry_after;	/* the last Retry-After header, if any */
	char	   *request_id;		/* x-pinecone-request-id etc., if any */
} RemoteResponse;

extern RemoteResponse *RemoteHttpCall(RemoteTarget *target, const RemoteRequest *req);

/*
 * Several independent requests, up to `parallelism` in flight at once over
 * curl multi, each with RemoteHttpCall's semantics (retries, backoff,
 * Retry-After, accepted statuses, cancel, metrics; record/replay modes run
 * them one after the other).  Fills responses[i] for every request; on the
 * first failure it aborts the transfers still running, starts no more, and
 * raises that request's error with remote_last_failure.item set to its
 * index in reqs.
 */
extern void RemoteHttpCallMany(RemoteTarget *target, const RemoteRequest *reqs,
							   int n, int parallelism, RemoteResponse **responses);

/*
 * Remote text made safe for an error: the secret replaced by asterisks,
 * valid in the server encoding, cut to REMOTE_MAX_DETAIL_BYTES.
 */
extern char *RemoteScrub(RemoteTarget *target, const char *text, size_t len);
/* The path and query of a URL, "/..." */
extern const char *RemoteUrlPath(const char *url);
#define REMOTE_USER_AGENT_VERSION "0.1.0"

/* Raise a remote error in vectorpg's style: HV000-class code, remote detail */
extern void RemoteReportError(RemoteTarget *target, const char *operation,
							  int sqlstate, const char *message,
							  const char *remote_detail) pg_attribute_noreturn();

/*
 * Clients (remote_pinecone.c, remote_milvus.c), dispatched on
 * target->provider by remote_client.c.  A search and a fetch return matches
 * in the remote's order; `distance` is already converted to the value of
 * the vectorpg operator of the metric (cosine distance, Euclidean distance,
 * negative inner product), `score` is what the remote sent.
 */
typedef struct RemoteMatch
{
	char	   *id;				/* Pinecone id, or Milvus primary key as text
								 * (int64 kept exact) */
	double		score;			/* the remote's score */
	double		distance;		/* the vectorpg operator's value */
	int			dim;			/* 0 when values were not asked for */
	float4	   *values;
	char	   *metadata_json;	/* JSON object text, NULL when not asked for */
	char	   *sparse_json;	/* sparse values {"indices","values"} as JSON
								 * text, when values were asked for and the
								 * record has them; else NULL */
} RemoteMatch;

typedef struct RemoteResult
{
	int			nmatches;
	RemoteMatch *matches;
	char	   *next_token;		/* pagination token / next offset, or NULL */
} RemoteResult;

typedef struct RemoteSearch
{
	const float4 *vector;		/* query vector, or NULL for a filter-only scan */
	int			dim;
	int			top_k;
	int			offset;			/* Milvus only; 0 elsewhere */
	const char *filter_json;	/* filter in the Pinecone language, or NULL */
	bool		include_values;
	bool		include_metadata;
	List	   *output_fields;	/* Milvus: scalar fields to return (char *) */
	const char *page_token;		/* for filter-only scans, or NULL */
} RemoteSearch;

typedef struct RemoteIndexInfo
{
	char	   *name;
	int			dimension;
	RemoteMetric metric;
	int64		count;			/* -1 when unknown */
	char	   *host;			/* Pinecone data-plane host, or NULL */
	List	   *fields;			/* Milvus scalar fields: RemoteField * */
	bool		loaded;			/* Milvus load state; true for Pinecone */
	char	   *sparse_field;	/* Milvus: the SparseFloatVector field, NULL
								 * when there is none or more than one */
	int			nsparse;		/* Milvus: how many SparseFloatVector fields */
} RemoteIndexInfo;

typedef struct RemoteField
{
	char	   *name;
	char	   *type;			/* the remote's type name: Int64, VarChar, ... */
	bool		primary;
} RemoteField;

extern RemoteResult *RemoteQuery(RemoteTarget *target, const RemoteSearch *search);
extern RemoteResult *RemoteFetch(RemoteTarget *target, char **ids, int nids,
								 bool include_values, bool include_metadata);
extern RemoteResult *RemoteScan(RemoteTarget *target, const RemoteSearch *search);
extern RemoteIndexInfo *RemoteDescribe(RemoteTarget *target);
extern List *RemoteListIndexes(RemoteTarget *target);	/* RemoteIndexInfo * */
/* Rows in the table's namespace/partition, cached per backend (estimates) */
extern int64 RemoteCount(RemoteTarget *target);
/* The same, asked now (refreshing the cache): describe_collection's count */
extern int64 RemoteCountNow(RemoteTarget *target);

/*
 * Writes (remote_write.c and the clients).  A RemoteWrite is one upsert
 * (values, optional metadata: a JSON object whose keys are Pinecone
 * metadata keys or Milvus scalar/dynamic fields; optional sparse values,
 * a JSON object {"indices":[...],"values":[...]}: Pinecone's sparseValues,
 * or a Milvus collection's SparseFloatVector field) or one delete, by id.
 *
 * RemoteWriteMany validates every item first (RemoteValidateWrite: id
 * length and charset, dimension, NaN/Infinity, metadata size and shape),
 * raising the first invalid item's error before anything is sent; then it
 * sends upserts and deletes in chunks within the provider's limits and
 * target->write_batch_size, up to target->write_parallelism requests in
 * flight over curl multi, each retried by the transport's rules (an upsert
 * or a delete by id is idempotent, so a retry is safe).  It returns when
 * every chunk was acknowledged and raises the first failure otherwise;
 * chunks acknowledged before a failure stay applied.  Callers pass each id
 * at most once per call (they coalesce), so chunk order does not matter.
 *
 * remote_last_failure describes the failure of the latest remote call of
 * this backend that raised an error, for callers that catch errors and
 * must tell "retry later" from "the remote rejects this item" (the mirror
 * worker).  It is reset at the start of every RemoteHttpCall and
 * RemoteWriteMany.
 */
typedef struct RemoteWrite
{
	const char *id;				/* Pinecone id, or Milvus key as text */
	bool		is_delete;
	const float4 *values;		/* upsert: dim values */
	int			dim;
	const char *metadata_json;	/* upsert: JSON object text, or NULL */
	const char *sparse_json;	/* upsert: sparse values as JSON text, or NULL */
} RemoteWrite;

typedef struct RemoteFailure
{
	bool		failed;			/* a remote call raised an error */
	long		http_status;	/* last HTTP status, 0 when none arrived */
	bool		transient;		/* 429, 5xx, timeout, connection: try later */
	int			item;			/* RemoteWriteMany: index of the invalid item
								 * or the first item of the failed chunk, else -1 */
	int			nitems;			/* items in the failed chunk (1 when invalid);
								 * a chunk holds items of one kind (upserts or
								 * deletes) in writes[] order: the nitems items
								 * of writes[item]'s kind from item on */
} RemoteFailure;

extern PGDLLIMPORT RemoteFailure remote_last_failure;

extern bool RemoteValidateWrite(RemoteTarget *target, const RemoteWrite *w,
								int *sqlstate, char **message);
extern void RemoteWriteMany(RemoteTarget *target, const RemoteWrite *writes, int n);
extern void RemoteDeleteByFilter(RemoteTarget *target, const char *filter_json);
extern void RemoteDeleteAll(RemoteTarget *target);

/* Milvus filter translation (remote_milvus.c): Pinecone JSON -> expression */
extern char *RemoteFilterToMilvus(const char *filter_json, const char *metadata_field);

/*
 * fdw_connection.c: the handle cache.  RemoteConnectionInit is called from
 * _PG_init and also registers the settings of the record/replay and
 * metrics modules (RemoteRecordInit, RemoteMetricsInit).
 */
extern void RemoteConnectionInit(void);
extern void *RemoteConnectionGet(RemoteTarget *target, void **multi, bool *fresh);
extern void RemoteConnectionDiscard(RemoteTarget *target);

/*
 * Record/replay (remote_record.c): vectorpg.remote_mode.  A lookup returns
 * true and fills status and body (palloc'd) when a recording answers the
 * request; RemoteRecordStore saves a live answer in record mode.
 */
typedef enum RemoteMode
{
	REMOTE_MODE_LIVE,
	REMOTE_MODE_RECORD,
	REMOTE_MODE_REPLAY,
	REMOTE_MODE_PASSTHROUGH
} RemoteMode;

extern int	remote_mode;
extern void RemoteRecordInit(void);
extern char *RemoteRecordFingerprint(RemoteTarget *target, const RemoteRequest *req);
extern bool RemoteRecordLookup(const char *fingerprint, long *status, char **body, size_t *len);
extern void RemoteRecordStore(RemoteTarget *target, const RemoteRequest *req,
							  const char *fingerprint, long status,
							  const char *body, size_t len);

/* Metrics (remote_metrics.c): one logical call, after its last attempt */
extern void RemoteMetricsInit(void);
extern void RemoteMetricsCount(RemoteTarget *target, const char *operation,
							   bool error, int retries, uint64 bytes_sent,
							   uint64 bytes_received, double elapsed_ms,
							   long connects);

#endif							/* VECTORPG_REMOTE_H */
