/*
 * fdw_batch.c: what the batch API needs from a remote collection that SQL
 * over its foreign table cannot say.
 *
 * A remote collection (vectorpg.collections.kind = 'remote') is a
 * vectorpg_fdw foreign table; its batch writes are plain INSERT and DELETE
 * on that table (sql/install/10_5_remote_batch.sql), buffered until commit
 * by fdw_xact.c.  Searches are the exception: the batch API's filters are
 * JSON in Pinecone's language over the metadata object, which the foreign
 * table could only evaluate locally (after a full scan).  The remote
 * evaluates exactly that language (and the Milvus client translates it), so
 * vectorpg._remote_query hands the filter and the query vector to one
 * remote top-k search and returns the matches with the remote's distance.
 * Likewise vectorpg._remote_count asks the remote for its record count,
 * which count(*) over the foreign table could only get by a full scan.
 */
#include "postgres.h"

#include "catalog/pg_class.h"
#include "catalog/pg_type.h"
#include "foreign/foreign.h"
#include "fdw.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"
#include "utils/jsonb.h"
#include "utils/tuplestore.h"
#include "vectorpg.h"

VECTORPG_FUNCTION(vectorpg_remote_query);

/*
 * Refuse anything but a vectorpg_fdw foreign table the user may read: the
 * search reads the table's remote index as SELECT would.
 */
static void
CheckRemoteTable(Oid relid)
{
	ForeignTable *ft;
	ForeignServer *server;
	AclResult	aclresult;

	if (get_rel_relkind(relid) != RELKIND_FOREIGN_TABLE)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("\"%s\" is not a foreign table", get_rel_name(relid))));
	ft = GetForeignTable(relid);
	server = GetForeignServer(ft->serverid);
	if (strcmp(GetForeignDataWrapper(server->fdwid)->fdwname, "vectorpg_fdw") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_WRONG_OBJECT_TYPE),
				 errmsg("foreign table \"%s\" does not belong to vectorpg_fdw", get_rel_name(relid))));
	aclresult = pg_class_aclcheck(relid, GetUserId(), ACL_SELECT);
	if (aclresult != ACLCHECK_OK)
		aclcheck_error(aclresult, OBJECT_FOREIGN_TABLE, get_rel_name(relid));
	/* the column rules: errors for a table the FDW cannot serve */
	(void) FdwGetTable(relid);
}

/*
 * vectorpg._remote_query(relation regclass, query vector, top_k integer,
 * filter jsonb, include_values boolean): one remote top-k search of a
 * vectorpg_fdw foreign table, in the remote's order; rows (id, distance,
 * metadata, vector).  distance is the value of the vectorpg operator of the
 * index's metric.
 */
Datum
vectorpg_remote_query(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	Oid			relid;
	Vector	   *query;
	int32		top_k;
	char	   *filter = NULL;
	bool		include_values;
	RemoteTarget *target;
	RemoteSearch search;
	RemoteResult *result;

	if (PG_ARGISNULL(0) || PG_ARGISNULL(1) || PG_ARGISNULL(2) || PG_ARGISNULL(4))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("relation, query, top_k and include_values must not be null")));
	relid = PG_GETARG_OID(0);
	query = PG_GETARG_VECTOR_P(1);
	top_k = PG_GETARG_INT32(2);
	include_values = PG_GETARG_BOOL(4);
	if (!PG_ARGISNULL(3))
	{
		Jsonb	   *jb = PG_GETARG_JSONB_P(3);

		if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("a filter must be a JSON object")));
		if (JB_ROOT_COUNT(jb) > 0)
			filter = JsonbToCString(NULL, &jb->root, VARSIZE(jb));
	}
	if (top_k < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("top_k must be at least 1, not %d", top_k)));

	CheckRemoteTable(relid);
	target = RemoteTargetFromTable(relid, GetUserId());
	memset(&search, 0, sizeof(search));
	search.vector = query->x;
	search.dim = query->dim;
	search.top_k = top_k;
	search.filter_json = filter;
	search.include_values = include_values;
	search.include_metadata = true;
	result = RemoteQuery(target, &search);

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < result->nmatches; i++)
	{
		RemoteMatch *m = &result->matches[i];
		Datum		values[4];
		bool		nulls[4] = {false, false, false, false};

		values[0] = CStringGetTextDatum(m->id);
		values[1] = Float8GetDatum(m->distance);
		if (m->metadata_json)
			values[2] = DirectFunctionCall1(jsonb_in, CStringGetDatum(m->metadata_json));
		else
			values[2] = DirectFunctionCall1(jsonb_in, CStringGetDatum("{}"));
		if (include_values && m->values != NULL)
		{
			Vector	   *v;

			VectorCheckDim(m->dim);
			v = InitVector(m->dim);
			for (int j = 0; j < m->dim; j++)
			{
				VectorCheckElement(m->values[j]);
				v->x[j] = m->values[j];
			}
			values[3] = PointerGetDatum(v);
		}
		else
			nulls[3] = true;
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}

VECTORPG_FUNCTION(vectorpg_remote_count);

/*
 * vectorpg._remote_count(relation regclass): the number of records of a
 * vectorpg_fdw foreign table's namespace (Pinecone describe_index_stats) or
 * partition/collection (Milvus count(*)), asked now.  describe_collection
 * needs it because count(*) over the foreign table would be a full scan.
 */
Datum
vectorpg_remote_count(PG_FUNCTION_ARGS)
{
	Oid			relid = PG_GETARG_OID(0);
	int64		n;

	CheckRemoteTable(relid);
	n = RemoteCountNow(RemoteTargetFromTable(relid, GetUserId()));
	if (n < 0)
		PG_RETURN_NULL();
	PG_RETURN_INT64(n);
}
