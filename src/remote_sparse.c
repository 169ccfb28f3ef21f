/*-------------------------------------------------------------------------
 *
 * remote_sparse.c
 *	  Sparse values of remote records: the one SQL form both providers
 *	  share, its validation, and the two wire forms.
 *
 * In SQL (a foreign table's sparse_values jsonb column, remote_upsert's
 * sparse_values argument) sparse values are a JSON object
 * {"indices": [...], "values": [...]}, Pinecone's own shape (spec 2.1).
 * Pinecone takes that shape on the wire; Milvus takes a SparseFloatVector
 * field as an object keyed by index, {"3": 0.5, "17": 0.25} (Milvus spec
 * 5.2), and answers in that form, which RemoteSparseFromMilvus turns back
 * into the SQL form.
 *
 * Validation is the same for both, before anything is sent: exactly the
 * two arrays (another key is refused, so that a misspelt one is not
 * dropped without a word), of one length, 1 to a provider's limit of
 * entries, unique whole indices in 0..2^32-1, and values that are numbers
 * within float4, sent as float4 through the ryu printer like dense values.
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "common/shortest_dec.h"
#include "remote_client.h"

/* qsort comparator of sparse indices */
static int
SparseIndexCompare(const void *a, const void *b)
{
	uint32		x = *(const uint32 *) a;
	uint32		y = *(const uint32 *) b;

	return (x > y) - (x < y);
}

/*
 * Parse and check the sparse values of write w (w->sparse_json) for a
 * provider taking at most max_entries of them; fills out (palloc'd
 * arrays, in the order given), or err and returns false.
 */
bool
RemoteSparseParse(const RemoteWrite *w, int max_entries, const char *provider,
				  RemoteSparse *out, RemoteWriteError *err)
{
	const char *id = RemoteShortId(w->id);
	const char *shape = "Write sparse values as {\"indices\": [...], \"values\": [...]}.";
	cJSON	   *json = cJSON_Parse(w->sparse_json);
	cJSON	   *item;
	cJSON	   *jindices = NULL;
	cJSON	   *jvalues = NULL;
	bool		is_object = cJSON_IsObject(json);
	bool		arrays;
	char	   *unknown = NULL;
	int			n = 0;
	int			nvalues = 0;
	uint32	   *sorted;
	int			bad_index = -1;
	int			bad_value = -1;

	memset(out, 0, sizeof(*out));

	/* read what is needed out of the parsed text, then free it */
	if (is_object)
	{
		cJSON_ArrayForEach(item, json)
		{
			if (strcmp(item->string, "indices") == 0)
				jindices = item;
			else if (strcmp(item->string, "values") == 0)
				jvalues = item;
			else if (unknown == NULL)
				unknown = pstrdup(item->string);
		}
	}
	arrays = cJSON_IsArray(jindices) && cJSON_IsArray(jvalues);
	if (arrays)
	{
		n = cJSON_GetArraySize(jindices);
		nvalues = cJSON_GetArraySize(jvalues);
	}
	if (arrays && n == nvalues && n >= 1 && n <= max_entries)
	{
		int			i = 0;

		out->indices = palloc(sizeof(uint32) * n);
		out->values = palloc(sizeof(float4) * n);
		cJSON_ArrayForEach(item, jindices)
		{
			double		d = cJSON_IsNumber(item) ? item->valuedouble : -1.0;

			if (bad_index < 0 &&
				!(d >= 0.0 && d <= (double) REMOTE_MAX_SPARSE_INDEX && d == floor(d)))
				bad_index = i;
			out->indices[i++] = bad_index < 0 ? (uint32) d : 0;
		}
		i = 0;
		cJSON_ArrayForEach(item, jvalues)
		{
			double		d = cJSON_IsNumber(item) ? item->valuedouble : NAN;

			if (bad_value < 0 && !(isfinite(d) && fabs(d) <= FLT_MAX))
				bad_value = i;
			out->values[i++] = bad_value < 0 ? (float4) d : 0.0f;
		}
		out->n = n;
	}
	cJSON_Delete(json);

	if (!is_object)
		return RemoteWriteInvalid(err, ERRCODE_INVALID_PARAMETER_VALUE,
							 psprintf("sparse values of record \"%s\" are not a JSON object", id),
							 NULL, shape);
	if (unknown != NULL)
		return RemoteWriteInvalid(err, ERRCODE_INVALID_PARAMETER_VALUE,
							 psprintf("sparse values of record \"%s\" have an unknown key \"%s\"", id, unknown),
							 NULL, shape);
	if (!arrays)
		return RemoteWriteInvalid(err, ERRCODE_INVALID_PARAMETER_VALUE,
							 psprintf("sparse values of record \"%s\" need the arrays \"indices\" and \"values\"", id),
							 NULL, shape);
	if (n != nvalues)
		return RemoteWriteInvalid(err, ERRCODE_INVALID_PARAMETER_VALUE,
							 psprintf("sparse values of record \"%s\" have %d indices but %d values", id, n, nvalues),
							 NULL, "Give one value for each index.");
	if (n < 1 || n > max_entries)
		return RemoteWriteInvalid(err, n < 1 ? ERRCODE_INVALID_PARAMETER_VALUE : ERRCODE_PROGRAM_LIMIT_EXCEEDED,
							 psprintf("sparse values of record \"%s\" have %d entries", id, n),
							 psprintf("%s takes 1 to %d entries per record.", provider, max_entries),
							 n < 1 ? "Write NULL for a record without sparse values." :
							 "Keep only the largest entries.");
	if (bad_index >= 0)
		return RemoteWriteInvalid(err, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
							 psprintf("sparse index at position %d of record \"%s\" is not an integer between 0 and %u",
									  bad_index + 1, id, (uint32) REMOTE_MAX_SPARSE_INDEX),
							 NULL, "Sparse indices are 32-bit unsigned integers.");
	if (bad_value >= 0)
		return RemoteWriteInvalid(err, ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE,
							 psprintf("sparse value at position %d of record \"%s\" is not a number in the range of type real",
									  bad_value + 1, id),
							 NULL, "Remote indexes store finite float32 values only.");

	sorted = palloc(sizeof(uint32) * n);
	memcpy(sorted, out->indices, sizeof(uint32) * n);
	qsort(sorted, n, sizeof(uint32), SparseIndexCompare);
	for (int i = 1; i < n; i++)
		if (sorted[i] == sorted[i - 1])
			return RemoteWriteInvalid(err, ERRCODE_INVALID_PARAMETER_VALUE,
								 psprintf("sparse index %u appears more than once in record \"%s\"",
										  sorted[i], id),
								 NULL, "Each sparse index takes one value.");
	pfree(sorted);
	return true;
}

/* Free what RemoteSparseParse allocated */
void
RemoteSparseFree(RemoteSparse *sp)
{
	if (sp->indices)
		pfree(sp->indices);
	if (sp->values)
		pfree(sp->values);
	memset(sp, 0, sizeof(*sp));
}

/* Append sparse values in the SQL and Pinecone form {"indices":[...],"values":[...]} */
void
RemoteAppendSparse(StringInfo buf, const RemoteSparse *sp)
{
	appendStringInfoString(buf, "{\"indices\":[");
	for (int i = 0; i < sp->n; i++)
		appendStringInfo(buf, i > 0 ? ",%u" : "%u", sp->indices[i]);
	appendStringInfoString(buf, "],\"values\":");
	RemoteAppendVector(buf, sp->values, sp->n);
	appendStringInfoChar(buf, '}');
}

/* Append sparse values in Milvus's form {"<index>":value,...} */
void
RemoteAppendSparseMilvus(StringInfo buf, const RemoteSparse *sp)
{
	char		num[32];

	appendStringInfoChar(buf, '{');
	for (int i = 0; i < sp->n; i++)
	{
		float_to_shortest_decimal_buf(sp->values[i], num);
		appendStringInfo(buf, i > 0 ? ",\"%u\":%s" : "\"%u\":%s", sp->indices[i], num);
	}
	appendStringInfoChar(buf, '}');
}

/*
 * The SQL form of a SparseFloatVector value as Milvus returns it (an
 * object keyed by index, in the server's order), or NULL when it is not
 * one.
 */
char *
RemoteSparseFromMilvus(const cJSON *obj)
{
	StringInfoData buf;
	const cJSON *item;
	bool		first = true;

	if (!cJSON_IsObject(obj))
		return NULL;
	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"indices\":[");
	cJSON_ArrayForEach(item, obj)
	{
		if (item->string == NULL || item->string[0] == '\0' ||
			strspn(item->string, "0123456789") != strlen(item->string) ||
			!cJSON_IsNumber(item))
			return NULL;
		appendStringInfo(&buf, first ? "%s" : ",%s", item->string);
		first = false;
	}
	appendStringInfoString(&buf, "],\"values\":[");
	first = true;
	cJSON_ArrayForEach(item, obj)
	{
		char	   *num = RemoteJsonNumberText(item);

		appendStringInfo(&buf, first ? "%s" : ",%s", num);
		first = false;
	}
	appendStringInfoString(&buf, "]}");
	return buf.data;
}
