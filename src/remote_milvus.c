/*
 * remote_milvus.c: the Milvus client (RESTful API v2, see
 * ../shared/specs/milvus-rest.md), and the translation of our filters into
 * Milvus boolean expressions.
 *
 * Every endpoint is POST <url>/v2/vectordb/<category>/<action> with a JSON
 * body, and almost every error is an HTTP 200 whose body has a non-zero
 * "code": each answer goes through CheckEnvelope, and the transport's
 * is_retryable hook (MilvusRetryable) makes it retry the codes Milvus calls
 * retriable (1, 2, 4, 8, 1807).
 *
 * Int64 primary keys travel as decimal strings in both directions (we do
 * not send Accept-Type-Allow-Int64): cJSON keeps numbers as doubles, which
 * would corrupt keys above 2^53.  Ids we send are printed by us from
 * validated digits, never through a double.
 *
 * A collection is described once per backend (remote_client.c caches it):
 * primary key field and type, the vector field searched, its dimension and
 * the index metric, the scalar fields, its SparseFloatVector field if it
 * has one (the sparse_values column, remote_sparse.c), whether it has a
 * dynamic field.  A
 * collection that is not loaded is loaded first when the server option
 * load_collection is on; otherwise the error says how to fix it.
 *
 * Writes (remote_write.c drives them): rows for entities/upsert are built
 * as text from the key, the vector, the sparse values and the metadata, each metadata key
 * checked against the schema (types, lengths, nullability, the dynamic
 * field), read by a describe of their own the first time a backend writes;
 * deletes are entities/delete with "pk in [...]" (or a translated filter,
 * or a filter every key satisfies for "all").
 *
 * Distances: L2 is the squared distance (lower first), IP and COSINE are
 * similarities (higher first); RemoteScoreToDistance converts.
 */
#include "postgres.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>

#include "miscadmin.h"
#include "portability/instr_time.h"
#include "remote_client.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"

/* HTTP statuses whose bodies we read ourselves (authentication, routes) */
static const long milvus_accept[] = {401, 403, 404, 0};

/* Pause between load-state polls */
#define MILVUS_LOAD_POLL_MS 100

/*
 * The transport's hook: is this 200 answer a retriable Milvus error?
 * Errors are short bodies, so a large body is a result and is not parsed.
 */
static bool
MilvusRetryable(long status, const char *body, size_t len)
{
	cJSON	   *json;
	cJSON	   *code;
	bool		result = false;

	if (status != 200 || len > 65536)
		return false;
	json = cJSON_ParseWithLength(body, len);
	if (json == NULL)
		return false;
	code = cJSON_GetObjectItemCaseSensitive(json, "code");
	if (cJSON_IsNumber(code))
	{
		int			c = code->valueint;

		result = (c == 1 || c == 2 || c == 4 || c == 8 || c == 1807);
	}
	cJSON_Delete(json);
	return result;
}

/* Map a Milvus metric name */
static RemoteMetric
ParseMetric(const char *name)
{
	if (name == NULL)
		return REMOTE_METRIC_UNKNOWN;
	if (pg_strcasecmp(name, "COSINE") == 0)
		return REMOTE_METRIC_COSINE;
	if (pg_strcasecmp(name, "L2") == 0)
		return REMOTE_METRIC_L2;
	if (pg_strcasecmp(name, "IP") == 0)
		return REMOTE_METRIC_IP;
	return REMOTE_METRIC_UNKNOWN;
}

/*
 * Raise the error for a Milvus error code, with a SQLSTATE by code class
 * (doc/fdw.md lists them) and the remote text in the detail.
 */
static void
FailCode(RemoteTarget *target, const char *operation, long status, int code,
		 const char *message)
{
	char	   *detail = psprintf("HTTP %ld, code %d: %s", status, code,
								  message ? message : "(no message)");
	const char *coll = target->index ? target->index : "";

	switch (code)
	{
		case 100:
			RemoteCacheForget(target);
			RemoteReportError(target, operation, ERRCODE_FDW_TABLE_NOT_FOUND,
							  psprintf("Milvus collection \"%s\" not found", coll), detail);
		case 200:
			RemoteCacheForget(target);
			RemoteReportError(target, operation, ERRCODE_FDW_TABLE_NOT_FOUND,
							  psprintf("Milvus partition \"%s\" not found",
									   target->namespace_ ? target->namespace_ : ""), detail);
		case 800:
			RemoteReportError(target, operation, ERRCODE_FDW_SCHEMA_NOT_FOUND,
							  psprintf("Milvus database \"%s\" not found",
									   target->db_name ? target->db_name : "default"), detail);
		case 101:
		case 201:
			RemoteCacheForget(target);
			RemoteReportError(target, operation, ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION,
							  psprintf("Milvus collection \"%s\" is not loaded", coll), detail);
		case 1800:
		case 1401:
			RemoteReportError(target, operation, ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION,
							  pstrdup("Milvus refused the credentials"), detail);
		case 1:
		case 2:
		case 4:
		case 8:
		case 9:
		case 1807:
			/* As the transport reports 429 and 5xx once its retries are spent */
			remote_last_failure.transient = (code != 9);
			RemoteReportError(target, operation, ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION,
							  pstrdup("Milvus is unavailable or over its limits"), detail);
		default:
			RemoteReportError(target, operation, ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION,
							  pstrdup("Milvus rejected the request"), detail);
	}
}

/*
 * Check the envelope of an answer and return its "data"; raises the error
 * for a non-zero code (200 is success in very old servers) and for the
 * non-2xx statuses we accepted.
 */
static cJSON *
CheckEnvelope(RemoteTarget *target, const char *operation, RemoteResponse *resp)
{
	cJSON	   *json;
	cJSON	   *code;
	cJSON	   *message;

	if (resp->status == 404)
		FailCode(target, operation, resp->status, 404,
				 "the endpoint does not exist; is url the Milvus REST address?");
	json = RemoteJsonParse(target, operation, resp);
	if (!cJSON_IsObject(json))
		RemoteBadResponse(target, operation, "the response is not a JSON object");
	code = cJSON_GetObjectItemCaseSensitive(json, "code");
	message = cJSON_GetObjectItemCaseSensitive(json, "message");
	if (!cJSON_IsNumber(code))
		RemoteBadResponse(target, operation, "the response has no code");
	if ((code->valueint != 0 && code->valueint != 200) ||
		resp->status < 200 || resp->status > 299)
		FailCode(target, operation, resp->status, code->valueint,
				 cJSON_IsString(message) ? message->valuestring : NULL);
	return json;
}

/* POST one request and return the checked envelope */
static cJSON *
Call(RemoteTarget *target, const char *operation, const char *path,
	 const char *body)
{
	RemoteRequest req = {0};
	RemoteResponse *resp;
	char	   *base = pstrdup(target->url ? target->url : "");
	int			len = strlen(base);

	if (target->url == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("server \"%s\" has no option \"url\"", target->servername),
				 errhint("Set url to the Milvus REST address, e.g. https://milvus.example.com:19530.")));
	while (len > 0 && base[len - 1] == '/')
		base[--len] = '\0';

	req.operation = operation;
	req.method = "POST";
	req.url = psprintf("%s/v2/vectordb/%s", base, path);
	req.body = body;
	req.accept_status = milvus_accept;
	req.is_retryable = MilvusRetryable;
	resp = RemoteHttpCall(target, &req);
	return CheckEnvelope(target, operation, resp);
}

/* Start a request body with the database and the collection */
static void
BeginBody(StringInfo buf, RemoteTarget *target, bool with_collection)
{
	initStringInfo(buf);
	appendStringInfoChar(buf, '{');
	if (target->db_name)
	{
		appendStringInfoString(buf, "\"dbName\":");
		escape_json(buf, target->db_name);
		if (with_collection)
			appendStringInfoChar(buf, ',');
	}
	if (with_collection)
	{
		appendStringInfoString(buf, "\"collectionName\":");
		escape_json(buf, target->index);
	}
}

/* Append "partitionNames":[...] when the table names a partition */
static void
AppendPartition(StringInfo buf, RemoteTarget *target)
{
	if (target->namespace_)
	{
		appendStringInfoString(buf, ",\"partitionNames\":[");
		escape_json(buf, target->namespace_);
		appendStringInfoChar(buf, ']');
	}
}

/* The current load state of the collection, e.g. "LoadStateLoaded" */
static char *
GetLoadState(RemoteTarget *target)
{
	StringInfoData body;
	cJSON	   *json,
			   *data,
			   *state;

	BeginBody(&body, target, true);
	appendStringInfoChar(&body, '}');
	json = Call(target, "get_load_state", "collections/get_load_state", body.data);
	data = cJSON_GetObjectItemCaseSensitive(json, "data");
	state = cJSON_IsObject(data) ? cJSON_GetObjectItemCaseSensitive(data, "loadState") : NULL;
	if (!cJSON_IsString(state))
		RemoteBadResponse(target, "get_load_state", "no loadState in the answer");
	return pstrdup(state->valuestring);
}

/*
 * Make sure the collection is loaded: load it (and wait, within the
 * server's timeout, interruptibly) when load_collection is on, else fail
 * with a hint.
 */
static void
EnsureLoaded(RemoteTarget *target, const char *state)
{
	StringInfoData body;
	instr_time	start,
				now;

	if (strcmp(state, "LoadStateLoaded") == 0)
		return;
	if (!target->load_collection)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION),
				 errmsg("Milvus collection \"%s\" is not loaded", target->index),
				 errdetail("Its load state is %s.", state),
				 errhint("Load the collection in Milvus, or set the option load_collection of server \"%s\" to true.",
						 target->servername)));
	if (strcmp(state, "LoadStateLoading") != 0)
	{
		BeginBody(&body, target, true);
		appendStringInfoChar(&body, '}');
		Call(target, "load", "collections/load", body.data);
	}
	INSTR_TIME_SET_CURRENT(start);
	for (;;)
	{
		char	   *s = GetLoadState(target);

		if (strcmp(s, "LoadStateLoaded") == 0)
			return;
		INSTR_TIME_SET_CURRENT(now);
		INSTR_TIME_SUBTRACT(now, start);
		if (INSTR_TIME_GET_MILLISEC(now) > target->timeout_ms)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION),
					 errmsg("Milvus collection \"%s\" did not finish loading", target->index),
					 errdetail("The load state was still %s after %d ms.", s, target->timeout_ms)));
		pg_usleep(MILVUS_LOAD_POLL_MS * 1000L);
		CHECK_FOR_INTERRUPTS();
	}
}

/* Every partition of the collection (for the partition check and docs) */
List *
MilvusListPartitions(RemoteTarget *target)
{
	StringInfoData body;
	cJSON	   *json,
			   *data,
			   *item;
	List	   *result = NIL;

	BeginBody(&body, target, true);
	appendStringInfoChar(&body, '}');
	json = Call(target, "list_partitions", "partitions/list", body.data);
	data = cJSON_GetObjectItemCaseSensitive(json, "data");
	cJSON_ArrayForEach(item, data)
	{
		if (cJSON_IsString(item))
			result = lappend(result, pstrdup(item->valuestring));
	}
	return result;
}

/* Parse the "dim" type parameter of a vector field */
static int
FieldDim(cJSON *field)
{
	cJSON	   *params = cJSON_GetObjectItemCaseSensitive(field, "params");
	cJSON	   *p;

	cJSON_ArrayForEach(p, params)
	{
		cJSON	   *key = cJSON_GetObjectItemCaseSensitive(p, "key");
		cJSON	   *value = cJSON_GetObjectItemCaseSensitive(p, "value");

		if (cJSON_IsString(key) && strcmp(key->valuestring, "dim") == 0)
		{
			if (cJSON_IsString(value))
				return atoi(value->valuestring);
			if (cJSON_IsNumber(value))
				return value->valueint;
		}
	}
	return 0;
}

/*
 * Describe a collection without touching the cache or its load state; for
 * IMPORT FOREIGN SCHEMA (all collections) and MilvusDescribe.
 */
static RemoteIndexInfo *
DescribeCollection(RemoteTarget *target, const char *name, char **pk_field,
				   bool *pk_is_int, char **vector_field, bool *dynamic,
				   char **load)
{
	StringInfoData body;
	cJSON	   *json,
			   *data,
			   *fields,
			   *field,
			   *indexes,
			   *idx,
			   *dyn,
			   *ld;
	RemoteIndexInfo *info = palloc0(sizeof(RemoteIndexInfo));
	char	   *vfield = NULL;
	int			nvector = 0;
	RemoteTarget tmp = *target;

	tmp.index = (char *) name;
	BeginBody(&body, &tmp, true);
	appendStringInfoChar(&body, '}');
	json = Call(&tmp, "describe_collection", "collections/describe", body.data);
	data = cJSON_GetObjectItemCaseSensitive(json, "data");
	if (!cJSON_IsObject(data))
		RemoteBadResponse(target, "describe_collection", "no collection description");
	info->name = pstrdup(name);
	info->count = -1;
	*pk_field = NULL;
	*pk_is_int = false;

	fields = cJSON_GetObjectItemCaseSensitive(data, "fields");
	cJSON_ArrayForEach(field, fields)
	{
		cJSON	   *fname = cJSON_GetObjectItemCaseSensitive(field, "name");
		cJSON	   *ftype = cJSON_GetObjectItemCaseSensitive(field, "type");
		cJSON	   *pk = cJSON_GetObjectItemCaseSensitive(field, "primaryKey");
		RemoteField *f;

		if (!cJSON_IsString(fname) || !cJSON_IsString(ftype))
			RemoteBadResponse(target, "describe_collection", "a field has no name or type");
		if (strcmp(ftype->valuestring, "FloatVector") == 0)
		{
			nvector++;
			if ((target->vector_field && strcmp(target->vector_field, fname->valuestring) == 0) ||
				(target->vector_field == NULL && vfield == NULL))
			{
				vfield = pstrdup(fname->valuestring);
				info->dimension = FieldDim(field);
			}
			continue;
		}
		if (strcmp(ftype->valuestring, "SparseFloatVector") == 0)
		{
			/* the sparse_values column, when there is exactly one */
			if (info->nsparse++ == 0)
				info->sparse_field = pstrdup(fname->valuestring);
			else
				info->sparse_field = NULL;
			continue;
		}
		if (strstr(ftype->valuestring, "Vector") != NULL)
			continue;			/* other vector kinds are not columns */
		f = palloc(sizeof(RemoteField));
		f->name = pstrdup(fname->valuestring);
		f->type = pstrdup(ftype->valuestring);
		f->primary = cJSON_IsTrue(pk);
		if ((target->id_field && strcmp(target->id_field, f->name) == 0) ||
			(target->id_field == NULL && f->primary))
		{
			*pk_field = f->name;
			*pk_is_int = strcmp(f->type, "Int64") == 0;
		}
		info->fields = lappend(info->fields, f);
	}
	if (vfield == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
				 errmsg("Milvus collection \"%s\" has no float vector field%s%s",
						name, target->vector_field ? " named " : "",
						target->vector_field ? target->vector_field : "")));
	if (nvector > 1 && target->vector_field == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_COLUMN_NAME_NOT_FOUND),
				 errmsg("Milvus collection \"%s\" has %d vector fields", name, nvector),
				 errhint("Set the table option vector_field.")));
	if (*pk_field == NULL)
		RemoteBadResponse(target, "describe_collection", "the collection has no primary key");

	indexes = cJSON_GetObjectItemCaseSensitive(data, "indexes");
	cJSON_ArrayForEach(idx, indexes)
	{
		cJSON	   *fname = cJSON_GetObjectItemCaseSensitive(idx, "fieldName");
		cJSON	   *metric = cJSON_GetObjectItemCaseSensitive(idx, "metricType");

		if (cJSON_IsString(fname) && strcmp(fname->valuestring, vfield) == 0 &&
			cJSON_IsString(metric))
			info->metric = ParseMetric(metric->valuestring);
	}
	dyn = cJSON_GetObjectItemCaseSensitive(data, "enableDynamicField");
	*dynamic = cJSON_IsTrue(dyn);
	ld = cJSON_GetObjectItemCaseSensitive(data, "load");
	*load = cJSON_IsString(ld) ? pstrdup(ld->valuestring) : NULL;
	info->loaded = *load && strcmp(*load, "LoadStateLoaded") == 0;
	*vector_field = vfield;
	return info;
}

/*
 * Describe the table's collection, check (or make) it loaded and its
 * partition present, and cache the result.
 */
RemoteIndexInfo *
MilvusDescribe(RemoteTarget *target)
{
	RemoteIndexInfo *info;
	RemoteCachedIndex *c;
	char	   *pk_field,
			   *vector_field,
			   *load;
	bool		pk_is_int,
				dynamic;
	MemoryContext cxt;

	info = DescribeCollection(target, target->index, &pk_field, &pk_is_int,
							  &vector_field, &dynamic, &load);
	if (load == NULL)
		load = GetLoadState(target);
	EnsureLoaded(target, load);
	info->loaded = true;
	if (target->namespace_)
	{
		List	   *parts = MilvusListPartitions(target);
		ListCell   *lc;
		bool		found = false;

		foreach(lc, parts)
			found |= strcmp(lfirst(lc), target->namespace_) == 0;
		if (!found)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_TABLE_NOT_FOUND),
					 errmsg("Milvus partition \"%s\" not found in collection \"%s\"",
							target->namespace_, target->index)));
	}
	c = RemoteCacheStore(target, info);
	cxt = GetMemoryChunkContext(c);
	c->pk_field = MemoryContextStrdup(cxt, pk_field);
	c->pk_is_int = pk_is_int;
	c->vector_field = MemoryContextStrdup(cxt, vector_field);
	c->dynamic = dynamic;
	return c->info;
}

/* The cached description, describing first when needed */
static RemoteCachedIndex *
Described(RemoteTarget *target)
{
	RemoteCachedIndex *c = RemoteCacheLookup(target);

	if (c == NULL)
	{
		MilvusDescribe(target);
		c = RemoteCacheLookup(target);
	}
	return c;
}

/* Every collection of the database, described, for IMPORT FOREIGN SCHEMA */
List *
MilvusListCollections(RemoteTarget *target)
{
	StringInfoData body;
	cJSON	   *json,
			   *data,
			   *item;
	List	   *result = NIL;

	BeginBody(&body, target, false);
	appendStringInfoChar(&body, '}');
	json = Call(target, "list_collections", "collections/list", body.data);
	data = cJSON_GetObjectItemCaseSensitive(json, "data");
	cJSON_ArrayForEach(item, data)
	{
		char	   *pk,
				   *vf,
				   *load;
		bool		isint,
					dyn;
		RemoteTarget tmp = *target;

		if (!cJSON_IsString(item))
			continue;
		tmp.vector_field = NULL;
		tmp.id_field = NULL;
		result = lappend(result,
						 DescribeCollection(&tmp, item->valuestring, &pk, &isint,
											&vf, &dyn, &load));
	}
	return result;
}

/* Is this a field of the given schema type (Int64 ...)? */
static bool
FieldIsInteger(RemoteCachedIndex *c, const char *name)
{
	ListCell   *lc;

	foreach(lc, c->info->fields)
	{
		RemoteField *f = lfirst(lc);

		if (strcmp(f->name, name) == 0)
			return strcmp(f->type, "Int64") == 0 || strcmp(f->type, "Int32") == 0 ||
				strcmp(f->type, "Int16") == 0 || strcmp(f->type, "Int8") == 0;
	}
	return false;
}

/*
 * Fill one match from a row or a hit: the key (string or number), the
 * distance for hits, the vector, and as metadata every other field (Int64
 * fields, which arrive as strings, go back to JSON numbers digit for digit).
 */
static void
ParseRow(RemoteTarget *target, const char *operation, RemoteCachedIndex *c,
		 cJSON *row, RemoteMatch *m, RemoteMetric metric, bool scored,
		 bool include_values, bool include_metadata)
{
	cJSON	   *pk = cJSON_GetObjectItemCaseSensitive(row, c->pk_field);
	cJSON	   *item;

	if (pk == NULL)
		pk = cJSON_GetObjectItemCaseSensitive(row, "id");	/* 2.x hits */
	if (cJSON_IsString(pk))
		m->id = pstrdup(pk->valuestring);
	else if (cJSON_IsNumber(pk))
		m->id = psprintf("%.0f", pk->valuedouble);
	else
		RemoteBadResponse(target, operation, "a row has no primary key");

	if (scored)
	{
		cJSON	   *d = cJSON_GetObjectItemCaseSensitive(row, "distance");

		if (!cJSON_IsNumber(d))
			RemoteBadResponse(target, operation, "a hit has no distance");
		m->score = d->valuedouble;
		m->distance = RemoteScoreToDistance(metric, m->score);
	}
	if (include_values)
	{
		cJSON	   *v = cJSON_GetObjectItemCaseSensitive(row, c->vector_field);

		if (v)
			m->values = RemoteJsonVector(target, operation, v, &m->dim);
		if (c->info->sparse_field)
		{
			v = cJSON_GetObjectItemCaseSensitive(row, c->info->sparse_field);
			if (v && !cJSON_IsNull(v) &&
				(m->sparse_json = RemoteSparseFromMilvus(v)) == NULL)
				RemoteBadResponse(target, operation, "a sparse vector is not an object of numbers keyed by index");
		}
	}
	if (include_metadata)
	{
		cJSON	   *meta = cJSON_CreateObject();

		cJSON_ArrayForEach(item, row)
		{
			cJSON	   *copy;

			if (item->string == NULL ||
				strcmp(item->string, c->pk_field) == 0 ||
				strcmp(item->string, c->vector_field) == 0 ||
				(c->info->sparse_field && strcmp(item->string, c->info->sparse_field) == 0) ||
				(scored && strcmp(item->string, "distance") == 0) ||
				strcmp(item->string, "$meta") == 0)
				continue;
			if (cJSON_IsString(item) && FieldIsInteger(c, item->string))
				copy = cJSON_CreateRaw(item->valuestring);
			else
				copy = cJSON_Duplicate(item, true);
			cJSON_AddItemToObject(meta, item->string, copy);
		}
		/* a dynamic field returned whole, as by some servers */
		item = cJSON_GetObjectItemCaseSensitive(row, "$meta");
		if (cJSON_IsObject(item))
		{
			cJSON	   *sub;

			cJSON_ArrayForEach(sub, item)
				cJSON_AddItemToObject(meta, sub->string, cJSON_Duplicate(sub, true));
		}
		m->metadata_json = RemoteJsonText(meta);
		cJSON_Delete(meta);
	}
}

/* Append the outputFields a read needs */
static void
AppendOutputFields(StringInfo buf, RemoteCachedIndex *c, const RemoteSearch *search,
				   bool include_values, bool include_metadata)
{
	ListCell   *lc;
	bool		first = true;

	appendStringInfoString(buf, ",\"outputFields\":[");
	if (include_metadata)
	{
		appendStringInfoString(buf, "\"*\"");
		first = false;
	}
	else
	{
		if (search)
		{
			foreach(lc, search->output_fields)
			{
				if (!first)
					appendStringInfoChar(buf, ',');
				escape_json(buf, lfirst(lc));
				first = false;
			}
		}
		if (include_values)
		{
			if (!first)
				appendStringInfoChar(buf, ',');
			escape_json(buf, c->vector_field);
			if (c->info->sparse_field)
			{
				appendStringInfoChar(buf, ',');
				escape_json(buf, c->info->sparse_field);
			}
			first = false;
		}
	}
	if (first)
		escape_json(buf, c->pk_field);
	appendStringInfoChar(buf, ']');
}

/* Parse the "data" array of a search, query or get into matches */
static RemoteResult *
ParseRows(RemoteTarget *target, const char *operation, RemoteCachedIndex *c,
		  cJSON *json, RemoteMetric metric, bool scored,
		  bool include_values, bool include_metadata)
{
	cJSON	   *data = cJSON_GetObjectItemCaseSensitive(json, "data");
	cJSON	   *row;
	RemoteResult *result = palloc0(sizeof(RemoteResult));
	int			i = 0;

	if (data != NULL && !cJSON_IsArray(data))
		RemoteBadResponse(target, operation, "\"data\" is not an array");
	result->matches = palloc0(sizeof(RemoteMatch) * Max(cJSON_GetArraySize(data), 1));
	cJSON_ArrayForEach(row, data)
	{
		if (!cJSON_IsObject(row))
			RemoteBadResponse(target, operation, "a row is not an object");
		ParseRow(target, operation, c, row, &result->matches[i++], metric, scored,
				 include_values, include_metadata);
	}
	result->nmatches = i;
	return result;
}

/* Append the filter expression and the consistency level */
static void
AppendFilterAndConsistency(StringInfo buf, RemoteTarget *target, const char *filter_json)
{
	if (filter_json)
	{
		appendStringInfoString(buf, ",\"filter\":");
		escape_json(buf, RemoteFilterToMilvus(filter_json, NULL));
	}
	if (target->consistency_level)
	{
		appendStringInfoString(buf, ",\"consistencyLevel\":");
		escape_json(buf, target->consistency_level);
	}
}

/* /entities/search: the top-k hits of one vector, best first */
RemoteResult *
MilvusSearch(RemoteTarget *target, const RemoteSearch *search)
{
	RemoteCachedIndex *c = Described(target);
	RemoteMetric metric = target->metric != REMOTE_METRIC_UNKNOWN ?
		target->metric : c->info->metric;
	StringInfoData body;
	cJSON	   *json;

	if (search->top_k < 1 || (int64) search->top_k + search->offset > REMOTE_MILVUS_MAX_WINDOW)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("top-k %d with offset %d is out of range for Milvus",
						search->top_k, search->offset),
				 errdetail("Milvus returns between 1 and %d hits per search, offset included.",
						   REMOTE_MILVUS_MAX_WINDOW)));
	BeginBody(&body, target, true);
	appendStringInfoString(&body, ",\"data\":[");
	RemoteAppendVector(&body, search->vector, search->dim);
	appendStringInfoString(&body, "],\"annsField\":");
	escape_json(&body, c->vector_field);
	appendStringInfo(&body, ",\"limit\":%d", search->top_k);
	if (search->offset > 0)
		appendStringInfo(&body, ",\"offset\":%d", search->offset);
	AppendOutputFields(&body, c, search, search->include_values, search->include_metadata);
	AppendFilterAndConsistency(&body, target, search->filter_json);
	AppendPartition(&body, target);
	appendStringInfoChar(&body, '}');

	json = Call(target, "search", "entities/search", body.data);
	return ParseRows(target, "search", c, json, metric, true,
					 search->include_values,
					 search->include_metadata || search->output_fields != NIL);
}

/*
 * Print a primary key for a request: Int64 keys as validated digits
 * (false when the text is no int64, which then matches nothing), VarChar
 * keys as JSON strings.
 */
static bool
AppendKey(StringInfo buf, RemoteCachedIndex *c, const char *id)
{
	if (c->pk_is_int)
	{
		char	   *end;
		long long	v;

		errno = 0;
		v = strtoll(id, &end, 10);
		if (errno != 0 || end == id || *end != '\0')
			return false;
		appendStringInfo(buf, "%lld", v);
	}
	else
		escape_json(buf, id);
	return true;
}

/*
 * /entities/get: the rows with these keys, in the order asked for (the
 * server's order is arbitrary); missing keys are left out.
 */
RemoteResult *
MilvusGet(RemoteTarget *target, char **ids, int nids,
		  bool include_values, bool include_metadata)
{
	RemoteCachedIndex *c = Described(target);
	StringInfoData body;
	cJSON	   *json;
	RemoteResult *rows,
			   *result;
	int			nsent = 0;

	result = palloc0(sizeof(RemoteResult));
	result->matches = palloc0(sizeof(RemoteMatch) * Max(nids, 1));

	BeginBody(&body, target, true);
	appendStringInfoString(&body, ",\"id\":[");
	for (int i = 0; i < nids; i++)
	{
		int			mark = body.len;

		if (nsent > 0)
			appendStringInfoChar(&body, ',');
		if (AppendKey(&body, c, ids[i]))
			nsent++;
		else
		{
			body.len = mark;
			body.data[mark] = '\0';
		}
	}
	appendStringInfoChar(&body, ']');
	if (nsent == 0)
		return result;
	AppendOutputFields(&body, c, NULL, include_values, include_metadata);
	AppendPartition(&body, target);
	if (target->consistency_level)
	{
		appendStringInfoString(&body, ",\"consistencyLevel\":");
		escape_json(&body, target->consistency_level);
	}
	appendStringInfoChar(&body, '}');

	json = Call(target, "get", "entities/get", body.data);
	rows = ParseRows(target, "get", c, json, REMOTE_METRIC_UNKNOWN, false,
					 include_values, include_metadata);

	/* the order asked for; an Int64 key compares by value */
	for (int i = 0; i < nids; i++)
	{
		StringInfoData key;

		initStringInfo(&key);
		if (c->pk_is_int)
		{
			if (!AppendKey(&key, c, ids[i]))
				continue;
		}
		else
			appendStringInfoString(&key, ids[i]);
		for (int j = 0; j < rows->nmatches; j++)
		{
			if (rows->matches[j].id && strcmp(rows->matches[j].id, key.data) == 0)
			{
				result->matches[result->nmatches++] = rows->matches[j];
				rows->matches[j].id = NULL; /* each row once */
				break;
			}
		}
	}
	return result;
}

/*
 * Full scans.  A Milvus query answers at most REMOTE_MILVUS_MAX_WINDOW
 * rows (offset + limit), in no promised order (spec section 5.2), so
 * neither offset paging nor paging by "key > last key" can read a large
 * collection without relying on behaviour the service does not promise.
 * MilvusScan splits the primary-key space instead, until each piece is
 * known to be complete:
 *
 * - a range (lo, hi] of keys is resolved by a query for the keys alone
 *   (outputFields: the key; limit: the window; filter: the pushed filter
 *   and the range).  Fewer keys than the window are all of them: they are
 *   sorted and cut into chunks of REMOTE_MILVUS_QUERY_PAGE keys, each a key
 *   range again.  A full window may be a part only: the range is split at
 *   the median of the keys seen, and since each half misses some of those
 *   keys, each half holds fewer rows than the range did;
 * - a chunk is read by one query for every wanted field, with its range
 *   and the filter; it holds at most a page of rows.
 *
 * What is relied upon: the filter's comparison operators on the key
 * (numeric for Int64, byte-wise for VarChar, spec section 6) and that a
 * query returns every matching row up to its limit.  The pieces partition
 * the key space exactly, so each row is returned once.  The pieces still
 * to do travel in the page token as JSON, [["r"|"c", lo, hi], ...], keys
 * as strings and null for unbounded.  A collection that fits in one page
 * is read by a single query, as is a scan bounded by a LIMIT.
 */

/* One piece of the key space still to read: keys in (lo, hi] */
typedef struct ScanPiece
{
	bool		chunk;			/* known to hold at most a page of rows */
	char	   *lo;				/* exclusive lower bound, NULL: none */
	char	   *hi;				/* inclusive upper bound, NULL: none */
} ScanPiece;

/* A key of a resolved range, with its numeric value for Int64 keys */
typedef struct ScanKey
{
	char	   *text;
	int64		value;
} ScanKey;

static void AppendMilvusString(StringInfo buf, const char *s);
static void AppendField(StringInfo buf, const char *name, const char *metadata_field);

/* Make a piece; the strings are copied into the current context */
static ScanPiece *
NewPiece(bool chunk, const char *lo, const char *hi)
{
	ScanPiece  *p = palloc(sizeof(ScanPiece));

	p->chunk = chunk;
	p->lo = lo ? pstrdup(lo) : NULL;
	p->hi = hi ? pstrdup(hi) : NULL;
	return p;
}

/* Print the pieces still to do as a page token */
static char *
PrintScanToken(List *pieces)
{
	cJSON	   *arr = cJSON_CreateArray();
	ListCell   *lc;
	char	   *s,
			   *result;

	foreach(lc, pieces)
	{
		ScanPiece  *p = lfirst(lc);
		cJSON	   *item = cJSON_CreateArray();

		cJSON_AddItemToArray(item, cJSON_CreateString(p->chunk ? "c" : "r"));
		cJSON_AddItemToArray(item, p->lo ? cJSON_CreateString(p->lo) : cJSON_CreateNull());
		cJSON_AddItemToArray(item, p->hi ? cJSON_CreateString(p->hi) : cJSON_CreateNull());
		cJSON_AddItemToArray(arr, item);
	}
	s = cJSON_PrintUnformatted(arr);
	cJSON_Delete(arr);
	if (s == NULL)
		elog(ERROR, "out of memory printing a Milvus scan token");
	result = pstrdup(s);
	cJSON_free(s);
	return result;
}

/* Read a page token printed by PrintScanToken */
static List *
ParseScanToken(const char *token)
{
	cJSON	   *arr = cJSON_Parse(token);
	cJSON	   *item;
	List	   *pieces = NIL;

	if (!cJSON_IsArray(arr))
	{
		cJSON_Delete(arr);
		elog(ERROR, "invalid Milvus scan token");
	}
	cJSON_ArrayForEach(item, arr)
	{
		cJSON	   *kind = cJSON_GetArrayItem(item, 0);
		cJSON	   *lo = cJSON_GetArrayItem(item, 1);
		cJSON	   *hi = cJSON_GetArrayItem(item, 2);

		if (!cJSON_IsString(kind) || lo == NULL || hi == NULL)
		{
			cJSON_Delete(arr);
			elog(ERROR, "invalid Milvus scan token");
		}
		pieces = lappend(pieces, NewPiece(kind->valuestring[0] == 'c',
										  cJSON_IsString(lo) ? lo->valuestring : NULL,
										  cJSON_IsString(hi) ? hi->valuestring : NULL));
	}
	cJSON_Delete(arr);
	return pieces;
}

/* Parse an Int64 key the service sent; a malformed one is a remote error */
static int64
ScanIntKey(RemoteTarget *target, const char *text)
{
	char	   *end;
	long long	v;

	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0')
		RemoteBadResponse(target, "query", "a primary key is not an Int64");
	return (int64) v;
}

/* Print a key as a literal of the filter: digits or a string */
static void
AppendKeyLiteral(StringInfo buf, RemoteTarget *target, RemoteCachedIndex *c,
				 const char *key)
{
	if (c->pk_is_int)
		appendStringInfo(buf, INT64_FORMAT, ScanIntKey(target, key));
	else
		AppendMilvusString(buf, key);
}

/* The filter of one piece: the pushed expression and the key range */
static char *
ScanFilter(RemoteTarget *target, RemoteCachedIndex *c, const char *expr,
		   const char *lo, const char *hi)
{
	StringInfoData buf;

	initStringInfo(&buf);
	if (expr)
		appendStringInfo(&buf, "(%s)", expr);
	if (lo)
	{
		if (buf.len > 0)
			appendStringInfoString(&buf, " and ");
		AppendField(&buf, c->pk_field, NULL);
		appendStringInfoString(&buf, " > ");
		AppendKeyLiteral(&buf, target, c, lo);
	}
	if (hi)
	{
		if (buf.len > 0)
			appendStringInfoString(&buf, " and ");
		AppendField(&buf, c->pk_field, NULL);
		appendStringInfoString(&buf, " <= ");
		AppendKeyLiteral(&buf, target, c, hi);
	}
	return buf.data;
}

/*
 * One /entities/query of a scan: the rows (every wanted field) or only
 * the keys of what the filter selects, at most limit of them.
 */
static RemoteResult *
ScanQuery(RemoteTarget *target, RemoteCachedIndex *c, const RemoteSearch *search,
		  const char *filter, int limit, bool keys_only)
{
	StringInfoData body;
	cJSON	   *json;

	BeginBody(&body, target, true);
	appendStringInfo(&body, ",\"limit\":%d,\"filter\":", limit);
	escape_json(&body, filter);
	if (keys_only)
	{
		appendStringInfoString(&body, ",\"outputFields\":[");
		escape_json(&body, c->pk_field);
		appendStringInfoChar(&body, ']');
	}
	else
		AppendOutputFields(&body, c, search, search->include_values, search->include_metadata);
	AppendFilterAndConsistency(&body, target, NULL);
	AppendPartition(&body, target);
	appendStringInfoChar(&body, '}');

	json = Call(target, "query", "entities/query", body.data);
	if (keys_only)
		return ParseRows(target, "query", c, json, REMOTE_METRIC_UNKNOWN, false,
						 false, false);
	return ParseRows(target, "query", c, json, REMOTE_METRIC_UNKNOWN, false,
					 search->include_values,
					 search->include_metadata || search->output_fields != NIL);
}

/* qsort comparator of Int64 keys: numeric, as the service compares them */
static int
CompareIntKeys(const void *a, const void *b)
{
	int64		x = ((const ScanKey *) a)->value;
	int64		y = ((const ScanKey *) b)->value;

	return x < y ? -1 : x > y ? 1 : 0;
}

/* qsort comparator of VarChar keys: byte-wise, as the service compares them */
static int
CompareTextKeys(const void *a, const void *b)
{
	return strcmp(((const ScanKey *) a)->text, ((const ScanKey *) b)->text);
}

/*
 * Resolve a range: ask for its keys and return the pieces that replace
 * it, in key order (chunks when the keys are complete, else two halves).
 * The pieces are made in the caller's context; the keys live in a
 * temporary one.
 */
static List *
ResolveRange(RemoteTarget *target, RemoteCachedIndex *c, const RemoteSearch *search,
			 const char *expr, ScanPiece *range)
{
	MemoryContext caller = CurrentMemoryContext;
	MemoryContext tmp = AllocSetContextCreate(caller, "vectorpg Milvus scan keys",
											  ALLOCSET_DEFAULT_SIZES);
	RemoteResult *keys;
	ScanKey    *sorted;
	List	   *pieces = NIL;
	int			n;

	MemoryContextSwitchTo(tmp);
	keys = ScanQuery(target, c, search, ScanFilter(target, c, expr, range->lo, range->hi),
					 REMOTE_MILVUS_MAX_WINDOW, true);
	n = keys->nmatches;
	sorted = palloc(sizeof(ScanKey) * Max(n, 1));
	for (int i = 0; i < n; i++)
	{
		sorted[i].text = keys->matches[i].id;
		sorted[i].value = c->pk_is_int ? ScanIntKey(target, sorted[i].text) : 0;
	}
	qsort(sorted, n, sizeof(ScanKey), c->pk_is_int ? CompareIntKeys : CompareTextKeys);
	MemoryContextSwitchTo(caller);

	if (n < REMOTE_MILVUS_MAX_WINDOW)
	{
		/* every key of the range: chunks of a page, covering (lo, hi] */
		for (int start = 0; start < n; start += REMOTE_MILVUS_QUERY_PAGE)
		{
			int			end = start + REMOTE_MILVUS_QUERY_PAGE;

			pieces = lappend(pieces,
							 NewPiece(true,
									  start == 0 ? range->lo : sorted[start - 1].text,
									  end >= n ? range->hi : sorted[end - 1].text));
		}
	}
	else
	{
		/* a window full: split at the median of the keys seen */
		int			mid = n / 2 - 1;

		if ((c->pk_is_int ? CompareIntKeys(&sorted[mid], &sorted[n - 1]) :
			 CompareTextKeys(&sorted[mid], &sorted[n - 1])) >= 0)
			RemoteBadResponse(target, "query", "a query answered the same primary key twice");
		pieces = lappend(pieces, NewPiece(false, range->lo, sorted[mid].text));
		pieces = lappend(pieces, NewPiece(false, sorted[mid].text, range->hi));
	}
	MemoryContextDelete(tmp);
	return pieces;
}

/*
 * One page of a full scan (see above).  search->top_k > 0 on the first
 * page bounds the scan (LIMIT without ORDER BY): any top_k rows, read by
 * one query when that fits the window.
 */
RemoteResult *
MilvusScan(RemoteTarget *target, const RemoteSearch *search)
{
	RemoteCachedIndex *c = Described(target);
	char	   *expr = search->filter_json ?
		RemoteFilterToMilvus(search->filter_json, NULL) : NULL;
	List	   *pieces;
	RemoteResult *result;

	if (search->page_token == NULL)
	{
		bool		bounded = search->top_k > 0 &&
			search->top_k <= REMOTE_MILVUS_MAX_WINDOW;
		int			limit = bounded ? search->top_k : REMOTE_MILVUS_QUERY_PAGE + 1;

		/* most collections fit in one page: try that first */
		result = ScanQuery(target, c, search, ScanFilter(target, c, expr, NULL, NULL),
						   limit, false);
		if (bounded || result->nmatches <= REMOTE_MILVUS_QUERY_PAGE)
			return result;
		pieces = list_make1(NewPiece(false, NULL, NULL));
	}
	else
		pieces = ParseScanToken(search->page_token);

	while (pieces != NIL)
	{
		ScanPiece  *p = linitial(pieces);

		pieces = list_delete_first(pieces);
		CHECK_FOR_INTERRUPTS();
		if (p->chunk)
		{
			result = ScanQuery(target, c, search, ScanFilter(target, c, expr, p->lo, p->hi),
							   REMOTE_MILVUS_MAX_WINDOW, false);
			if (result->nmatches < REMOTE_MILVUS_MAX_WINDOW)
			{
				result->next_token = pieces ? PrintScanToken(pieces) : NULL;
				return result;
			}
			/* the chunk grew past a window meanwhile: resolve it again */
			pieces = lcons(NewPiece(false, p->lo, p->hi), pieces);
			continue;
		}
		pieces = list_concat(ResolveRange(target, c, search, expr, p), pieces);
	}
	return palloc0(sizeof(RemoteResult));
}

/*
 * The number of rows of the table's collection or partition
 * (count(*) query), for the planner's estimate of a full scan.
 */
int64
MilvusCount(RemoteTarget *target)
{
	StringInfoData body;
	cJSON	   *json,
			   *data,
			   *row,
			   *count;

	/* a query needs the collection loaded and its partition present */
	(void) Described(target);
	BeginBody(&body, target, true);
	appendStringInfoString(&body, ",\"filter\":\"\",\"outputFields\":[\"count(*)\"]");
	AppendFilterAndConsistency(&body, target, NULL);
	AppendPartition(&body, target);
	appendStringInfoChar(&body, '}');
	json = Call(target, "count", "entities/query", body.data);
	data = cJSON_GetObjectItemCaseSensitive(json, "data");
	row = cJSON_IsArray(data) ? cJSON_GetArrayItem(data, 0) : NULL;
	count = cJSON_IsObject(row) ? cJSON_GetObjectItemCaseSensitive(row, "count(*)") : NULL;
	if (cJSON_IsNumber(count))
		return (int64) count->valuedouble;
	if (cJSON_IsString(count))
		return ScanIntKey(target, count->valuestring);
	RemoteBadResponse(target, "count", "no count(*) in the answer");
}

/* ---- Filter translation ---- */

/* Is this a plain Milvus identifier ([A-Za-z_][A-Za-z0-9_]*)? */
static bool
IsIdentifier(const char *s)
{
	if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			  (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* Print a string literal in double quotes with C escapes */
static void
AppendMilvusString(StringInfo buf, const char *s)
{
	appendStringInfoChar(buf, '"');
	for (; *s; s++)
	{
		unsigned char ch = (unsigned char) *s;

		if (ch == '"' || ch == '\\')
		{
			appendStringInfoChar(buf, '\\');
			appendStringInfoChar(buf, (char) ch);
		}
		else if (ch == '\n')
			appendStringInfoString(buf, "\\n");
		else if (ch == '\t')
			appendStringInfoString(buf, "\\t");
		else if (ch == '\r')
			appendStringInfoString(buf, "\\r");
		else if (ch < 0x20)
			appendStringInfo(buf, "\\x%02x", ch);
		else
			appendStringInfoChar(buf, (char) ch);
	}
	appendStringInfoChar(buf, '"');
}

/* Print a field reference: name, metadata_field["name"] or $meta["name"] */
static void
AppendField(StringInfo buf, const char *name, const char *metadata_field)
{
	if (metadata_field)
	{
		appendStringInfoString(buf, metadata_field);
		appendStringInfoChar(buf, '[');
		AppendMilvusString(buf, name);
		appendStringInfoChar(buf, ']');
	}
	else if (IsIdentifier(name))
		appendStringInfoString(buf, name);
	else
	{
		appendStringInfoString(buf, "$meta[");
		AppendMilvusString(buf, name);
		appendStringInfoChar(buf, ']');
	}
}

/* Print one literal (string, number or boolean) of a filter */
static void
AppendLiteral(StringInfo buf, const cJSON *v)
{
	if (cJSON_IsString(v))
		AppendMilvusString(buf, v->valuestring);
	else if (cJSON_IsBool(v))
		appendStringInfoString(buf, cJSON_IsTrue(v) ? "true" : "false");
	else if (cJSON_IsNumber(v))
		appendStringInfoString(buf, RemoteJsonNumberText(v));
	else
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
				 errmsg("unsupported value in a Milvus filter")));
}

static void TranslateFilter(StringInfo buf, const cJSON *filter, const char *mf);

/* Translate the conditions on one field: {"$op": value, ...} or a value */
static void
TranslateField(StringInfo buf, const char *name, const cJSON *cond, const char *mf)
{
	const cJSON *op;
	bool		first = true;

	bool		several = cJSON_GetArraySize(cond) > 1;

	if (!cJSON_IsObject(cond))
	{
		AppendField(buf, name, mf);
		appendStringInfoString(buf, " == ");
		AppendLiteral(buf, cond);
		return;
	}
	if (several)
		appendStringInfoChar(buf, '(');
	cJSON_ArrayForEach(op, cond)
	{
		const char *o = op->string;

		if (!first)
			appendStringInfoString(buf, " and ");
		first = false;
		if (strcmp(o, "$exists") == 0)
		{
			AppendField(buf, name, mf);
			appendStringInfoString(buf, cJSON_IsTrue(op) ? " is not null" : " is null");
			continue;
		}
		if (strcmp(o, "$in") == 0 || strcmp(o, "$nin") == 0)
		{
			const cJSON *v;
			bool		f = true;

			AppendField(buf, name, mf);
			appendStringInfoString(buf, strcmp(o, "$in") == 0 ? " in [" : " not in [");
			cJSON_ArrayForEach(v, op)
			{
				if (!f)
					appendStringInfoString(buf, ", ");
				AppendLiteral(buf, v);
				f = false;
			}
			appendStringInfoChar(buf, ']');
			continue;
		}
		AppendField(buf, name, mf);
		if (strcmp(o, "$eq") == 0)
			appendStringInfoString(buf, " == ");
		else if (strcmp(o, "$ne") == 0)
			appendStringInfoString(buf, " != ");
		else if (strcmp(o, "$gt") == 0)
			appendStringInfoString(buf, " > ");
		else if (strcmp(o, "$gte") == 0)
			appendStringInfoString(buf, " >= ");
		else if (strcmp(o, "$lt") == 0)
			appendStringInfoString(buf, " < ");
		else if (strcmp(o, "$lte") == 0)
			appendStringInfoString(buf, " <= ");
		else
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("unsupported filter operator \"%s\"", o)));
		AppendLiteral(buf, op);
	}
	if (first)
		appendStringInfoString(buf, "true");
	if (several)
		appendStringInfoChar(buf, ')');
}

/* Translate a filter object: fields ANDed, $and / $or lists */
static void
TranslateFilter(StringInfo buf, const cJSON *filter, const char *mf)
{
	const cJSON *item;
	bool		first = true;
	bool		several;

	if (!cJSON_IsObject(filter))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("a filter must be a JSON object")));
	several = cJSON_GetArraySize(filter) > 1;
	if (several)
		appendStringInfoChar(buf, '(');
	cJSON_ArrayForEach(item, filter)
	{
		if (!first)
			appendStringInfoString(buf, " and ");
		first = false;
		if (strcmp(item->string, "$and") == 0 || strcmp(item->string, "$or") == 0)
		{
			const cJSON *sub;
			bool		f = true;
			const char *conj = item->string[1] == 'a' ? " and " : " or ";

			appendStringInfoChar(buf, '(');
			cJSON_ArrayForEach(sub, item)
			{
				if (!f)
					appendStringInfoString(buf, conj);
				TranslateFilter(buf, sub, mf);
				f = false;
			}
			if (f)
				appendStringInfoString(buf, item->string[1] == 'a' ? "true" : "false");
			appendStringInfoChar(buf, ')');
		}
		else
			TranslateField(buf, item->string, item, mf);
	}
	if (first)
		appendStringInfoString(buf, "true");
	if (several)
		appendStringInfoChar(buf, ')');
}

/*
 * Translate a filter in the Pinecone language into a Milvus boolean
 * expression.  Fields are referred to by name (Milvus reads names that are
 * not in the schema from the dynamic field), or as metadata_field["name"]
 * when the metadata lives in one JSON field, or as $meta["name"] when the
 * name is no identifier.
 */
char *
RemoteFilterToMilvus(const char *filter_json, const char *metadata_field)
{
	StringInfoData buf;
	cJSON	   *filter = cJSON_Parse(filter_json);

	if (filter == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("invalid filter: not JSON")));
	initStringInfo(&buf);
	PG_TRY();
	{
		TranslateFilter(&buf, filter, metadata_field);
	}
	PG_FINALLY();
	{
		cJSON_Delete(filter);
	}
	PG_END_TRY();
	return buf.data;
}

/* ---- Writes: upsert and delete (remote_write.c drives them) ---- */

/* A "key"/"value" type parameter of a field as an integer, 0 when absent */
static int
FieldParamInt(cJSON *field, const char *name)
{
	cJSON	   *params = cJSON_GetObjectItemCaseSensitive(field, "params");
	cJSON	   *p;

	cJSON_ArrayForEach(p, params)
	{
		cJSON	   *key = cJSON_GetObjectItemCaseSensitive(p, "key");
		cJSON	   *value = cJSON_GetObjectItemCaseSensitive(p, "value");

		if (cJSON_IsString(key) && strcmp(key->valuestring, name) == 0)
		{
			if (cJSON_IsString(value))
				return atoi(value->valuestring);
			if (cJSON_IsNumber(value))
				return value->valueint;
		}
	}
	return 0;
}

/*
 * The cached description with the field details writes check (lengths,
 * nullability, defaults, array element types), read by a describe of its
 * own the first time this backend writes to the collection.
 */
static RemoteCachedIndex *
WriteSchema(RemoteTarget *target)
{
	RemoteCachedIndex *c = Described(target);
	StringInfoData body;
	cJSON	   *json,
			   *data,
			   *fields,
			   *field;
	MemoryContext cxt,
				old;
	List	   *result = NIL;

	if (c->write_fields != NIL)
		return c;
	BeginBody(&body, target, true);
	appendStringInfoChar(&body, '}');
	json = Call(target, "describe_collection", "collections/describe", body.data);
	data = cJSON_GetObjectItemCaseSensitive(json, "data");
	fields = cJSON_IsObject(data) ? cJSON_GetObjectItemCaseSensitive(data, "fields") : NULL;
	if (!cJSON_IsArray(fields))
		RemoteBadResponse(target, "describe_collection", "no fields in the collection description");

	/* the cache entry may have been dropped by an invalidation meanwhile */
	c = Described(target);
	cxt = GetMemoryChunkContext(c);
	old = MemoryContextSwitchTo(cxt);
	cJSON_ArrayForEach(field, fields)
	{
		cJSON	   *name = cJSON_GetObjectItemCaseSensitive(field, "name");
		cJSON	   *type = cJSON_GetObjectItemCaseSensitive(field, "type");
		cJSON	   *elem = cJSON_GetObjectItemCaseSensitive(field, "elementType");
		RemoteWriteField *f;

		if (!cJSON_IsString(name) || !cJSON_IsString(type))
			continue;
		f = palloc0(sizeof(RemoteWriteField));
		f->name = pstrdup(name->valuestring);
		f->type = pstrdup(type->valuestring);
		f->element_type = cJSON_IsString(elem) ? pstrdup(elem->valuestring) : NULL;
		f->max_length = FieldParamInt(field, "max_length");
		f->max_capacity = FieldParamInt(field, "max_capacity");
		f->nullable = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(field, "nullable"));
		f->has_default = cJSON_GetObjectItemCaseSensitive(field, "defaultValue") != NULL;
		f->primary = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(field, "primaryKey"));
		f->auto_id = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(field, "autoId"));
		result = lappend(result, f);
	}
	c->write_fields = result;
	MemoryContextSwitchTo(old);
	return c;
}

/* The write details of a field by name, or NULL */
static RemoteWriteField *
WriteField(RemoteCachedIndex *c, const char *name)
{
	ListCell   *lc;

	foreach(lc, c->write_fields)
	{
		RemoteWriteField *f = lfirst(lc);

		if (strcmp(f->name, name) == 0)
			return f;
	}
	return NULL;
}

/* Is the type one of Milvus' integer types?  Sets its bounds */
static bool
IntegerType(const char *type, int64 *min, int64 *max)
{
	if (strcmp(type, "Int8") == 0)
		*min = PG_INT8_MIN, *max = PG_INT8_MAX;
	else if (strcmp(type, "Int16") == 0)
		*min = PG_INT16_MIN, *max = PG_INT16_MAX;
	else if (strcmp(type, "Int32") == 0)
		*min = PG_INT32_MIN, *max = PG_INT32_MAX;
	else if (strcmp(type, "Int64") == 0)
		*min = PG_INT64_MIN, *max = PG_INT64_MAX;
	else
		return false;
	return true;
}

/*
 * Parse an integer exactly from JSON number text (or the text of an Int64
 * string): digits only, or a number with an integral value within 2^53;
 * false when it is not an integer or out of [min, max] (*range then).
 */
static bool
ParseInteger(const char *text, int len, int64 min, int64 max, int64 *result,
			 bool *range)
{
	char	   *s = pnstrdup(text, len);
	char	   *end;
	long long	v;

	*range = false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s)
		return false;
	if (*end != '\0')
	{
		double		d = strtod(s, &end);

		if (*end != '\0' || d != floor(d) || fabs(d) > 9007199254740992.0)
		{
			*range = (*end == '\0' && d == floor(d));
			return false;
		}
		v = (long long) d;
	}
	else if (errno == ERANGE)
	{
		*range = true;
		return false;
	}
	if (v < min || v > max)
	{
		*range = true;
		return false;
	}
	*result = v;
	return true;
}

/* Bytes of a JSON string literal's value once unescaped */
static int
JsonStringBytes(const char *value, int len)
{
	cJSON	   *s;
	int			n;

	if (memchr(value, '\\', len) == NULL)
		return len - 2;
	s = cJSON_ParseWithLength(value, len);
	n = cJSON_IsString(s) ? (int) strlen(s->valuestring) : len - 2;
	cJSON_Delete(s);
	return n;
}

/* The JSON kind of a value, for messages */
static const char *
KindName(RemoteJsonKind kind)
{
	switch (kind)
	{
		case RJ_STRING:
			return "a string";
		case RJ_NUMBER:
			return "a number";
		case RJ_TRUE:
		case RJ_FALSE:
			return "a boolean";
		case RJ_NULL:
			return "null";
		case RJ_ARRAY:
			return "an array";
		case RJ_OBJECT:
			return "an object";
	}
	return "a value";
}

/* Does one array element fit the element type? */
static bool
ElementFits(const RemoteWriteField *f, const cJSON *e)
{
	int64		min,
				max;
	const char *t = f->element_type ? f->element_type : "";

	if (IntegerType(t, &min, &max))
		return cJSON_IsNumber(e) && e->valuedouble == floor(e->valuedouble) &&
			e->valuedouble >= (double) min && e->valuedouble <= (double) max;
	if (strcmp(t, "Float") == 0 || strcmp(t, "Double") == 0)
		return cJSON_IsNumber(e);
	if (strcmp(t, "Bool") == 0)
		return cJSON_IsBool(e);
	if (strcmp(t, "VarChar") == 0)
		return cJSON_IsString(e) &&
			(f->max_length <= 0 || (int) strlen(e->valuestring) <= f->max_length);
	return true;
}

/*
 * Check one metadata value against its schema field; appends the value as
 * the row will carry it to out (when out is not NULL).  Integers are
 * printed from their parsed value, so "5.0" goes as 5 and an Int64 keeps
 * every digit.
 */
static bool
FieldValue(RemoteTarget *target, const RemoteWrite *w, const RemoteWriteField *f,
		   const RemoteJsonMember *m, StringInfo out, RemoteWriteError *err)
{
	const char *id = RemoteShortId(w->id);
	int64		min,
				max;

#define WRONG_KIND() \
	RemoteWriteInvalid(err, ERRCODE_FDW_INVALID_DATA_TYPE, \
					   psprintf("metadata value \"%s\" of record \"%s\" is %s, but Milvus field \"%s\" is %s", \
								m->key, id, KindName(m->kind), f->name, f->type), \
					   NULL, "Give each schema field a value of its type.")

	if (m->kind == RJ_NULL)
	{
		if (!f->nullable && !f->has_default)
			return RemoteWriteInvalid(err, ERRCODE_NOT_NULL_VIOLATION,
									  psprintf("metadata value \"%s\" of record \"%s\" is null, but Milvus field \"%s\" is not nullable",
											   m->key, id, f->name),
									  NULL, "Give the field a value, or make it nullable in the collection's schema.");
		if (out)
			appendStringInfoString(out, "null");
		return true;
	}
	if (IntegerType(f->type, &min, &max))
	{
		int64		v;
		bool		range;
		const char *text = m->value;
		int			len = m->value_len;

		if (m->kind == RJ_STRING && strcmp(f->type, "Int64") == 0)
		{
			text++;
			len -= 2;
		}
		else if (m->kind != RJ_NUMBER)
			return WRONG_KIND();
		if (!ParseInteger(text, len, min, max, &v, &range))
			return RemoteWriteInvalid(err, range ? ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE :
									  ERRCODE_INVALID_TEXT_REPRESENTATION,
									  psprintf("metadata value \"%s\" of record \"%s\" is %s for Milvus field \"%s\" (%s)",
											   m->key, id, range ? "out of range" : "not an integer",
											   f->name, f->type),
									  psprintf("The value is %.*s.", Min(m->value_len, 64), m->value),
									  "Give each schema field a value of its type.");
		if (out)
			appendStringInfo(out, INT64_FORMAT, v);
		return true;
	}
	if (strcmp(f->type, "Float") == 0 || strcmp(f->type, "Double") == 0)
	{
		char	   *text;
		double		d;

		if (m->kind != RJ_NUMBER)
			return WRONG_KIND();
		text = pnstrdup(m->value, m->value_len);
		d = strtod(text, NULL);
		if (!isfinite(d) || (f->type[0] == 'F' && !isfinite((float) d)))
			return RemoteWriteInvalid(err, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
									  psprintf("metadata value \"%s\" of record \"%s\" is out of range for Milvus field \"%s\" (%s)",
											   m->key, id, f->name, f->type),
									  NULL, "Give each schema field a value of its type.");
	}
	else if (strcmp(f->type, "Bool") == 0)
	{
		if (m->kind != RJ_TRUE && m->kind != RJ_FALSE)
			return WRONG_KIND();
	}
	else if (strcmp(f->type, "VarChar") == 0)
	{
		int			bytes;

		if (m->kind != RJ_STRING)
			return WRONG_KIND();
		bytes = JsonStringBytes(m->value, m->value_len);
		if (f->max_length > 0 && bytes > f->max_length)
			return RemoteWriteInvalid(err, ERRCODE_STRING_DATA_RIGHT_TRUNCATION,
									  psprintf("metadata value \"%s\" of record \"%s\" is too long for Milvus field \"%s\"",
											   m->key, id, f->name),
									  psprintf("It has %d bytes; the field's max_length is %d.", bytes, f->max_length),
									  "Shorten the value, or raise the field's max_length in the collection's schema.");
	}
	else if (strcmp(f->type, "Array") == 0)
	{
		cJSON	   *list;
		cJSON	   *e;
		bool		ok = true;
		int			count;

		if (m->kind != RJ_ARRAY)
			return WRONG_KIND();
		list = cJSON_ParseWithLength(m->value, m->value_len);
		count = cJSON_GetArraySize(list);
		cJSON_ArrayForEach(e, list)
			ok &= ElementFits(f, e);
		cJSON_Delete(list);
		if (f->max_capacity > 0 && count > f->max_capacity)
			return RemoteWriteInvalid(err, ERRCODE_ARRAY_SUBSCRIPT_ERROR,
									  psprintf("metadata value \"%s\" of record \"%s\" has too many elements for Milvus field \"%s\"",
											   m->key, id, f->name),
									  psprintf("It has %d elements; the field's max_capacity is %d.", count, f->max_capacity),
									  "Send fewer elements, or raise the field's max_capacity in the collection's schema.");
		if (!ok)
			return RemoteWriteInvalid(err, ERRCODE_FDW_INVALID_DATA_TYPE,
									  psprintf("metadata value \"%s\" of record \"%s\" has an element that does not fit Milvus field \"%s\" (Array of %s)",
											   m->key, id, f->name, f->element_type ? f->element_type : "?"),
									  NULL, "Give each schema field a value of its type.");
	}
	if (out)
		RemoteAppendJsonCompact(out, m->value, m->value_len);
	return true;
#undef WRONG_KIND
}

/*
 * Check (and, when out is not NULL, append) the metadata of an upsert as
 * row members: schema fields by type, other keys into the dynamic field,
 * null dynamic keys left out; every required field must be present.
 */
static bool
MilvusMetadata(RemoteTarget *target, RemoteCachedIndex *c, const RemoteWrite *w,
			   StringInfo out, RemoteWriteError *err)
{
	RemoteJsonMember *m = NULL;
	const char *why = NULL;
	int			n = 0;
	const char *id = RemoteShortId(w->id);
	ListCell   *lc;

	if (w->metadata_json)
	{
		n = RemoteJsonObjectMembers(w->metadata_json, &m, &why);
		if (n < 0)
			return RemoteWriteInvalid(err, n == -1 ? ERRCODE_INVALID_TEXT_REPRESENTATION : ERRCODE_INVALID_PARAMETER_VALUE,
									  psprintf("metadata of record \"%s\" is not a JSON object", id),
									  psprintf("The metadata text is invalid: %s.", why),
									  "Milvus metadata is a JSON object of scalar fields and dynamic keys.");
	}
	for (int i = 0; i < n; i++)
	{
		RemoteWriteField *f;

		if (strcmp(m[i].key, c->pk_field) == 0 || strcmp(m[i].key, c->vector_field) == 0 ||
			strcmp(m[i].key, "$meta") == 0 ||
			(c->info->sparse_field && strcmp(m[i].key, c->info->sparse_field) == 0))
			return RemoteWriteInvalid(err, ERRCODE_INVALID_PARAMETER_VALUE,
									  psprintf("metadata key \"%s\" of record \"%s\" names the %s",
											   m[i].key, id,
											   strcmp(m[i].key, c->pk_field) == 0 ? "primary key field" :
											   strcmp(m[i].key, "$meta") == 0 ? "dynamic field" :
											   strcmp(m[i].key, c->vector_field) == 0 ? "vector field" :
											   "sparse vector field"),
									  NULL, "The key, the vector and the sparse values are written from the record's id, vector and sparse values.");
		f = WriteField(c, m[i].key);
		if (f == NULL)
		{
			if (!c->dynamic)
				return RemoteWriteInvalid(err, ERRCODE_FDW_COLUMN_NAME_NOT_FOUND,
										  psprintf("Milvus collection \"%s\" has no field \"%s\" (metadata of record \"%s\")",
												   target->index, m[i].key, id),
										  psprintf("The collection has no dynamic field, so keys outside its schema are refused."),
										  "Add the field to the collection, enable its dynamic field, or leave the key out of the metadata.");
			if (m[i].kind == RJ_NULL)
				continue;
			if (out)
			{
				appendStringInfoChar(out, ',');
				appendBinaryStringInfo(out, m[i].key_raw, m[i].key_raw_len);
				appendStringInfoChar(out, ':');
				RemoteAppendJsonCompact(out, m[i].value, m[i].value_len);
			}
			continue;
		}
		if (out)
		{
			if (m[i].kind == RJ_NULL && !f->nullable)
				continue;		/* the field's default applies */
			appendStringInfoChar(out, ',');
			appendBinaryStringInfo(out, m[i].key_raw, m[i].key_raw_len);
			appendStringInfoChar(out, ':');
		}
		if (!FieldValue(target, w, f, &m[i], out, err))
			return false;
	}

	/* every scalar field without null or default needs a value */
	if (out == NULL)
	{
		foreach(lc, c->write_fields)
		{
			RemoteWriteField *f = lfirst(lc);
			bool		given = false;

			if (f->primary || f->nullable || f->has_default ||
				strstr(f->type, "Vector") != NULL)
				continue;
			for (int i = 0; i < n && !given; i++)
				given = strcmp(m[i].key, f->name) == 0;
			if (!given)
				return RemoteWriteInvalid(err, ERRCODE_NOT_NULL_VIOLATION,
										  psprintf("record \"%s\" has no value for Milvus field \"%s\"", id, f->name),
										  psprintf("The field is %s, not nullable and without a default value.", f->type),
										  "Put the field into the record's metadata.");
		}
	}
	return true;
}

/*
 * Check a primary key for its type: an Int64 key is an integer within
 * int64, a VarChar key fits max_length.  Appends the key as a JSON value
 * (Int64 as digits) to out when it is not NULL.
 */
static bool
MilvusKey(RemoteTarget *target, RemoteCachedIndex *c, const char *key,
		  StringInfo out, RemoteWriteError *err)
{
	if (c->pk_is_int)
	{
		char	   *end;
		long long	v;

		errno = 0;
		v = strtoll(key, &end, 10);
		if (end == key || *end != '\0' || isspace((unsigned char) *key))
			return RemoteWriteInvalid(err, ERRCODE_INVALID_TEXT_REPRESENTATION,
									  psprintf("record id \"%s\" is not an integer", RemoteShortId(key)),
									  psprintf("The primary key \"%s\" of Milvus collection \"%s\" is Int64.",
											   c->pk_field, target->index),
									  "Ids of a collection with an Int64 key are integers written in decimal.");
		if (errno == ERANGE)
			return RemoteWriteInvalid(err, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
									  psprintf("record id \"%s\" is out of range for an Int64 key", RemoteShortId(key)),
									  NULL, "Ids of a collection with an Int64 key lie between -9223372036854775808 and 9223372036854775807.");
		if (out)
			appendStringInfo(out, "%lld", v);
	}
	else
	{
		RemoteWriteField *f = WriteField(c, c->pk_field);
		int			len = strlen(key);

		if (f && f->max_length > 0 && len > f->max_length)
			return RemoteWriteInvalid(err, ERRCODE_STRING_DATA_RIGHT_TRUNCATION,
									  psprintf("record id \"%s\" is too long", RemoteShortId(key)),
									  psprintf("It has %d bytes; the primary key \"%s\" of Milvus collection \"%s\" has max_length %d.",
											   len, c->pk_field, target->index, f->max_length),
									  "Use shorter ids, for example a hash of the long one.");
		if (out)
			escape_json(out, key);
	}
	return true;
}

/*
 * The sparse values of an upsert against the collection's schema: written
 * (when out is not NULL) as ,"<field>":{"<index>":value,...} into the
 * collection's one SparseFloatVector field.  A record with sparse values
 * needs that field; a collection with such a field needs every record's
 * sparse values unless the field is nullable (Milvus has no default for a
 * vector).
 */
static bool
MilvusSparse(RemoteTarget *target, RemoteCachedIndex *c, const RemoteWrite *w,
			 StringInfo out, RemoteWriteError *err)
{
	const char *id = RemoteShortId(w->id);
	const char *field = c->info->sparse_field;
	RemoteWriteField *f;
	RemoteSparse sp;

	ListCell   *lc;

	if (w->sparse_json == NULL)
	{
		foreach(lc, c->write_fields)
		{
			f = lfirst(lc);
			if (strcmp(f->type, "SparseFloatVector") == 0 && !f->nullable)
				return RemoteWriteInvalid(err, ERRCODE_NOT_NULL_VIOLATION,
										  psprintf("record \"%s\" has no sparse values for Milvus field \"%s\"", id, f->name),
										  psprintf("Field \"%s\" of collection \"%s\" is a SparseFloatVector and not nullable.",
												   f->name, target->index),
										  "Give every record of this collection its sparse values.");
		}
		return true;
	}
	if (c->info->nsparse > 1)
		return RemoteWriteInvalid(err, ERRCODE_FEATURE_NOT_SUPPORTED,
								  psprintf("record \"%s\" has sparse values, but Milvus collection \"%s\" has %d sparse vector fields",
										   id, target->index, c->info->nsparse),
								  NULL, "vectorpg writes sparse values into a collection's only SparseFloatVector field.");
	if (field == NULL)
		return RemoteWriteInvalid(err, ERRCODE_FEATURE_NOT_SUPPORTED,
								  psprintf("record \"%s\" has sparse values, but Milvus collection \"%s\" has no sparse vector field",
										   id, target->index),
								  NULL, "Write NULL sparse values, or add a SparseFloatVector field to the collection.");
	if (!RemoteSparseParse(w, REMOTE_MILVUS_MAX_SPARSE, "vectorpg's Milvus client", &sp, err))
		return false;
	if (out)
	{
		appendStringInfoChar(out, ',');
		escape_json(out, field);
		appendStringInfoChar(out, ':');
		RemoteAppendSparseMilvus(out, &sp);
	}
	RemoteSparseFree(&sp);
	return true;
}

/*
 * Milvus' rules for one write: the key of the primary key's type, the
 * vector field's dimension, metadata fitting the schema (or the dynamic
 * field), and a row small enough for one request.
 */
bool
MilvusValidateWrite(RemoteTarget *target, const RemoteWrite *w,
					RemoteWriteError *err)
{
	RemoteCachedIndex *c = WriteSchema(target);
	int			dim = c->info->dimension;
	int64		size;

	if (!MilvusKey(target, c, w->id, NULL, err))
		return false;
	if (w->is_delete)
		return true;
	if (!MilvusSparse(target, c, w, NULL, err))
		return false;
	if (dim > 0 && w->dim != dim)
		return RemoteWriteInvalid(err, ERRCODE_DATA_EXCEPTION,
								  psprintf("vector of record \"%s\" has %d dimensions, but field \"%s\" of Milvus collection \"%s\" has %d",
										   RemoteShortId(w->id), w->dim, c->vector_field, target->index, dim),
								  NULL, "Vectors written to a collection must have its vector field's dimension.");
	size = (int64) w->dim * REMOTE_MAX_FLOAT_TEXT + (int64) strlen(w->id) * 6 +
		(w->metadata_json ? strlen(w->metadata_json) * 6 : 0) +
		(w->sparse_json ? strlen(w->sparse_json) * 2 : 0) + 256;
	if (size > REMOTE_MILVUS_MAX_WRITE_BODY_BYTES / 2)
		return RemoteWriteInvalid(err, ERRCODE_PROGRAM_LIMIT_EXCEEDED,
								  psprintf("record \"%s\" is too large for one request", RemoteShortId(w->id)),
								  psprintf("It may take up to " INT64_FORMAT " bytes; a request carries at most %d.",
										   size, REMOTE_MILVUS_MAX_WRITE_BODY_BYTES / 2),
								  "Keep large values out of the metadata.");
	return MilvusMetadata(target, c, w, NULL, err);
}

/*
 * Start a chunk in its (empty) body buffer: an upsert's rows, or a delete's
 * filter "pk in ["
 */
void
MilvusBeginChunk(RemoteTarget *target, RemoteWriteChunk *chunk)
{
	RemoteCachedIndex *c = WriteSchema(target);
	StringInfoData head;

	/* the body buffer is the caller's (reused across waves): copy the head in */
	BeginBody(&head, target, true);
	appendBinaryStringInfo(&chunk->body, head.data, head.len);
	pfree(head.data);
	if (target->namespace_)
	{
		appendStringInfoString(&chunk->body, ",\"partitionName\":");
		escape_json(&chunk->body, target->namespace_);
	}
	if (chunk->is_delete)
	{
		StringInfoData field;
		StringInfoData quoted;

		/* the filter is a JSON string: its text is escaped as it grows */
		initStringInfo(&field);
		AppendField(&field, c->pk_field, NULL);
		initStringInfo(&quoted);
		escape_json(&quoted, field.data);
		appendStringInfoString(&chunk->body, ",\"filter\":");
		appendBinaryStringInfo(&chunk->body, quoted.data, quoted.len - 1);
		appendStringInfoString(&chunk->body, " in [");
	}
	else
		appendStringInfoString(&chunk->body, ",\"data\":[");
}

/* Append one row (upsert) or key (delete) to a chunk */
void
MilvusAppendItem(RemoteTarget *target, RemoteWriteChunk *chunk,
				 const RemoteWrite *w)
{
	RemoteCachedIndex *c = RemoteCacheLookup(target);
	StringInfo	buf = &chunk->body;
	RemoteWriteError err;

	if (c == NULL)
		c = WriteSchema(target);
	if (chunk->is_delete)
	{
		if (chunk->nitems > 0)
			appendStringInfoString(buf, ", ");
		if (c->pk_is_int)
		{
			if (!MilvusKey(target, c, w->id, buf, &err))
				elog(ERROR, "record id \"%s\" changed after validation", RemoteShortId(w->id));
		}
		else
		{
			StringInfoData lit;
			StringInfoData quoted;

			/* a Milvus string literal inside the JSON string */
			initStringInfo(&lit);
			AppendMilvusString(&lit, w->id);
			initStringInfo(&quoted);
			escape_json(&quoted, lit.data);
			appendBinaryStringInfo(buf, quoted.data + 1, quoted.len - 2);
			pfree(lit.data);
			pfree(quoted.data);
		}
		return;
	}
	if (chunk->nitems > 0)
		appendStringInfoChar(buf, ',');
	appendStringInfoChar(buf, '{');
	escape_json(buf, c->pk_field);
	appendStringInfoChar(buf, ':');
	if (!MilvusKey(target, c, w->id, buf, &err))
		elog(ERROR, "record id \"%s\" changed after validation", RemoteShortId(w->id));
	appendStringInfoChar(buf, ',');
	escape_json(buf, c->vector_field);
	appendStringInfoChar(buf, ':');
	RemoteAppendVector(buf, w->values, w->dim);
	if (!MilvusSparse(target, c, w, buf, &err))
		elog(ERROR, "sparse values of record \"%s\" changed after validation", RemoteShortId(w->id));
	if (!MilvusMetadata(target, c, w, buf, &err))
		elog(ERROR, "metadata of record \"%s\" changed after validation", RemoteShortId(w->id));
	appendStringInfoChar(buf, '}');
}

/* Close a chunk's body; name its URL and the statuses this client reads */
void
MilvusEndChunk(RemoteTarget *target, RemoteWriteChunk *chunk)
{
	char	   *base = pstrdup(target->url ? target->url : "");
	int			len = strlen(base);

	if (chunk->is_delete)
		appendStringInfoString(&chunk->body, "]\"}");
	else
		appendStringInfoString(&chunk->body, "]}");
	while (len > 0 && base[len - 1] == '/')
		base[--len] = '\0';
	chunk->url = psprintf("%s/v2/vectordb/%s", base,
						  chunk->is_delete ? "entities/delete" : "entities/upsert");
	chunk->req.accept_status = milvus_accept;
	chunk->req.is_retryable = MilvusRetryable;
}

/*
 * Check a chunk's answer: the envelope's code (a retryable code that
 * outlived the retries is transient), and an upsert's upsertCount.
 */
void
MilvusCheckAck(RemoteTarget *target, RemoteWriteChunk *chunk,
			   RemoteResponse *resp)
{
	const char *op = chunk->req.operation;
	cJSON	   *json,
			   *data,
			   *count;

	remote_last_failure.http_status = resp->status;
	remote_last_failure.transient = false;
	json = CheckEnvelope(target, op, resp);
	if (chunk->is_delete)
		return;
	data = cJSON_GetObjectItemCaseSensitive(json, "data");
	count = cJSON_IsObject(data) ? cJSON_GetObjectItemCaseSensitive(data, "upsertCount") : NULL;
	if (!cJSON_IsNumber(count))
		RemoteBadResponse(target, op, "the answer has no upsertCount");
	if ((int64) count->valuedouble != chunk->nitems)
		RemoteBadResponse(target, op,
						  psprintf("upsertCount is %.0f, but the request carried %d rows",
								   count->valuedouble, chunk->nitems));
}

/* entities/delete with a filter translated from the Pinecone language */
void
MilvusDeleteByFilter(RemoteTarget *target, const char *filter_json)
{
	StringInfoData body;

	(void) Described(target);
	BeginBody(&body, target, true);
	appendStringInfoString(&body, ",\"filter\":");
	escape_json(&body, RemoteFilterToMilvus(filter_json, NULL));
	if (target->namespace_)
	{
		appendStringInfoString(&body, ",\"partitionName\":");
		escape_json(&body, target->namespace_);
	}
	appendStringInfoChar(&body, '}');
	Call(target, "delete", "entities/delete", body.data);
}

/*
 * entities/delete of every row of the collection (or the table's
 * partition): a filter on the primary key that every key satisfies, since
 * Milvus requires a filter.
 */
void
MilvusDeleteAll(RemoteTarget *target)
{
	RemoteCachedIndex *c = Described(target);
	StringInfoData expr;
	StringInfoData body;

	initStringInfo(&expr);
	if (c->pk_is_int)
	{
		AppendField(&expr, c->pk_field, NULL);
		appendStringInfoString(&expr, " < 0 or ");
		AppendField(&expr, c->pk_field, NULL);
		appendStringInfoString(&expr, " >= 0");
	}
	else
	{
		AppendField(&expr, c->pk_field, NULL);
		appendStringInfoString(&expr, " >= \"\"");
	}
	BeginBody(&body, target, true);
	appendStringInfoString(&body, ",\"filter\":");
	escape_json(&body, expr.data);
	if (target->namespace_)
	{
		appendStringInfoString(&body, ",\"partitionName\":");
		escape_json(&body, target->namespace_);
	}
	appendStringInfoChar(&body, '}');
	Call(target, "delete", "entities/delete", body.data);
}
