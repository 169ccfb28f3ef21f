/*-------------------------------------------------------------------------
 *
 * remote_record.c
 *	  Record and replay of remote requests: the setting
 *	  vectorpg.remote_mode, request fingerprints, and the table
 *	  vectorpg.remote_recordings.
 *
 * Modes:
 *	live         every request goes to the network (the default)
 *	record       requests go to the network, and each final answer (status
 *	             and body) is stored under the request's fingerprint,
 *	             replacing an older recording of the same request
 *	replay       requests are answered from the recordings only; a request
 *	             that was never recorded is an error, and nothing touches
 *	             the network
 *	passthrough  requests with a recording are answered from it, the others
 *	             go to the network and are not recorded
 *
 * The fingerprint is the SHA-256 (hex) of a canonical JSON document made of
 * the provider, the foreign table's index or collection, the method, the
 * URL path and query, and the canonical request body (keys sorted at every
 * level, numbers written the same way whatever their spelling: integers
 * exactly, other numbers as %.9g, which is what a float4 needs).  The host
 * is left out on purpose, so that a recording made against one host of a
 * service (a test fake on a random port, a Pinecone index host) replays
 * against another; the index name keeps two Pinecone indexes apart, since
 * their data planes share the same paths.
 *
 * Secrets are never recorded: they travel in headers, and headers are not
 * part of a recording.  The table belongs to the extension and is dumped
 * by pg_dump (pg_extension_config_dump).  The setting is superuser-only,
 * and the table is read and written as its owner, so a recording made by a
 * superuser's session can be replayed by any session, but only a superuser
 * decides that it is.
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "common/cryptohash.h"
#include "common/sha2.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/json.h"
#include "utils/lsyscache.h"
#include "utils/syscache.h"

#include "cJSON.h"
#include "remote.h"

int			remote_mode = REMOTE_MODE_LIVE;

static const struct config_enum_entry remote_mode_options[] = {
	{"live", REMOTE_MODE_LIVE, false},
	{"record", REMOTE_MODE_RECORD, false},
	{"replay", REMOTE_MODE_REPLAY, false},
	{"passthrough", REMOTE_MODE_PASSTHROUGH, false},
	{NULL, 0, false}
};

/* Register vectorpg.remote_mode (called from RemoteConnectionInit) */
void
RemoteRecordInit(void)
{
	DefineCustomEnumVariable("vectorpg.remote_mode",
							 "Whether remote requests go live, are recorded, or are replayed.",
							 "live: network only; record: network, and every answer is stored in "
							 "vectorpg.remote_recordings; replay: recordings only, no network; "
							 "passthrough: recordings when present, otherwise network without recording.",
							 &remote_mode,
							 REMOTE_MODE_LIVE,
							 remote_mode_options,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
}

/* qsort comparator of cJSON object members by key */
static int
CompareMembers(const void *a, const void *b)
{
	const cJSON *x = *(const cJSON *const *) a;
	const cJSON *y = *(const cJSON *const *) b;

	return strcmp(x->string ? x->string : "", y->string ? y->string : "");
}

/* Write a number the same way whatever its spelling in the request */
static void
AppendCanonicalNumber(StringInfo buf, double v)
{
	if (isnan(v) || isinf(v))
		appendStringInfoString(buf, "null");
	else if (v == floor(v) && fabs(v) < 1e15)
		appendStringInfo(buf, "%.0f", v);
	else
		appendStringInfo(buf, "%.9g", v);
}

/* Write a cJSON value in canonical form: sorted keys, normalised numbers */
static void
AppendCanonical(StringInfo buf, const cJSON *item, int depth)
{
	check_stack_depth();
	if (cJSON_IsObject(item))
	{
		int			n = 0;
		int			i;
		const cJSON *c;
		const cJSON **members;

		for (c = item->child; c; c = c->next)
			n++;
		members = palloc(sizeof(cJSON *) * Max(n, 1));
		i = 0;
		for (c = item->child; c; c = c->next)
			members[i++] = c;
		qsort(members, n, sizeof(cJSON *), CompareMembers);
		appendStringInfoChar(buf, '{');
		for (i = 0; i < n; i++)
		{
			if (i > 0)
				appendStringInfoChar(buf, ',');
			escape_json(buf, members[i]->string ? members[i]->string : "");
			appendStringInfoChar(buf, ':');
			AppendCanonical(buf, members[i], depth + 1);
		}
		appendStringInfoChar(buf, '}');
		pfree(members);
	}
	else if (cJSON_IsArray(item))
	{
		const cJSON *c;

		appendStringInfoChar(buf, '[');
		for (c = item->child; c; c = c->next)
		{
			if (c != item->child)
				appendStringInfoChar(buf, ',');
			AppendCanonical(buf, c, depth + 1);
		}
		appendStringInfoChar(buf, ']');
	}
	else if (cJSON_IsString(item))
		escape_json(buf, item->valuestring ? item->valuestring : "");
	else if (cJSON_IsNumber(item))
		AppendCanonicalNumber(buf, item->valuedouble);
	else if (cJSON_IsTrue(item))
		appendStringInfoString(buf, "true");
	else if (cJSON_IsFalse(item))
		appendStringInfoString(buf, "false");
	else
		appendStringInfoString(buf, "null");
}

/*
 * The canonical form of a request body: canonical JSON when it parses,
 * otherwise the text itself as a JSON string; "null" without a body.
 */
static char *
CanonicalBody(const char *body)
{
	StringInfoData buf;
	cJSON	   *json;

	initStringInfo(&buf);
	if (body == NULL)
	{
		appendStringInfoString(&buf, "null");
		return buf.data;
	}
	json = cJSON_Parse(body);
	if (json == NULL)
	{
		escape_json(&buf, body);
		return buf.data;
	}
	PG_TRY();
	{
		AppendCanonical(&buf, json, 0);
	}
	PG_FINALLY();
	{
		cJSON_Delete(json);
	}
	PG_END_TRY();
	return buf.data;
}

/* The canonical JSON document that is fingerprinted (see the file header) */
static char *
CanonicalRequest(RemoteTarget *target, const RemoteRequest *req)
{
	StringInfoData buf;

	initStringInfo(&buf);
	appendStringInfoString(&buf, "{\"body\":");
	appendStringInfoString(&buf, CanonicalBody(req->body));
	appendStringInfoString(&buf, ",\"index\":");
	escape_json(&buf, target->index ? target->index : "");
	appendStringInfoString(&buf, ",\"method\":");
	escape_json(&buf, req->method);
	appendStringInfoString(&buf, ",\"path\":");
	escape_json(&buf, RemoteUrlPath(req->url));
	appendStringInfoString(&buf, ",\"provider\":");
	escape_json(&buf, target->provider == REMOTE_PINECONE ? "pinecone" : "milvus");
	appendStringInfoChar(&buf, '}');
	return buf.data;
}

/* The request's fingerprint: SHA-256 of its canonical form, in hex */
char *
RemoteRecordFingerprint(RemoteTarget *target, const RemoteRequest *req)
{
	char	   *canon = CanonicalRequest(target, req);
	pg_cryptohash_ctx *ctx = pg_cryptohash_create(PG_SHA256);
	uint8		digest[PG_SHA256_DIGEST_LENGTH];
	char	   *hex = palloc(PG_SHA256_DIGEST_LENGTH * 2 + 1);
	int			i;

	if (ctx == NULL || pg_cryptohash_init(ctx) < 0 ||
		pg_cryptohash_update(ctx, (uint8 *) canon, strlen(canon)) < 0 ||
		pg_cryptohash_final(ctx, digest, sizeof(digest)) < 0)
	{
		const char *why = ctx ? pg_cryptohash_error(ctx) : "out of memory";

		pg_cryptohash_free(ctx);
		elog(ERROR, "could not compute a SHA-256 fingerprint: %s", why);
	}
	pg_cryptohash_free(ctx);
	for (i = 0; i < PG_SHA256_DIGEST_LENGTH; i++)
		sprintf(hex + 2 * i, "%02x", digest[i]);
	return hex;
}

/* The OID and owner of vectorpg.remote_recordings */
static Oid
RecordingsTable(Oid *owner)
{
	Oid			nsp = get_namespace_oid("vectorpg", false);
	Oid			relid = get_relname_relid("remote_recordings", nsp);
	HeapTuple	tup;

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("table vectorpg.remote_recordings does not exist")));
	tup = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tup))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	*owner = ((Form_pg_class) GETSTRUCT(tup))->relowner;
	ReleaseSysCache(tup);
	return relid;
}

/*
 * Look a request up by fingerprint.  Returns true and the recorded status
 * and body (palloc'd in the caller's context) when there is a recording.
 */
bool
RemoteRecordLookup(const char *fingerprint, long *status, char **body, size_t *len)
{
	MemoryContext caller = CurrentMemoryContext;
	Oid			owner;
	Oid			save_userid;
	int			save_sec;
	Oid			argtypes[1] = {TEXTOID};
	Datum		args[1];
	volatile bool found = false;

	RecordingsTable(&owner);
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		args[0] = CStringGetTextDatum(fingerprint);
		SPI_connect();
		if (SPI_execute_with_args("SELECT status, response FROM vectorpg.remote_recordings "
								  "WHERE fingerprint = $1",
								  1, argtypes, args, NULL, true, 1) != SPI_OK_SELECT)
			elog(ERROR, "could not read vectorpg.remote_recordings");
		if (SPI_processed == 1)
		{
			bool		isnull;
			Datum		d;
			bytea	   *b;
			MemoryContext old;

			d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull);
			*status = isnull ? 0 : DatumGetInt32(d);
			d = SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 2, &isnull);
			old = MemoryContextSwitchTo(caller);
			if (isnull)
			{
				*len = 0;
				*body = pstrdup("");
			}
			else
			{
				b = DatumGetByteaPP(d);
				*len = VARSIZE_ANY_EXHDR(b);
				*body = palloc(*len + 1);
				memcpy(*body, VARDATA_ANY(b), *len);
				(*body)[*len] = '\0';
			}
			MemoryContextSwitchTo(old);
			found = true;
		}
		SPI_finish();
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_END_TRY();
	return found;
}

/* Store the final answer to a request (record mode), replacing an older one */
void
RemoteRecordStore(RemoteTarget *target, const RemoteRequest *req,
				  const char *fingerprint, long status,
				  const char *body, size_t len)
{
	Oid			owner;
	Oid			save_userid;
	int			save_sec;
	Oid			argtypes[8] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, TEXTOID,
	TEXTOID, INT4OID, BYTEAOID};
	Datum		args[8];
	bytea	   *b = palloc(VARHDRSZ + len);

	SET_VARSIZE(b, VARHDRSZ + len);
	if (len > 0)
		memcpy(VARDATA(b), body, len);
	args[0] = CStringGetTextDatum(fingerprint);
	args[1] = CStringGetTextDatum(target->provider == REMOTE_PINECONE ? "pinecone" : "milvus");
	args[2] = CStringGetTextDatum(target->servername);
	args[3] = CStringGetTextDatum(req->operation);
	args[4] = CStringGetTextDatum(req->method);
	args[5] = CStringGetTextDatum(RemoteUrlPath(req->url));
	args[6] = Int32GetDatum((int32) status);
	args[7] = PointerGetDatum(b);

	RecordingsTable(&owner);
	GetUserIdAndSecContext(&save_userid, &save_sec);
	SetUserIdAndSecContext(owner, save_sec | SECURITY_LOCAL_USERID_CHANGE |
						   SECURITY_RESTRICTED_OPERATION);
	PG_TRY();
	{
		SPI_connect();
		if (SPI_execute_with_args("INSERT INTO vectorpg.remote_recordings "
								  "(fingerprint, provider, server, operation, method, path, status, response) "
								  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
								  "ON CONFLICT (fingerprint) DO UPDATE SET "
								  "provider = EXCLUDED.provider, server = EXCLUDED.server, "
								  "operation = EXCLUDED.operation, method = EXCLUDED.method, "
								  "path = EXCLUDED.path, status = EXCLUDED.status, "
								  "response = EXCLUDED.response, recorded_at = now()",
								  8, argtypes, args, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "could not write vectorpg.remote_recordings");
		SPI_finish();
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(save_userid, save_sec);
	}
	PG_END_TRY();
}

PG_FUNCTION_INFO_V1(remote_fingerprint);

/*
 * vectorpg.remote_fingerprint(provider, index, method, path, body): the
 * fingerprint a request would be recorded under, so that recordings can be
 * prepared or inspected by hand.
 */
Datum
remote_fingerprint(PG_FUNCTION_ARGS)
{
	RemoteTarget target;
	RemoteRequest req;
	char	   *provider;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(2) || PG_ARGISNULL(3))
		PG_RETURN_NULL();
	provider = text_to_cstring(PG_GETARG_TEXT_PP(0));
	memset(&target, 0, sizeof(target));
	memset(&req, 0, sizeof(req));
	target.provider = pg_strcasecmp(provider, "milvus") == 0 ? REMOTE_MILVUS : REMOTE_PINECONE;
	target.index = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	req.method = text_to_cstring(PG_GETARG_TEXT_PP(2));
	req.url = text_to_cstring(PG_GETARG_TEXT_PP(3));
	req.body = PG_ARGISNULL(4) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(4));
	PG_RETURN_TEXT_P(cstring_to_text(RemoteRecordFingerprint(&target, &req)));
}
