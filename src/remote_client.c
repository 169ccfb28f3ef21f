/*
 * remote_client.c: the provider-neutral client interface of remote.h,
 * dispatched on RemoteTarget.provider, and what both clients share.
 *
 * Index cache: a describe costs a round trip, and the FDW needs the metric
 * at plan time and the data-plane host (Pinecone) or the schema (Milvus) on
 * every scan, so each backend keeps what it learnt per (server, database,
 * index).  Any change to a foreign server, user mapping or foreign table
 * drops the whole cache: such changes are rare and may point the same name
 * at another index.
 *
 * JSON: cJSON allocates with malloc.  RemoteJsonParse ties each parsed
 * document to the current memory context with a reset callback, so that a
 * document is freed with the context, on success as on error, without a
 * PG_TRY around every parser.
 *
 * Writes: metadata objects are scanned by a small validating scanner
 * (RemoteJsonObjectMembers) that keeps each member's text, so that request
 * bodies are built by copying text (an Int64 keeps every digit; no tree is
 * built per record), and vectors are printed by PostgreSQL's ryu printer.
 */
#include "postgres.h"

#include <ctype.h>
#include <math.h>

#include "catalog/pg_foreign_table.h"
#include "common/shortest_dec.h"
#include "remote_client.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/inval.h"
#include "utils/memutils.h"
#include "utils/syscache.h"
#include "utils/timestamp.h"

static List *index_cache = NIL;
static MemoryContext index_cache_cxt = NULL;
static bool index_cache_callbacks = false;

/* Drop the cached index descriptions after any catalog change that matters */
static void
IndexCacheInvalidate(Datum arg, int cacheid, uint32 hashvalue)
{
	if (index_cache_cxt)
		MemoryContextReset(index_cache_cxt);
	index_cache = NIL;
}

/* Compare a possibly NULL database name with a cached one */
static const char *
DbKey(RemoteTarget *target)
{
	return target->db_name ? target->db_name : "";
}

/*
 * The cached description of the target's index, or NULL; the FDW and both
 * clients use it to avoid a describe per query.
 */
RemoteCachedIndex *
RemoteCacheLookup(RemoteTarget *target)
{
	ListCell   *lc;

	if (target->index == NULL)
		return NULL;
	foreach(lc, index_cache)
	{
		RemoteCachedIndex *c = lfirst(lc);

		if (c->serverid == target->serverid &&
			strcmp(c->index, target->index) == 0 &&
			strcmp(c->db_name, DbKey(target)) == 0)
			return c;
	}
	return NULL;
}

/* Deep-copy an index description into the cache's context */
static RemoteIndexInfo *
CopyIndexInfo(RemoteIndexInfo *info)
{
	RemoteIndexInfo *copy = palloc0(sizeof(RemoteIndexInfo));
	ListCell   *lc;

	copy->name = pstrdup(info->name);
	copy->dimension = info->dimension;
	copy->metric = info->metric;
	copy->count = info->count;
	copy->host = info->host ? pstrdup(info->host) : NULL;
	copy->loaded = info->loaded;
	copy->sparse_field = info->sparse_field ? pstrdup(info->sparse_field) : NULL;
	copy->nsparse = info->nsparse;
	foreach(lc, info->fields)
	{
		RemoteField *f = lfirst(lc);
		RemoteField *g = palloc(sizeof(RemoteField));

		g->name = pstrdup(f->name);
		g->type = pstrdup(f->type);
		g->primary = f->primary;
		copy->fields = lappend(copy->fields, g);
	}
	return copy;
}

/*
 * Remember a freshly described index (replacing an older entry); returns
 * the cache entry for the client to fill in its own fields.
 */
RemoteCachedIndex *
RemoteCacheStore(RemoteTarget *target, RemoteIndexInfo *info)
{
	MemoryContext old;
	RemoteCachedIndex *c;

	if (!index_cache_callbacks)
	{
		CacheRegisterSyscacheCallback(FOREIGNSERVEROID, IndexCacheInvalidate, (Datum) 0);
		CacheRegisterSyscacheCallback(USERMAPPINGOID, IndexCacheInvalidate, (Datum) 0);
		CacheRegisterSyscacheCallback(FOREIGNTABLEREL, IndexCacheInvalidate, (Datum) 0);
		index_cache_callbacks = true;
	}
	if (index_cache_cxt == NULL)
		index_cache_cxt = AllocSetContextCreate(TopMemoryContext,
												"vectorpg remote index cache",
												ALLOCSET_SMALL_SIZES);
	RemoteCacheForget(target);

	old = MemoryContextSwitchTo(index_cache_cxt);
	c = palloc0(sizeof(RemoteCachedIndex));
	c->serverid = target->serverid;
	c->db_name = pstrdup(DbKey(target));
	c->index = pstrdup(target->index ? target->index : info->name);
	c->info = CopyIndexInfo(info);
	index_cache = lappend(index_cache, c);
	MemoryContextSwitchTo(old);
	return c;
}

/* Forget one index (after the remote said it is gone or changed) */
void
RemoteCacheForget(RemoteTarget *target)
{
	RemoteCachedIndex *c = RemoteCacheLookup(target);

	if (c)
		index_cache = list_delete_ptr(index_cache, c);
}

/* Memory context reset callback: free a cJSON document */
static void
FreeJson(void *arg)
{
	cJSON_Delete((cJSON *) arg);
}

/*
 * Parse a response body as JSON; the document lives as long as the current
 * memory context.  A body that is not JSON is a remote error.
 */
cJSON *
RemoteJsonParse(RemoteTarget *target, const char *operation,
				const RemoteResponse *resp)
{
	cJSON	   *json;
	MemoryContextCallback *cb;

	/* allocate the callback first, so that no document can leak */
	cb = palloc(sizeof(MemoryContextCallback));
	json = cJSON_ParseWithLength(resp->body, resp->len);
	if (json == NULL)
		RemoteBadResponse(target, operation, "the response body is not valid JSON");
	cb->func = FreeJson;
	cb->arg = json;
	MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
	return json;
}

/*
 * Raise the error for a response we cannot understand (malformed JSON, a
 * missing or mistyped field); one message for all of them.
 */
void
RemoteBadResponse(RemoteTarget *target, const char *operation, const char *what)
{
	RemoteReportError(target, operation, ERRCODE_FDW_REPLY_HANDLE,
					  "invalid response from the remote service", what);
}

/*
 * Print a float4 array as a JSON array, each value in the shortest form
 * that reads back as the same float4 (PostgreSQL's ryu printer: exact and
 * several times faster than printf, which matters for bulk upserts).  The
 * caller passes finite values; writes straight into the buffer.
 */
void
RemoteAppendVector(StringInfo buf, const float4 *values, int dim)
{
	char	   *p;

	enlargeStringInfo(buf, dim * REMOTE_MAX_FLOAT_TEXT + 2);
	p = buf->data + buf->len;
	*p++ = '[';
	for (int i = 0; i < dim; i++)
	{
		if (i > 0)
			*p++ = ',';
		p += float_to_shortest_decimal_bufn(values[i], p);
	}
	*p++ = ']';
	*p = '\0';
	buf->len = p - buf->data;
}

/* Percent-encode a query-string value (RFC 3986 unreserved kept as is) */
void
RemoteAppendUrlEncoded(StringInfo buf, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (const unsigned char *p = (const unsigned char *) s; *p; p++)
	{
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			(*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
			*p == '.' || *p == '~')
			appendStringInfoChar(buf, (char) *p);
		else
		{
			appendStringInfoChar(buf, '%');
			appendStringInfoChar(buf, hex[*p >> 4]);
			appendStringInfoChar(buf, hex[*p & 15]);
		}
	}
}

/* Read a JSON array of numbers into a palloc'd float4 array */
float4 *
RemoteJsonVector(RemoteTarget *target, const char *operation,
				 const cJSON *array, int *dim)
{
	int			n;
	float4	   *values;
	int			i = 0;
	const cJSON *item;

	if (!cJSON_IsArray(array))
		RemoteBadResponse(target, operation, "vector values are not an array");
	n = cJSON_GetArraySize(array);
	values = palloc(sizeof(float4) * Max(n, 1));
	cJSON_ArrayForEach(item, array)
	{
		if (!cJSON_IsNumber(item))
			RemoteBadResponse(target, operation, "a vector element is not a number");
		values[i++] = (float4) item->valuedouble;
	}
	*dim = n;
	return values;
}

/*
 * Turn a remote score into the value of the vectorpg operator of the
 * metric.  Both services score alike: Euclidean as the squared distance
 * (we take the root, <->), cosine as the similarity (<=> is 1 - s), inner
 * product as the raw product (<#> is its negative).
 */
double
RemoteScoreToDistance(RemoteMetric metric, double score)
{
	switch (metric)
	{
		case REMOTE_METRIC_L2:
			return sqrt(Max(score, 0.0));
		case REMOTE_METRIC_COSINE:
			return 1.0 - score;
		case REMOTE_METRIC_IP:
			return -score;
		default:
			return score;
	}
}

/*
 * A double as JSON: integral values below 2^53 as integers (as cJSON and
 * the remotes write them), others in the shortest form that reads back as
 * the same double.  Parsed JSON holds no NaN or infinity; should one come,
 * it is written as null, as cJSON does.
 */
static void
AppendJsonNumber(StringInfo buf, double d)
{
	char		tmp[DOUBLE_SHORTEST_DECIMAL_LEN];

	if (isnan(d) || isinf(d))
		appendStringInfoString(buf, "null");
	else if (d == floor(d) && fabs(d) < 9007199254740992.0)
		appendStringInfo(buf, "%.0f", d);
	else
	{
		double_to_shortest_decimal_buf(d, tmp);
		appendStringInfoString(buf, tmp);
	}
}

/* A string as a JSON string literal: quotes, backslashes, control characters escaped */
static void
AppendJsonString(StringInfo buf, const char *s)
{
	appendStringInfoChar(buf, '"');
	for (; *s; s++)
	{
		unsigned char c = (unsigned char) *s;

		if (c == '"' || c == '\\')
		{
			appendStringInfoChar(buf, '\\');
			appendStringInfoChar(buf, c);
		}
		else if (c < 0x20)
			appendStringInfo(buf, "\\u%04x", c);
		else
			appendStringInfoChar(buf, c);
	}
	appendStringInfoChar(buf, '"');
}

/* Any parsed JSON value, recursively (see RemoteJsonText) */
static void
AppendJsonValue(StringInfo buf, const cJSON *item)
{
	const cJSON *sub;
	bool		first = true;

	check_stack_depth();
	if (cJSON_IsObject(item) || cJSON_IsArray(item))
	{
		bool		object = cJSON_IsObject(item);

		appendStringInfoChar(buf, object ? '{' : '[');
		cJSON_ArrayForEach(sub, item)
		{
			if (!first)
				appendStringInfoChar(buf, ',');
			first = false;
			if (object)
			{
				AppendJsonString(buf, sub->string ? sub->string : "");
				appendStringInfoChar(buf, ':');
			}
			AppendJsonValue(buf, sub);
		}
		appendStringInfoChar(buf, object ? '}' : ']');
	}
	else if (cJSON_IsString(item))
		AppendJsonString(buf, item->valuestring);
	else if (cJSON_IsNumber(item))
		AppendJsonNumber(buf, item->valuedouble);
	else if (cJSON_IsRaw(item))
		appendStringInfoString(buf, item->valuestring);	/* exact Int64 text */
	else if (cJSON_IsTrue(item))
		appendStringInfoString(buf, "true");
	else if (cJSON_IsFalse(item))
		appendStringInfoString(buf, "false");
	else
		appendStringInfoString(buf, "null");
}

/*
 * The text of a JSON number as cJSON prints it (shortest that reads back
 * as the same double); for the input functions of numeric columns.
 */
char *
RemoteJsonNumberText(const cJSON *item)
{
	StringInfoData buf;

	initStringInfo(&buf);
	AppendJsonNumber(&buf, item->valuedouble);
	return buf.data;
}

/*
 * A parsed JSON value as compact JSON text, palloc'd.  cJSON's own printer
 * writes doubles with 15 significant digits whenever those read back within
 * a relative epsilon, so a metadata value such as 0.4007838551468841 came
 * back as 0.400783855146884; this printer writes every number in its
 * shortest exact form, so a value read from the remote is the value stored.
 */
char *
RemoteJsonText(const cJSON *item)
{
	StringInfoData buf;

	initStringInfo(&buf);
	AppendJsonValue(&buf, item);
	return buf.data;
}

/* Dispatch: top-k search */
RemoteResult *
RemoteQuery(RemoteTarget *target, const RemoteSearch *search)
{
	if (target->provider == REMOTE_PINECONE)
		return PineconeQuery(target, search);
	return MilvusSearch(target, search);
}

/* Dispatch: records by id */
RemoteResult *
RemoteFetch(RemoteTarget *target, char **ids, int nids,
			bool include_values, bool include_metadata)
{
	if (target->provider == REMOTE_PINECONE)
		return PineconeFetch(target, ids, nids, include_values, include_metadata);
	return MilvusGet(target, ids, nids, include_values, include_metadata);
}

/* Dispatch: one page of a full scan */
RemoteResult *
RemoteScan(RemoteTarget *target, const RemoteSearch *search)
{
	if (target->provider == REMOTE_PINECONE)
		return PineconeScan(target, search);
	return MilvusScan(target, search);
}

/* Dispatch: describe the table's index, through the cache */
RemoteIndexInfo *
RemoteDescribe(RemoteTarget *target)
{
	RemoteCachedIndex *c = RemoteCacheLookup(target);

	if (c)
		return c->info;
	if (target->provider == REMOTE_PINECONE)
		return PineconeDescribe(target);
	return MilvusDescribe(target);
}

/*
 * The number of records in the table's namespace (Pinecone
 * describe_index_stats) or partition/collection (Milvus count(*)), for the
 * planner's row estimate of a full scan.  Cached with the index description
 * for REMOTE_COUNT_TTL_MS, so that planning costs a round trip per backend
 * and table now and then, not per query.
 */
int64
RemoteCount(RemoteTarget *target)
{
	const char *ns = target->namespace_ ? target->namespace_ : "";
	TimestampTz now = GetCurrentTimestamp();
	RemoteCachedIndex *c;
	int64		n;

	RemoteDescribe(target);
	c = RemoteCacheLookup(target);
	if (c && c->count_time != 0 && c->count_namespace &&
		strcmp(c->count_namespace, ns) == 0 &&
		!TimestampDifferenceExceeds(c->count_time, now, REMOTE_COUNT_TTL_MS))
		return c->count;
	if (target->provider == REMOTE_PINECONE)
		n = PineconeNamespaceCount(target);
	else
		n = MilvusCount(target);
	c = RemoteCacheLookup(target);
	if (c)
	{
		if (c->count_namespace)
			pfree(c->count_namespace);
		c->count_namespace = MemoryContextStrdup(GetMemoryChunkContext(c), ns);
		c->count = n;
		c->count_time = now;
	}
	return n;
}

/*
 * The remote's record count asked now, not from the cache: what a person
 * reads in describe_collection must not lag the writes just committed by
 * up to REMOTE_COUNT_TTL_MS.  The cache is refreshed with the answer.
 */
int64
RemoteCountNow(RemoteTarget *target)
{
	RemoteCachedIndex *c;

	RemoteDescribe(target);
	c = RemoteCacheLookup(target);
	if (c)
		c->count_time = 0;
	return RemoteCount(target);
}

/* Dispatch: every index (Pinecone) or collection (Milvus) of a server */
List *
RemoteListIndexes(RemoteTarget *target)
{
	if (target->provider == REMOTE_PINECONE)
		return PineconeListIndexes(target);
	return MilvusListCollections(target);
}

/* ---- Metadata objects: a scanner that keeps the text of each value ---- */

/* Skip JSON white space */
static const char *
SkipSpace(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* Skip a JSON string starting at its quote; NULL when malformed */
static const char *
SkipString(const char *p)
{
	p++;
	for (;;)
	{
		unsigned char ch = (unsigned char) *p;

		if (ch == '\0' || ch < 0x20)
			return NULL;
		if (ch == '"')
			return p + 1;
		if (ch == '\\')
		{
			p++;
			if (*p == 'u')
			{
				for (int i = 1; i <= 4; i++)
					if (!isxdigit((unsigned char) p[i]))
						return NULL;
				p += 5;
				continue;
			}
			if (strchr("\"\\/bfnrt", *p) == NULL || *p == '\0')
				return NULL;
		}
		p++;
	}
}

/* Skip a JSON number (RFC 8259 grammar); NULL when malformed */
static const char *
SkipNumber(const char *p)
{
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (isdigit((unsigned char) *p))
			p++;
	else
		return NULL;
	if (*p == '.')
	{
		p++;
		if (!isdigit((unsigned char) *p))
			return NULL;
		while (isdigit((unsigned char) *p))
			p++;
	}
	if (*p == 'e' || *p == 'E')
	{
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!isdigit((unsigned char) *p))
			return NULL;
		while (isdigit((unsigned char) *p))
			p++;
	}
	return p;
}

/*
 * Skip one JSON value, checking its grammar; NULL when malformed or nested
 * deeper than a metadata value needs.
 */
static const char *
SkipValue(const char *p, int depth, RemoteJsonKind *kind)
{
	RemoteJsonKind dummy;

	if (kind == NULL)
		kind = &dummy;
	if (depth > 64)
		return NULL;
	p = SkipSpace(p);
	switch (*p)
	{
		case '"':
			*kind = RJ_STRING;
			return SkipString(p);
		case 't':
			*kind = RJ_TRUE;
			return strncmp(p, "true", 4) == 0 ? p + 4 : NULL;
		case 'f':
			*kind = RJ_FALSE;
			return strncmp(p, "false", 5) == 0 ? p + 5 : NULL;
		case 'n':
			*kind = RJ_NULL;
			return strncmp(p, "null", 4) == 0 ? p + 4 : NULL;
		case '[':
			*kind = RJ_ARRAY;
			p = SkipSpace(p + 1);
			if (*p == ']')
				return p + 1;
			for (;;)
			{
				p = SkipValue(p, depth + 1, NULL);
				if (p == NULL)
					return NULL;
				p = SkipSpace(p);
				if (*p == ']')
					return p + 1;
				if (*p != ',')
					return NULL;
				p++;
			}
		case '{':
			*kind = RJ_OBJECT;
			p = SkipSpace(p + 1);
			if (*p == '}')
				return p + 1;
			for (;;)
			{
				p = SkipSpace(p);
				if (*p != '"' || (p = SkipString(p)) == NULL)
					return NULL;
				p = SkipSpace(p);
				if (*p != ':')
					return NULL;
				p = SkipValue(p + 1, depth + 1, NULL);
				if (p == NULL)
					return NULL;
				p = SkipSpace(p);
				if (*p == '}')
					return p + 1;
				if (*p != ',')
					return NULL;
				p++;
			}
		default:
			*kind = RJ_NUMBER;
			return SkipNumber(p);
	}
}

/* The text of a JSON string literal (quotes included), unescaped */
static char *
UnescapeKey(const char *raw, int len)
{
	cJSON	   *s;
	char	   *result;

	if (memchr(raw, '\\', len) == NULL)
		return pnstrdup(raw + 1, len - 2);
	s = cJSON_ParseWithLength(raw, len);
	if (!cJSON_IsString(s))
	{
		cJSON_Delete(s);
		return pnstrdup(raw + 1, len - 2);
	}
	result = pstrdup(s->valuestring);
	cJSON_Delete(s);
	return result;
}

/*
 * Scan a JSON object into its members, each value's text kept as written;
 * returns the number of members, or with *why -1 when the text is not
 * JSON and -2 when it is JSON but not an object.  Exists so that writes can validate metadata and copy it into a
 * request body without a parse tree that would turn numbers into doubles.
 */
int
RemoteJsonObjectMembers(const char *json, RemoteJsonMember **members,
						const char **why)
{
	const char *p = SkipSpace(json);
	int			n = 0;
	int			cap = 8;
	RemoteJsonMember *m;

	*members = NULL;
	if (*p != '{')
	{
		const char *end = SkipValue(p, 0, NULL);

		if (end && *SkipSpace(end) == '\0')
		{
			*why = "it is valid JSON but not an object";
			return -2;
		}
		*why = "it is not valid JSON";
		return -1;
	}
	m = palloc(sizeof(RemoteJsonMember) * cap);
	p = SkipSpace(p + 1);
	if (*p == '}')
		p++;
	else
	{
		for (;;)
		{
			const char *k = SkipSpace(p);
			const char *kend;
			const char *v;
			const char *vend;

			if (*k != '"' || (kend = SkipString(k)) == NULL)
				goto bad;
			p = SkipSpace(kend);
			if (*p != ':')
				goto bad;
			v = SkipSpace(p + 1);
			if (n == cap)
			{
				cap *= 2;
				m = repalloc(m, sizeof(RemoteJsonMember) * cap);
			}
			vend = SkipValue(v, 1, &m[n].kind);
			if (vend == NULL)
				goto bad;
			m[n].key_raw = k;
			m[n].key_raw_len = kend - k;
			m[n].key = UnescapeKey(k, kend - k);
			m[n].value = v;
			m[n].value_len = vend - v;
			n++;
			p = SkipSpace(vend);
			if (*p == '}')
			{
				p++;
				break;
			}
			if (*p != ',')
				goto bad;
			p++;
		}
	}
	if (*SkipSpace(p) != '\0')
		goto bad;
	*members = m;
	return n;

bad:
	*why = "it is not valid JSON";
	return -1;
}

/* Append a JSON value without the white space outside its strings */
void
RemoteAppendJsonCompact(StringInfo buf, const char *value, int len)
{
	bool		in_string = false;

	enlargeStringInfo(buf, len);
	for (int i = 0; i < len; i++)
	{
		char		ch = value[i];

		if (in_string)
		{
			if (ch == '\\' && i + 1 < len)
			{
				buf->data[buf->len++] = ch;
				ch = value[++i];
			}
			else if (ch == '"')
				in_string = false;
		}
		else if (ch == '"')
			in_string = true;
		else if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r')
			continue;
		buf->data[buf->len++] = ch;
	}
	buf->data[buf->len] = '\0';
}

/*
 * Fill a validation error of one write (message naming the record); returns
 * false, so that a check can end with "return RemoteWriteInvalid(...)"
 */
bool
RemoteWriteInvalid(RemoteWriteError *err, int sqlstate, char *message, char *detail,
				   const char *hint)
{
	err->sqlstate = sqlstate;
	err->message = message;
	err->detail = detail;
	err->hint = hint ? pstrdup(hint) : NULL;
	return false;
}

/* A record id for a message: at most 64 bytes of it, then "..." */
char *
RemoteShortId(const char *id)
{
	int			len = strlen(id);
	int			cut;

	if (len <= 64)
		return pstrdup(id);
	cut = pg_mbcliplen(id, len, 64);
	return psprintf("%.*s...", cut, id);
}
