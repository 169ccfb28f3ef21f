/*
 * remote_client.h: what the two clients (remote_pinecone.c,
 * remote_milvus.c) share with their dispatcher (remote_client.c), below the
 * provider-neutral interface of remote.h.
 *
 * The shared helpers exist so that both clients parse, serialise and fail
 * the same way: JSON documents are freed with the memory context they were
 * parsed in (also on error), vectors are printed in the shortest form that
 * reads back as the same float4 (ryu), and scores become distances by one
 * rule.  The write side adds chunks (one request each), validation errors
 * and a scanner of metadata objects.
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
	List	   *write_fields;	/* Milvus: RemoteWriteField *, for writes */
	char	   *pk_field;		/* Milvus primary key field */
	bool		pk_is_int;		/* Milvus: Int64 primary key */
	char	   *vector_field;	/* Milvus: the vector field searched */
	bool		dynamic;		/* Milvus: enableDynamicField */
	/* the row count of one namespace/partition, for planner estimates */
	char	   *count_namespace;	/* "" for the whole index */
	int64		count;
	TimestampTz count_time;		/* 0: not asked yet */
} RemoteCachedIndex;

/*
 * Milvus: what a write needs to know about one field of the schema beyond
 * RemoteField (remote_milvus.c reads it from a describe of its own, the
 * first time a backend writes to a collection).
 */
typedef struct RemoteWriteField
{
	char	   *name;
	char	   *type;			/* Int64, VarChar, FloatVector, ... */
	char	   *element_type;	/* Array: the element type, else NULL */
	int			max_length;		/* VarChar: bytes, 0 when unknown */
	int			max_capacity;	/* Array: elements, 0 when unknown */
	bool		nullable;
	bool		has_default;
	bool		primary;
	bool		auto_id;
} RemoteWriteField;

/*
 * A validation failure of one write (remote_write.c raises it): SQLSTATE,
 * message naming the record, and an optional detail and hint.
 */
typedef struct RemoteWriteError
{
	int			sqlstate;
	char	   *message;
	char	   *detail;
	char	   *hint;
} RemoteWriteError;

/*
 * One request of a RemoteWriteMany: upserts or deletes of one kind, the
 * items in writes[] order.  The client builds the body (BeginChunk,
 * AppendItem per item, EndChunk closes it and names the URL and the
 * statuses it reads; remote_write.c fills in the rest of req) into an empty
 * buffer that remote_write.c owns and reuses, and checks the answer
 * (CheckAck, which raises the failure).
 */
typedef struct RemoteWriteChunk
{
	bool		is_delete;
	int			first;			/* index in writes[] of its first item */
	int			nitems;
	StringInfoData body;
	RemoteRequest req;
	char	   *url;
} RemoteWriteChunk;

/*
 * Members of a metadata object, scanned without a parse tree so that
 * numbers keep their exact text (Int64 fields) and bodies are built by
 * copying (remote_client.c).
 */
typedef enum RemoteJsonKind
{
	RJ_STRING,
	RJ_NUMBER,
	RJ_TRUE,
	RJ_FALSE,
	RJ_NULL,
	RJ_ARRAY,
	RJ_OBJECT
} RemoteJsonKind;

typedef struct RemoteJsonMember
{
	char	   *key;			/* unescaped, palloc'd */
	const char *key_raw;		/* the key as written, quotes included */
	int			key_raw_len;
	const char *value;			/* the value as written */
	int			value_len;
	RemoteJsonKind kind;
} RemoteJsonMember;

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
extern char *RemoteJsonText(const cJSON *item);
extern void RemoteBadResponse(RemoteTarget *target, const char *operation,
							  const char *what) pg_attribute_noreturn();

extern int	RemoteJsonObjectMembers(const char *json, RemoteJsonMember **members,
									const char **why);
extern void RemoteAppendJsonCompact(StringInfo buf, const char *value, int len);
extern char *RemoteShortId(const char *id);
extern bool RemoteWriteInvalid(RemoteWriteError *err, int sqlstate, char *message,
							   char *detail, const char *hint);

/*
 * Sparse values (remote_sparse.c): parsed from their SQL form
 * {"indices":[...],"values":[...]}, checked, and written in either
 * provider's form
 */
typedef struct RemoteSparse
{
	int			n;
	uint32	   *indices;
	float4	   *values;
} RemoteSparse;

/* The largest sparse index (uint32) */
#define REMOTE_MAX_SPARSE_INDEX		UINT64CONST(4294967295)
/* Milvus states no limit of entries; this bounds one record's */
#define REMOTE_MILVUS_MAX_SPARSE	100000

extern bool RemoteSparseParse(const RemoteWrite *w, int max_entries, const char *provider,
							  RemoteSparse *out, RemoteWriteError *err);
extern void RemoteSparseFree(RemoteSparse *sp);
extern void RemoteAppendSparse(StringInfo buf, const RemoteSparse *sp);
extern void RemoteAppendSparseMilvus(StringInfo buf, const RemoteSparse *sp);
extern char *RemoteSparseFromMilvus(const cJSON *obj);

/* remote_pinecone.c */
extern RemoteResult *PineconeQuery(RemoteTarget *target, const RemoteSearch *search);
extern RemoteResult *PineconeFetch(RemoteTarget *target, char **ids, int nids,
								   bool include_values, bool include_metadata);
extern RemoteResult *PineconeScan(RemoteTarget *target, const RemoteSearch *search);
extern RemoteIndexInfo *PineconeDescribe(RemoteTarget *target);
extern List *PineconeListIndexes(RemoteTarget *target);
extern int64 PineconeNamespaceCount(RemoteTarget *target);
extern bool PineconeValidateWrite(RemoteTarget *target, const RemoteWrite *w,
								  RemoteWriteError *err);
extern void PineconeBeginChunk(RemoteTarget *target, RemoteWriteChunk *chunk);
extern void PineconeAppendItem(RemoteTarget *target, RemoteWriteChunk *chunk,
							   const RemoteWrite *w);
extern void PineconeEndChunk(RemoteTarget *target, RemoteWriteChunk *chunk);
extern void PineconeCheckAck(RemoteTarget *target, RemoteWriteChunk *chunk,
							 RemoteResponse *resp);
extern void PineconeDeleteByFilter(RemoteTarget *target, const char *filter_json);
extern void PineconeDeleteAll(RemoteTarget *target);

/* remote_milvus.c */
extern bool MilvusValidateWrite(RemoteTarget *target, const RemoteWrite *w,
								RemoteWriteError *err);
extern void MilvusBeginChunk(RemoteTarget *target, RemoteWriteChunk *chunk);
extern void MilvusAppendItem(RemoteTarget *target, RemoteWriteChunk *chunk,
							 const RemoteWrite *w);
extern void MilvusEndChunk(RemoteTarget *target, RemoteWriteChunk *chunk);
extern void MilvusCheckAck(RemoteTarget *target, RemoteWriteChunk *chunk,
						   RemoteResponse *resp);
extern void MilvusDeleteByFilter(RemoteTarget *target, const char *filter_json);
extern void MilvusDeleteAll(RemoteTarget *target);
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
/* Pinecone: vectors per upsert and ids per delete request */
#define REMOTE_PINECONE_MAX_WRITE_RECORDS	1000
/* Pinecone: metadata per record, serialized */
#define REMOTE_PINECONE_MAX_METADATA_BYTES	(40 * 1024)
/* Pinecone: entries of a record's sparse values */
#define REMOTE_PINECONE_MAX_SPARSE			2048
/* Pinecone: record id length (ASCII) */
#define REMOTE_PINECONE_MAX_ID_BYTES		512
/*
 * Milvus has no row limit per request and a message limit of ~64 MB; the
 * spec advises modest batches, so a Milvus body is cut at this size
 */
#define REMOTE_MILVUS_MAX_WRITE_BODY_BYTES	(8 * 1000 * 1000)
/* Bytes a float4 takes at most in a body: shortest form and a comma */
#define REMOTE_MAX_FLOAT_TEXT				16
/* The largest top-k each service accepts */
#define REMOTE_PINECONE_MAX_TOPK	10000
#define REMOTE_MILVUS_MAX_WINDOW	16384
/* A cached row count (planner estimates) is asked again after this long */
#define REMOTE_COUNT_TTL_MS			60000

#endif							/* VECTORPG_REMOTE_CLIENT_H */
