/*
 * remote_client.h: what the two clients (remote_pinecone.c,
 * remote_milvus.c) share with their dispatcher (remote_client.c), below the
 * provider-neutral interface of remote.h.
 *
 * The shared helpers exist so that both clients parse, serialise and fail
 * the same way: JSON documents are freed with the memory context they were
 * parsed in (also on error), vectors are printed with 9 significant digits
 * (exact for float4), and scores become distances by one rule.
 */
#ifndef VECTORPG_REMOTE_CLIENT_H
#define VECTORPG_REMOTE_CLIENT_H

#include "postgres.h"

#include "cJSON.h"
#include "datatype/timestamp.h"
#include "lib/stringinfo.h"
#include "remote.h"

/*
 * What a client remembers about an index or collection between queries,
 * per backend, until an ALTER/DROP of a server, user mapping or foreign
 * table (remote_client.c drops the whole cache then).
 */
typedef struct RemoteCachedIndex
{
	Oid			serverid;
	char	   *db_name;		/* Milvus database or "" */
	char	   *index;
	RemoteIndexInfo *info;
	char	   *base_url;		/* Pinecone: data-plane URL, scheme included */
	char	   *pk_field;		/* Milvus primary key field */
	bool		pk_is_int;		/* Milvus: Int64 primary key */
	char	   *vector_field;	/* Milvus: the vector field searched */
	bool		dynamic;		/* Milvus: enableDynamicField */
	/* the row count of one namespace/partition, for planner estimates */
	char	   *count_namespace;	/* "" for the whole index */
	int64		count;
	TimestampTz count_time;		/* 0: not asked yet */
} RemoteCachedIndex;

/* remote_client.c */
extern RemoteCachedIndex *RemoteCacheLookup(RemoteTarget *target);
extern RemoteCachedIndex *RemoteCacheStore(RemoteTarget *target,
										   RemoteIndexInfo *info);
extern void RemoteCacheForget(RemoteTarget *target);
extern cJSON *RemoteJsonParse(RemoteTarget *target, const char *operation,
							  const RemoteResponse *resp);
extern void RemoteAppendVector(StringInfo buf, const float4 *values, int dim);
extern void RemoteAppendUrlEncoded(StringInfo buf, const char *s);
extern float4 *RemoteJsonVector(RemoteTarget *target, const char *operation,
								const cJSON *array, int *dim);
extern double RemoteScoreToDistance(RemoteMetric metric, double score);
extern char *RemoteJsonNumberText(const cJSON *item);
extern void RemoteBadResponse(RemoteTarget *target, const char *operation,
							  const char *what) pg_attribute_noreturn();

/* remote_pinecone.c */
extern RemoteResult *PineconeQuery(RemoteTarget *target, const RemoteSearch *search);
extern RemoteResult *PineconeFetch(RemoteTarget *target, char **ids, int nids,
								   bool include_values, bool include_metadata);
extern RemoteResult *PineconeScan(RemoteTarget *target, const RemoteSearch *search);
extern RemoteIndexInfo *PineconeDescribe(RemoteTarget *target);
extern List *PineconeListIndexes(RemoteTarget *target);
extern int64 PineconeNamespaceCount(RemoteTarget *target);

/* remote_milvus.c */
extern RemoteResult *MilvusSearch(RemoteTarget *target, const RemoteSearch *search);
extern RemoteResult *MilvusGet(RemoteTarget *target, char **ids, int nids,
							   bool include_values, bool include_metadata);
extern RemoteResult *MilvusScan(RemoteTarget *target, const RemoteSearch *search);
extern RemoteIndexInfo *MilvusDescribe(RemoteTarget *target);
extern List *MilvusListCollections(RemoteTarget *target);
extern List *MilvusListPartitions(RemoteTarget *target);
extern int64 MilvusCount(RemoteTarget *target);

/* Page size of full scans (Pinecone list allows 100, Milvus query more) */
#define REMOTE_PINECONE_LIST_PAGE	100
#define REMOTE_MILVUS_QUERY_PAGE	1000
/* Ids per Pinecone fetch request (keeps the URL well under 8 kB for short ids) */
#define REMOTE_PINECONE_FETCH_BATCH	100
/* The largest top-k each service accepts */
#define REMOTE_PINECONE_MAX_TOPK	10000
#define REMOTE_MILVUS_MAX_WINDOW	16384
/* A cached row count (planner estimates) is asked again after this long */
#define REMOTE_COUNT_TTL_MS			60000

#endif							/* VECTORPG_REMOTE_CLIENT_H */
