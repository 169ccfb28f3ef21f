/*
 * remote_pinecone.c: the Pinecone client (REST, API version 2026-07, see
 * ../shared/specs/pinecone-rest.md).
 *
 * Two planes: the control plane (server option url, e.g.
 * https://api.pinecone.io) describes and lists indexes; each index has its
 * own data-plane host, which describe returns as a bare host name.  The
 * host is resolved once per (server, index) and cached (remote_client.c);
 * a host that already carries a scheme is kept as is (the test fakes answer
 * http://127.0.0.1:port), otherwise https:// is prepended.  The server
 * option index_host skips the resolution.
 *
 * The transport (remote_http.c) adds the Api-Key and
 * X-Pinecone-Api-Version headers, retries 429 and 5xx and raises transport
 * errors; this file builds bodies and URLs, parses answers, and maps the
 * 4xx answers, whose bodies come in three shapes (rpcStatus
 * {"code":3,"message":...}, control plane {"error":{"code":"NOT_FOUND",
 * "message":...},"status":404}, and plain text for 401 and the gateway),
 * to errors.
 *
 * Writes (remote_write.c drives them): /vectors/upsert bodies are built as
 * text, metadata validated against spec 2.9 and copied compact without its
 * null values, sparse values (dotproduct indexes only) validated against
 * spec 2.1 and written back with float32 values; /vectors/delete by ids,
 * filter or deleteAll.  An upsert's upsertedCount must equal the records
 * sent.  Reads return a record's sparse values with its dense ones.
 *
 * Scores: cosine similarity (higher first), dot product (higher first),
 * squared Euclidean distance (lower first).  Matches keep the remote order;
 * RemoteScoreToDistance gives the vectorpg operator's value.
 */
#include "postgres.h"

#include <math.h>

#include "remote_client.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/memutils.h"

/* The 4xx statuses whose bodies we read to explain the error */
static const long pinecone_accept[] = {400, 401, 402, 403, 404, 409, 412, 413, 422, 0};

/* Map a Pinecone metric name; UNKNOWN for anything else */
static RemoteMetric
ParseMetric(const char *name)
{
	if (name == NULL)
		return REMOTE_METRIC_UNKNOWN;
	if (strcmp(name, "cosine") == 0)
		return REMOTE_METRIC_COSINE;
	if (strcmp(name, "euclidean") == 0)
		return REMOTE_METRIC_L2;
	if (strcmp(name, "dotproduct") == 0)
		return REMOTE_METRIC_IP;
	return REMOTE_METRIC_UNKNOWN;
}

/*
 * The remote's own error text out of any of the three body shapes, with
 * the HTTP status and the request id for support tickets.
 */
static char *
ErrorDetail(const RemoteResponse *resp)
{
	StringInfoData buf;
	cJSON	   *json = cJSON_ParseWithLength(resp->body, resp->len);
	const char *message = NULL;
	char	   *code = NULL;

	initStringInfo(&buf);
	if (json && cJSON_IsObject(json))
	{
		cJSON	   *msg = cJSON_GetObjectItemCaseSensitive(json, "message");
		cJSON	   *err = cJSON_GetObjectItemCaseSensitive(json, "error");
		cJSON	   *c = cJSON_GetObjectItemCaseSensitive(json, "code");

		if (cJSON_IsString(msg))
		{
			message = msg->valuestring;
			if (cJSON_IsNumber(c))
				code = psprintf("%d", c->valueint);
		}
		else if (cJSON_IsObject(err))
		{
			msg = cJSON_GetObjectItemCaseSensitive(err, "message");
			c = cJSON_GetObjectItemCaseSensitive(err, "code");
			if (cJSON_IsString(msg))
				message = msg->valuestring;
			if (cJSON_IsString(c))
				code = pstrdup(c->valuestring);
		}
	}
	appendStringInfo(&buf, "HTTP %ld", resp->status);
	if (code)
		appendStringInfo(&buf, ", code %s", code);
	appendStringInfoString(&buf, ": ");
	if (message)
		appendStringInfoString(&buf, message);
	else
	{
		/* plain text: at most a line of it */
		int			n = Min((int) resp->len, 200);

		appendBinaryStringInfo(&buf, resp->body, n);
	}
	if (resp->request_id)
		appendStringInfo(&buf, " (request id %s)", resp->request_id);
	if (json)
		cJSON_Delete(json);
	return buf.data;
}

/*
 * Raise the error for an accepted non-2xx answer, with a SQLSTATE that
 * depends only on the status (doc/fdw.md lists them).
 */
static void
FailStatus(RemoteTarget *target, const char *operation, const RemoteResponse *resp)
{
	char	   *detail = ErrorDetail(resp);

	switch (resp->status)
	{
		case 401:
		case 403:
			RemoteReportError(target, operation, ERRCODE_FDW_UNABLE_TO_ESTABLISH_CONNECTION,
							  pstrdup("Pinecone refused the credentials"), detail);
		case 404:
			RemoteCacheForget(target);
			RemoteReportError(target, operation, ERRCODE_FDW_TABLE_NOT_FOUND,
							  target->index ?
							  psprintf("Pinecone index \"%s\" not found", target->index) :
							  pstrdup("Pinecone resource not found"), detail);
		default:
			RemoteReportError(target, operation, ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION,
							  pstrdup("Pinecone rejected the request"), detail);
	}
}

/* One call with our accepted statuses; returns only 2xx answers */
static RemoteResponse *
Call(RemoteTarget *target, const char *operation, const char *method,
	 const char *url, const char *body)
{
	RemoteRequest req = {0};
	RemoteResponse *resp;

	req.operation = operation;
	req.method = method;
	req.url = url;
	req.body = body;
	req.accept_status = pinecone_accept;
	req.is_retryable = NULL;
	resp = RemoteHttpCall(target, &req);
	if (resp->status < 200 || resp->status > 299)
		FailStatus(target, operation, resp);
	return resp;
}

/* Keep an explicit scheme, otherwise https://; no trailing slash */
static char *
NormaliseHost(const char *host)
{
	char	   *url;
	int			len;

	if (strncmp(host, "http://", 7) == 0 || strncmp(host, "https://", 8) == 0)
		url = pstrdup(host);
	else
		url = psprintf("https://%s", host);
	len = strlen(url);
	while (len > 0 && url[len - 1] == '/')
		url[--len] = '\0';
	return url;
}

/* The control-plane base URL without a trailing slash */
static char *
ControlUrl(RemoteTarget *target)
{
	if (target->url == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_OPTION_NAME_NOT_FOUND),
				 errmsg("server \"%s\" has no option \"url\"", target->servername),
				 errhint("Set url to the Pinecone control plane, e.g. https://api.pinecone.io, or index_host to the index's host.")));
	return NormaliseHost(target->url);
}

/* Read one IndexModel (2026-07, or the older flat shape) */
static RemoteIndexInfo *
ParseIndexModel(RemoteTarget *target, const char *operation, cJSON *model)
{
	RemoteIndexInfo *info = palloc0(sizeof(RemoteIndexInfo));
	cJSON	   *name = cJSON_GetObjectItemCaseSensitive(model, "name");
	cJSON	   *host = cJSON_GetObjectItemCaseSensitive(model, "host");
	cJSON	   *schema = cJSON_GetObjectItemCaseSensitive(model, "schema");
	cJSON	   *values = NULL;
	cJSON	   *dim,
			   *metric;

	if (!cJSON_IsString(name))
		RemoteBadResponse(target, operation, "an index has no name");
	info->name = pstrdup(name->valuestring);
	info->host = cJSON_IsString(host) ? pstrdup(host->valuestring) : NULL;
	info->count = -1;
	info->loaded = true;

	if (cJSON_IsObject(schema))
	{
		cJSON	   *fields = cJSON_GetObjectItemCaseSensitive(schema, "fields");

		if (cJSON_IsObject(fields))
			values = cJSON_GetObjectItemCaseSensitive(fields, "_values");
	}
	if (!cJSON_IsObject(values))
		values = model;			/* 2025-10 shape: top level */
	dim = cJSON_GetObjectItemCaseSensitive(values, "dimension");
	metric = cJSON_GetObjectItemCaseSensitive(values, "metric");
	info->dimension = cJSON_IsNumber(dim) ? dim->valueint : 0;
	info->metric = ParseMetric(cJSON_IsString(metric) ? metric->valuestring : NULL);
	return info;
}

/*
 * Describe the table's index: control-plane describe (which also resolves
 * the data-plane host), or describe_index_stats when only index_host is
 * known.  The result is cached.
 */
RemoteIndexInfo *
PineconeDescribe(RemoteTarget *target)
{
	RemoteIndexInfo *info;
	RemoteCachedIndex *c;
	RemoteResponse *resp;
	cJSON	   *json;

	if (target->index == NULL)
		elog(ERROR, "Pinecone describe without an index");

	if (target->url == NULL && target->index_host != NULL)
	{
		char	   *base = NormaliseHost(target->index_host);
		cJSON	   *dim,
				   *metric;

		resp = Call(target, "describe_index_stats", "POST",
					psprintf("%s/describe_index_stats", base), "{}");
		json = RemoteJsonParse(target, "describe_index_stats", resp);
		info = palloc0(sizeof(RemoteIndexInfo));
		info->name = pstrdup(target->index);
		info->host = pstrdup(target->index_host);
		dim = cJSON_GetObjectItemCaseSensitive(json, "dimension");
		metric = cJSON_GetObjectItemCaseSensitive(json, "metric");
		info->dimension = cJSON_IsNumber(dim) ? dim->valueint : 0;
		info->metric = ParseMetric(cJSON_IsString(metric) ? metric->valuestring : NULL);
		info->count = -1;
		info->loaded = true;
		c = RemoteCacheStore(target, info);
		c->base_url = MemoryContextStrdup(GetMemoryChunkContext(c), base);
		return c->info;
	}
	else
	{
		StringInfoData url;

		initStringInfo(&url);
		appendStringInfo(&url, "%s/indexes/", ControlUrl(target));
		RemoteAppendUrlEncoded(&url, target->index);
		resp = Call(target, "describe_index", "GET", url.data, NULL);
		json = RemoteJsonParse(target, "describe_index", resp);
		info = ParseIndexModel(target, "describe_index", json);
		if (target->index_host == NULL && info->host == NULL)
			RemoteBadResponse(target, "describe_index", "the index has no host");
		c = RemoteCacheStore(target, info);
		c->base_url = MemoryContextStrdup(GetMemoryChunkContext(c),
										  NormaliseHost(target->index_host ?
														target->index_host : info->host));
		return c->info;
	}
}

/* The data-plane base URL of the table's index, resolving it if needed */
static const char *
DataUrl(RemoteTarget *target)
{
	RemoteCachedIndex *c;

	if (target->index_host)
		return NormaliseHost(target->index_host);
	c = RemoteCacheLookup(target);
	if (c == NULL)
	{
		PineconeDescribe(target);
		c = RemoteCacheLookup(target);
	}
	return c->base_url;
}

/* Every index of the project, for IMPORT FOREIGN SCHEMA */
List *
PineconeListIndexes(RemoteTarget *target)
{
	RemoteResponse *resp;
	cJSON	   *json,
			   *indexes,
			   *model;
	List	   *result = NIL;

	resp = Call(target, "list_indexes", "GET",
				psprintf("%s/indexes", ControlUrl(target)), NULL);
	json = RemoteJsonParse(target, "list_indexes", resp);
	indexes = cJSON_GetObjectItemCaseSensitive(json, "indexes");
	if (indexes != NULL && !cJSON_IsArray(indexes))
		RemoteBadResponse(target, "list_indexes", "\"indexes\" is not an array");
	cJSON_ArrayForEach(model, indexes)
		result = lappend(result, ParseIndexModel(target, "list_indexes", model));
	return result;
}

/* Record count of the table's namespace (describe_index_stats) */
int64
PineconeNamespaceCount(RemoteTarget *target)
{
	RemoteResponse *resp;
	cJSON	   *json,
			   *namespaces,
			   *ns,
			   *count;
	const char *name = target->namespace_ ? target->namespace_ : "";

	resp = Call(target, "describe_index_stats", "POST",
				psprintf("%s/describe_index_stats", DataUrl(target)), "{}");
	json = RemoteJsonParse(target, "describe_index_stats", resp);
	namespaces = cJSON_GetObjectItemCaseSensitive(json, "namespaces");
	if (strcmp(name, "__default__") == 0)
		name = "";
	ns = cJSON_IsObject(namespaces) ? cJSON_GetObjectItemCaseSensitive(namespaces, name) : NULL;
	if (!cJSON_IsObject(ns))
		return 0;
	count = cJSON_GetObjectItemCaseSensitive(ns, "vectorCount");
	return cJSON_IsNumber(count) ? (int64) count->valuedouble : -1;
}

/* Fill one match from a Vector or ScoredVector object */
static void
ParseVector(RemoteTarget *target, const char *operation, cJSON *v,
			RemoteMatch *m, RemoteMetric metric, bool scored,
			bool include_values, bool include_metadata)
{
	cJSON	   *id = cJSON_GetObjectItemCaseSensitive(v, "id");
	cJSON	   *score = cJSON_GetObjectItemCaseSensitive(v, "score");
	cJSON	   *values = cJSON_GetObjectItemCaseSensitive(v, "values");
	cJSON	   *metadata = cJSON_GetObjectItemCaseSensitive(v, "metadata");
	cJSON	   *sparse = cJSON_GetObjectItemCaseSensitive(v, "sparseValues");

	if (!cJSON_IsString(id))
		RemoteBadResponse(target, operation, "a record has no id");
	m->id = pstrdup(id->valuestring);
	if (scored)
	{
		/* a missing score counts as 0 (optional in the schema) */
		m->score = cJSON_IsNumber(score) ? score->valuedouble : 0.0;
		m->distance = RemoteScoreToDistance(metric, m->score);
	}
	if (include_values && values)
		m->values = RemoteJsonVector(target, operation, values, &m->dim);
	if (include_values && cJSON_IsObject(sparse))
		m->sparse_json = RemoteJsonText(sparse);
	if (include_metadata)
	{
		if (cJSON_IsObject(metadata))
		{
			m->metadata_json = RemoteJsonText(metadata);
		}
		else
			m->metadata_json = pstrdup("{}");
	}
}

/* Append ,"namespace":"..." when the table has one */
static void
AppendNamespace(StringInfo buf, RemoteTarget *target)
{
	if (target->namespace_)
	{
		appendStringInfoString(buf, ",\"namespace\":");
		escape_json(buf, target->namespace_);
	}
}

/* POST /query: the top-k matches of a vector, best first */
RemoteResult *
PineconeQuery(RemoteTarget *target, const RemoteSearch *search)
{
	StringInfoData body;
	RemoteResponse *resp;
	cJSON	   *json,
			   *matches,
			   *item;
	RemoteResult *result = palloc0(sizeof(RemoteResult));
	RemoteMetric metric = target->metric;
	const char *url;
	int			i = 0;

	if (search->top_k < 1 || search->top_k > REMOTE_PINECONE_MAX_TOPK)
		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
				 errmsg("top-k %d is out of range for Pinecone", search->top_k),
				 errdetail("Pinecone returns between 1 and %d matches per query, and LIMIT plus OFFSET is the number asked for.",
						   REMOTE_PINECONE_MAX_TOPK)));
	url = psprintf("%s/query", DataUrl(target));
	if (metric == REMOTE_METRIC_UNKNOWN)
		metric = PineconeDescribe(target)->metric;

	initStringInfo(&body);
	appendStringInfo(&body, "{\"topK\":%d,\"vector\":", search->top_k);
	RemoteAppendVector(&body, search->vector, search->dim);
	appendStringInfo(&body, ",\"includeValues\":%s,\"includeMetadata\":%s",
					 search->include_values ? "true" : "false",
					 search->include_metadata ? "true" : "false");
	AppendNamespace(&body, target);
	if (search->filter_json)
		appendStringInfo(&body, ",\"filter\":%s", search->filter_json);
	appendStringInfoChar(&body, '}');

	resp = Call(target, "query", "POST", url, body.data);
	json = RemoteJsonParse(target, "query", resp);
	matches = cJSON_GetObjectItemCaseSensitive(json, "matches");
	if (matches != NULL && !cJSON_IsArray(matches))
		RemoteBadResponse(target, "query", "\"matches\" is not an array");
	result->matches = palloc0(sizeof(RemoteMatch) * Max(cJSON_GetArraySize(matches), 1));
	cJSON_ArrayForEach(item, matches)
		ParseVector(target, "query", item, &result->matches[i++], metric, true,
					search->include_values, search->include_metadata);
	result->nmatches = i;
	return result;
}

/*
 * GET /vectors/fetch in batches: the records with these ids, in the order
 * asked for; ids that do not exist are left out.
 */
RemoteResult *
PineconeFetch(RemoteTarget *target, char **ids, int nids,
			  bool include_values, bool include_metadata)
{
	RemoteResult *result = palloc0(sizeof(RemoteResult));
	const char *base = DataUrl(target);

	result->matches = palloc0(sizeof(RemoteMatch) * Max(nids, 1));
	for (int start = 0; start < nids; start += REMOTE_PINECONE_FETCH_BATCH)
	{
		int			end = Min(nids, start + REMOTE_PINECONE_FETCH_BATCH);
		StringInfoData url;
		RemoteResponse *resp;
		cJSON	   *json,
				   *vectors;

		initStringInfo(&url);
		appendStringInfo(&url, "%s/vectors/fetch?", base);
		for (int i = start; i < end; i++)
		{
			appendStringInfoString(&url, i > start ? "&ids=" : "ids=");
			RemoteAppendUrlEncoded(&url, ids[i]);
		}
		if (target->namespace_)
		{
			appendStringInfoString(&url, "&namespace=");
			RemoteAppendUrlEncoded(&url, target->namespace_);
		}
		resp = Call(target, "fetch", "GET", url.data, NULL);
		json = RemoteJsonParse(target, "fetch", resp);
		vectors = cJSON_GetObjectItemCaseSensitive(json, "vectors");
		if (vectors != NULL && !cJSON_IsObject(vectors))
			RemoteBadResponse(target, "fetch", "\"vectors\" is not an object");
		for (int i = start; i < end; i++)
		{
			cJSON	   *v = cJSON_GetObjectItemCaseSensitive(vectors, ids[i]);

			if (!cJSON_IsObject(v))
				continue;
			ParseVector(target, "fetch", v, &result->matches[result->nmatches++],
						REMOTE_METRIC_UNKNOWN, false, include_values, include_metadata);
		}
	}
	return result;
}

/*
 * One page of a filtered full scan: POST /vectors/fetch_by_metadata, which
 * answers the matching records whole (values and metadata) a page at a
 * time with an opaque pagination token.
 */
static RemoteResult *
PineconeScanFiltered(RemoteTarget *target, const RemoteSearch *search)
{
	StringInfoData body;
	RemoteResponse *resp;
	cJSON	   *json,
			   *vectors,
			   *pagination,
			   *item;
	RemoteResult *result = palloc0(sizeof(RemoteResult));
	const char *url = psprintf("%s/vectors/fetch_by_metadata", DataUrl(target));
	int			i = 0;

	initStringInfo(&body);
	appendStringInfo(&body, "{\"filter\":%s,\"limit\":%d", search->filter_json,
					 search->top_k > 0 ? Min(search->top_k, REMOTE_PINECONE_LIST_PAGE) :
					 REMOTE_PINECONE_LIST_PAGE);
	AppendNamespace(&body, target);
	if (search->page_token)
	{
		appendStringInfoString(&body, ",\"paginationToken\":");
		escape_json(&body, search->page_token);
	}
	appendStringInfoChar(&body, '}');

	resp = Call(target, "fetch_by_metadata", "POST", url, body.data);
	json = RemoteJsonParse(target, "fetch_by_metadata", resp);
	vectors = cJSON_GetObjectItemCaseSensitive(json, "vectors");
	if (vectors != NULL && !cJSON_IsObject(vectors))
		RemoteBadResponse(target, "fetch_by_metadata", "\"vectors\" is not an object");
	result->matches = palloc0(sizeof(RemoteMatch) * Max(cJSON_GetArraySize(vectors), 1));
	cJSON_ArrayForEach(item, vectors)
	{
		if (!cJSON_IsObject(item))
			RemoteBadResponse(target, "fetch_by_metadata", "a record is not an object");
		ParseVector(target, "fetch_by_metadata", item, &result->matches[i++],
					REMOTE_METRIC_UNKNOWN, false, search->include_values,
					search->include_metadata);
	}
	result->nmatches = i;
	pagination = cJSON_GetObjectItemCaseSensitive(json, "pagination");
	if (cJSON_IsObject(pagination))
	{
		cJSON	   *n = cJSON_GetObjectItemCaseSensitive(pagination, "next");

		if (cJSON_IsString(n) && n->valuestring[0] != '\0')
			result->next_token = pstrdup(n->valuestring);
	}
	return result;
}

/*
 * One page of a full scan.  With a filter: fetch_by_metadata (above).
 * Without: GET /vectors/list (ids in byte order, 100 per page, fewer when
 * search->top_k says the scan needs fewer), then a fetch of those ids when
 * values or metadata are wanted.
 */
RemoteResult *
PineconeScan(RemoteTarget *target, const RemoteSearch *search)
{
	StringInfoData url;
	RemoteResponse *resp;
	cJSON	   *json,
			   *vectors,
			   *pagination,
			   *item;
	char	  **ids;
	int			nids = 0;
	RemoteResult *result;
	char	   *next = NULL;

	if (search->filter_json)
		return PineconeScanFiltered(target, search);
	initStringInfo(&url);
	/* a scan bounded by LIMIT asks for no more ids than it still needs */
	appendStringInfo(&url, "%s/vectors/list?limit=%d", DataUrl(target),
					 search->top_k > 0 ? Min(search->top_k, REMOTE_PINECONE_LIST_PAGE) :
					 REMOTE_PINECONE_LIST_PAGE);
	if (search->page_token)
	{
		appendStringInfoString(&url, "&paginationToken=");
		RemoteAppendUrlEncoded(&url, search->page_token);
	}
	if (target->namespace_)
	{
		appendStringInfoString(&url, "&namespace=");
		RemoteAppendUrlEncoded(&url, target->namespace_);
	}
	resp = Call(target, "list", "GET", url.data, NULL);
	json = RemoteJsonParse(target, "list", resp);
	vectors = cJSON_GetObjectItemCaseSensitive(json, "vectors");
	if (vectors != NULL && !cJSON_IsArray(vectors))
		RemoteBadResponse(target, "list", "\"vectors\" is not an array");
	ids = palloc(sizeof(char *) * Max(cJSON_GetArraySize(vectors), 1));
	cJSON_ArrayForEach(item, vectors)
	{
		cJSON	   *id = cJSON_GetObjectItemCaseSensitive(item, "id");

		if (!cJSON_IsString(id))
			RemoteBadResponse(target, "list", "a listed record has no id");
		ids[nids++] = pstrdup(id->valuestring);
	}
	pagination = cJSON_GetObjectItemCaseSensitive(json, "pagination");
	if (cJSON_IsObject(pagination))
	{
		cJSON	   *n = cJSON_GetObjectItemCaseSensitive(pagination, "next");

		if (cJSON_IsString(n) && n->valuestring[0] != '\0')
			next = pstrdup(n->valuestring);
	}

	if (nids > 0 && (search->include_values || search->include_metadata))
		result = PineconeFetch(target, ids, nids, search->include_values,
							   search->include_metadata);
	else
	{
		result = palloc0(sizeof(RemoteResult));
		result->matches = palloc0(sizeof(RemoteMatch) * Max(nids, 1));
		for (int i = 0; i < nids; i++)
			result->matches[i].id = ids[i];
		result->nmatches = nids;
	}
	result->next_token = next;
	return result;
}

/* ---- Writes: upsert and delete (remote_write.c drives them) ---- */

/* The index's dimension for writes: the remote's, else the table option */
static int
WriteDimension(RemoteTarget *target)
{
	RemoteIndexInfo *info = RemoteDescribe(target);

	return info->dimension > 0 ? info->dimension : target->dimension;
}

/*
 * Is a metadata list a list of strings only?  Pinecone refuses any other
 * list (spec 2.9).
 */
static bool
IsStringList(const char *value, int len)
{
	cJSON	   *list = cJSON_ParseWithLength(value, len);
	cJSON	   *item;
	bool		ok = cJSON_IsArray(list);

	if (ok)
		cJSON_ArrayForEach(item, list)
			ok &= cJSON_IsString(item);
	cJSON_Delete(list);
	return ok;
}

/*
 * The metadata of an upsert as the body will carry it (compact, null
 * values dropped: Pinecone has no null, and a missing key reads back as
 * NULL just the same), or a validation error.
 */
static bool
PineconeMetadata(const RemoteWrite *w, StringInfo out, RemoteWriteError *err)
{
	RemoteJsonMember *m;
	const char *why = NULL;
	int			n = RemoteJsonObjectMembers(w->metadata_json, &m, &why);
	bool		first = true;
	const char *id = RemoteShortId(w->id);
	int			start = out->len;

	if (n < 0)
		return RemoteWriteInvalid(err, n == -1 ? ERRCODE_INVALID_TEXT_REPRESENTATION : ERRCODE_INVALID_PARAMETER_VALUE,
								  psprintf("metadata of record \"%s\" is not a JSON object", id),
								  psprintf("The metadata text is invalid: %s.", why),
								  "Pinecone metadata is a flat JSON object.");
	appendStringInfoChar(out, '{');
	for (int i = 0; i < n; i++)
	{
		if (m[i].key[0] == '$')
			return RemoteWriteInvalid(err, ERRCODE_INVALID_PARAMETER_VALUE,
									  psprintf("metadata key \"%s\" of record \"%s\" starts with \"$\"",
											   m[i].key, id),
									  NULL, "Pinecone reserves keys starting with \"$\" for its filter operators.");
		switch (m[i].kind)
		{
			case RJ_NULL:
				continue;
			case RJ_OBJECT:
				return RemoteWriteInvalid(err, ERRCODE_INVALID_PARAMETER_VALUE,
										  psprintf("metadata value \"%s\" of record \"%s\" is a nested object",
												   m[i].key, id),
										  NULL, "Pinecone metadata values are strings, numbers, booleans or lists of strings.");
			case RJ_ARRAY:
				if (!IsStringList(m[i].value, m[i].value_len))
					return RemoteWriteInvalid(err, ERRCODE_INVALID_PARAMETER_VALUE,
											  psprintf("metadata value \"%s\" of record \"%s\" is a list of non-strings",
													   m[i].key, id),
											  NULL, "Pinecone metadata lists hold strings only.");
				break;
			case RJ_NUMBER:
				{
					char	   *text = pnstrdup(m[i].value, m[i].value_len);
					double		d = strtod(text, NULL);

					if (!isfinite(d))
						return RemoteWriteInvalid(err, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
												  psprintf("metadata value \"%s\" of record \"%s\" is out of range",
														   m[i].key, id),
												  psprintf("Pinecone stores numbers as 64-bit floats; %s is not one.", text),
												  "Store such a value as a string.");
					pfree(text);
					break;
				}
			default:
				break;
		}
		if (!first)
			appendStringInfoChar(out, ',');
		first = false;
		appendBinaryStringInfo(out, m[i].key_raw, m[i].key_raw_len);
		appendStringInfoChar(out, ':');
		RemoteAppendJsonCompact(out, m[i].value, m[i].value_len);
	}
	appendStringInfoChar(out, '}');
	if (out->len - start > REMOTE_PINECONE_MAX_METADATA_BYTES)
		return RemoteWriteInvalid(err, ERRCODE_PROGRAM_LIMIT_EXCEEDED,
								  psprintf("metadata of record \"%s\" is too large", id),
								  psprintf("It takes %d bytes; Pinecone allows %d bytes per record.",
										   out->len - start, REMOTE_PINECONE_MAX_METADATA_BYTES),
								  "Keep large text out of the metadata, or store a reference to it.");
	return true;
}

/*
 * The sparse values of an upsert as the body will carry them
 * ({"indices":[...],"values":[...]}, values as float32), or a validation
 * error: spec 2.1's rules (remote_sparse.c) with at most 2,048 entries.
 */
static bool
PineconeSparse(const RemoteWrite *w, StringInfo out, RemoteWriteError *err)
{
	RemoteSparse sp;

	if (!RemoteSparseParse(w, REMOTE_PINECONE_MAX_SPARSE, "Pinecone", &sp, err))
		return false;
	RemoteAppendSparse(out, &sp);
	RemoteSparseFree(&sp);
	return true;
}

/*
 * Pinecone's rules for one write (spec 2.1, 2.9): id of 1-512 ASCII
 * characters without NUL; the index's dimension, not all components below
 * 1e-8; metadata flat, of the allowed types, at most 40 KB.
 */
bool
PineconeValidateWrite(RemoteTarget *target, const RemoteWrite *w,
					  RemoteWriteError *err)
{
	const unsigned char *p;
	int			dim;
	bool		nonzero = false;
	StringInfoData md;
	RemoteSparse sp;

	if (strlen(w->id) > REMOTE_PINECONE_MAX_ID_BYTES)
		return RemoteWriteInvalid(err, ERRCODE_STRING_DATA_RIGHT_TRUNCATION,
								  psprintf("record id \"%s\" is too long", RemoteShortId(w->id)),
								  psprintf("It has %d characters; Pinecone allows %d.",
										   (int) strlen(w->id), REMOTE_PINECONE_MAX_ID_BYTES),
								  "Use shorter ids, for example a hash of the long one.");
	for (p = (const unsigned char *) w->id; *p; p++)
	{
		if (*p > 127)
			return RemoteWriteInvalid(err, ERRCODE_CHARACTER_NOT_IN_REPERTOIRE,
									  psprintf("record id \"%s\" is not ASCII", RemoteShortId(w->id)),
									  NULL, "Pinecone record ids are ASCII text.");
	}
	if (w->is_delete)
		return true;

	dim = WriteDimension(target);
	if (dim > 0 && w->dim != dim)
		return RemoteWriteInvalid(err, ERRCODE_DATA_EXCEPTION,
								  psprintf("vector of record \"%s\" has %d dimensions, but Pinecone index \"%s\" has %d",
										   RemoteShortId(w->id), w->dim, target->index, dim),
								  NULL, "Vectors written to an index must have the index's dimension.");
	for (int i = 0; i < w->dim && !nonzero; i++)
		nonzero = fabsf(w->values[i]) >= 1e-8f;
	if (!nonzero)
		return RemoteWriteInvalid(err, ERRCODE_DATA_EXCEPTION,
								  psprintf("vector of record \"%s\" is all zeros", RemoteShortId(w->id)),
								  NULL, "Pinecone refuses dense vectors whose components are all below 1e-8 in magnitude.");
	if (w->metadata_json)
	{
		initStringInfo(&md);
		if (!PineconeMetadata(w, &md, err))
			return false;
		pfree(md.data);
	}
	if (w->sparse_json)
	{
		RemoteMetric metric = RemoteDescribe(target)->metric;

		if (metric == REMOTE_METRIC_UNKNOWN)
			metric = target->metric;
		if (metric != REMOTE_METRIC_UNKNOWN && metric != REMOTE_METRIC_IP)
			return RemoteWriteInvalid(err, ERRCODE_FEATURE_NOT_SUPPORTED,
									  psprintf("record \"%s\" has sparse values, but Pinecone index \"%s\" does not use the dotproduct metric",
											   RemoteShortId(w->id), target->index),
									  NULL, "Pinecone scores sparse values only in dotproduct indexes; write NULL sparse values to this one.");
		/* checked only: the body is written by PineconeAppendItem */
		if (!RemoteSparseParse(w, REMOTE_PINECONE_MAX_SPARSE, "Pinecone", &sp, err))
			return false;
		RemoteSparseFree(&sp);
	}
	return true;
}

/* Start a chunk in its (empty) body buffer: an upsert's vectors or a delete's ids */
void
PineconeBeginChunk(RemoteTarget *target, RemoteWriteChunk *chunk)
{
	appendStringInfoString(&chunk->body, chunk->is_delete ? "{\"ids\":[" : "{\"vectors\":[");
}

/* Append one record (upsert) or id (delete) to a chunk */
void
PineconeAppendItem(RemoteTarget *target, RemoteWriteChunk *chunk,
				   const RemoteWrite *w)
{
	StringInfo	buf = &chunk->body;

	if (chunk->nitems > 0)
		appendStringInfoChar(buf, ',');
	if (chunk->is_delete)
	{
		escape_json(buf, w->id);
		return;
	}
	appendStringInfoString(buf, "{\"id\":");
	escape_json(buf, w->id);
	appendStringInfoString(buf, ",\"values\":");
	RemoteAppendVector(buf, w->values, w->dim);
	if (w->metadata_json)
	{
		RemoteWriteError err;

		appendStringInfoString(buf, ",\"metadata\":");
		if (!PineconeMetadata(w, buf, &err))
			elog(ERROR, "metadata of record \"%s\" changed after validation",
				 RemoteShortId(w->id));
	}
	if (w->sparse_json)
	{
		RemoteWriteError err;

		appendStringInfoString(buf, ",\"sparseValues\":");
		if (!PineconeSparse(w, buf, &err))
			elog(ERROR, "sparse values of record \"%s\" changed after validation",
				 RemoteShortId(w->id));
	}
	appendStringInfoChar(buf, '}');
}

/* Close a chunk's body; name its URL and the statuses this client reads */
void
PineconeEndChunk(RemoteTarget *target, RemoteWriteChunk *chunk)
{
	static const long accept[] = {400, 401, 402, 403, 404, 409, 412, 413, 422, 0};

	appendStringInfoChar(&chunk->body, ']');
	AppendNamespace(&chunk->body, target);
	appendStringInfoChar(&chunk->body, '}');
	chunk->url = psprintf("%s%s", DataUrl(target),
						  chunk->is_delete ? "/vectors/delete" : "/vectors/upsert");
	chunk->req.accept_status = accept;
}

/*
 * Check a chunk's answer: an error status raises the remote's reason; an
 * upsert must acknowledge every record it carried.
 */
void
PineconeCheckAck(RemoteTarget *target, RemoteWriteChunk *chunk,
				 RemoteResponse *resp)
{
	const char *op = chunk->req.operation;
	cJSON	   *json,
			   *count;

	remote_last_failure.http_status = resp->status;
	remote_last_failure.transient = false;
	if (resp->status < 200 || resp->status > 299)
		FailStatus(target, op, resp);
	if (chunk->is_delete)
		return;
	json = RemoteJsonParse(target, op, resp);
	count = cJSON_GetObjectItemCaseSensitive(json, "upsertedCount");
	if (!cJSON_IsNumber(count))
		RemoteBadResponse(target, op, "the answer has no upsertedCount");
	if ((int64) count->valuedouble != chunk->nitems)
		RemoteBadResponse(target, op,
						  psprintf("upsertedCount is %.0f, but the request carried %d records",
								   count->valuedouble, chunk->nitems));
}

/* POST /vectors/delete with a filter, in the table's namespace */
void
PineconeDeleteByFilter(RemoteTarget *target, const char *filter_json)
{
	StringInfoData body;

	initStringInfo(&body);
	appendStringInfo(&body, "{\"filter\":%s", filter_json);
	AppendNamespace(&body, target);
	appendStringInfoChar(&body, '}');
	Call(target, "delete", "POST", psprintf("%s/vectors/delete", DataUrl(target)), body.data);
}

/* POST /vectors/delete with deleteAll: the table's whole namespace */
void
PineconeDeleteAll(RemoteTarget *target)
{
	StringInfoData body;

	initStringInfo(&body);
	appendStringInfoString(&body, "{\"deleteAll\":true");
	AppendNamespace(&body, target);
	appendStringInfoChar(&body, '}');
	Call(target, "delete", "POST", psprintf("%s/vectors/delete", DataUrl(target)), body.data);
}
