/*-------------------------------------------------------------------------
 *
 * remote_request.c
 *	  vectorpg.remote_request(server, method, path, request): one raw
 *	  request through the transport, for tests and power users.
 *
 * It goes through exactly the path a client's request takes (the handle
 * cache, TLS and address checks, timeouts, retries, record/replay,
 * metrics, error mapping), so the transport can be tested on its own.
 * The path is appended to the server's url option and must start with
 * "/": a caller can reach nothing but the configured service.  The caller
 * needs USAGE on the server and a user mapping, as for a foreign table.
 * Non-2xx answers raise the transport's errors; 2xx answers, including a
 * Milvus error envelope, are returned as they are.
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "foreign/foreign.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"

#include "remote.h"

PG_FUNCTION_INFO_V1(remote_request);

/* Refuse a path that could step outside the server's url */
static void
CheckPath(const char *path)
{
	const unsigned char *p;

	if (path[0] != '/')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("path must start with \"/\""),
				 errdetail("The path is appended to the server's url option.")));
	for (p = (const unsigned char *) path; *p; p++)
	{
		if (*p <= 0x20 || *p == 0x7f || *p == '\\' || *p == '#')
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("path must not contain white space, control characters, \"\\\" or \"#\"")));
	}
}

/*
 * vectorpg.remote_request(server name, method text, path text,
 * request jsonb DEFAULT NULL) -> (status, body, attempts, elapsed_ms)
 */
Datum
remote_request(PG_FUNCTION_ARGS)
{
	char	   *servername;
	char	   *method;
	char	   *path;
	ForeignServer *server;
	AclResult	aclresult;
	RemoteTarget *target;
	RemoteRequest req;
	RemoteResponse *resp;
	TupleDesc	tupdesc;
	Datum		values[4];
	bool		nulls[4] = {false, false, false, false};

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("server, method and path must not be null")));
	servername = NameStr(*PG_GETARG_NAME(0));
	method = text_to_cstring(PG_GETARG_TEXT_PP(1));
	path = text_to_cstring(PG_GETARG_TEXT_PP(2));

	if (strcmp(method, "GET") != 0 && strcmp(method, "POST") != 0 &&
		strcmp(method, "PUT") != 0 && strcmp(method, "PATCH") != 0 &&
		strcmp(method, "DELETE") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("invalid method \"%s\"", method),
				 errhint("Valid methods are GET, POST, PUT, PATCH and DELETE.")));
	CheckPath(path);

	server = GetForeignServerByName(servername, false);
	aclresult = pg_foreign_server_aclcheck(server->serverid, GetUserId(), ACL_USAGE);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FOREIGN_SERVER, server->servername);

	target = RemoteTargetFromServer(server->serverid, GetUserId());

	memset(&req, 0, sizeof(req));
	req.operation = "raw";
	req.method = method;
	req.url = psprintf("%s%s", target->url, path);
	req.body = PG_ARGISNULL(3) ? NULL :
		JsonbToCString(NULL, &PG_GETARG_JSONB_P(3)->root, VARSIZE(PG_GETARG_JSONB_P(3)));

	resp = RemoteHttpCall(target, &req);

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	tupdesc = BlessTupleDesc(tupdesc);
	values[0] = Int32GetDatum((int32) resp->status);
	/* the body becomes text: it must be valid in the database encoding */
	(void) pg_verifymbstr(resp->body, (int) resp->len, false);
	values[1] = CStringGetTextDatum(resp->body);
	values[2] = Int32GetDatum(resp->attempts);
	values[3] = Float8GetDatum(resp->elapsed_ms);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(tupdesc, values, nulls)));
}
