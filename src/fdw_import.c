/*
 * fdw_import.c: IMPORT FOREIGN SCHEMA for vectorpg_fdw.
 *
 * The "remote schema" is ignored except in messages: a Pinecone project
 * and a Milvus database (server option db_name) have one flat list of
 * indexes or collections.  Each becomes a foreign table of the same name
 * with the columns of fdw.h:
 *
 *   id        text (Pinecone; Milvus VarChar keys) or bigint (Milvus Int64)
 *   embedding vector(dimension)
 *   score, distance float8
 *   metadata  jsonb
 *   sparse_values jsonb, for a Pinecone dotproduct index (the only metric
 *             whose records may carry sparse values) and a Milvus
 *             collection with one SparseFloatVector field
 *   Milvus only: one column per scalar field, of the matching type
 *
 * and the table options index and metric (and dimension), so that planning
 * needs no remote call.  A Milvus field whose name collides with one of the
 * fixed columns gets a column named <name>_field with column_name <name>.
 * LIMIT TO / EXCEPT filter by remote name here (PostgreSQL filters again).
 */
#include "postgres.h"

#include "fdw.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "remote_client.h"
#include "utils/builtins.h"
#include "utils/lsyscache.h"

/* Is this remote name selected by LIMIT TO / EXCEPT? */
static bool
Selected(ImportForeignSchemaStmt *stmt, const char *name)
{
	ListCell   *lc;
	bool		listed = false;

	if (stmt->list_type == FDW_IMPORT_SCHEMA_ALL)
		return true;
	foreach(lc, stmt->table_list)
	{
		RangeVar   *rv = lfirst(lc);

		if (strcmp(rv->relname, name) == 0)
			listed = true;
	}
	return stmt->list_type == FDW_IMPORT_SCHEMA_LIMIT_TO ? listed : !listed;
}

/* The SQL type of a Milvus scalar field, or NULL to leave it out */
static const char *
MilvusSqlType(const char *type)
{
	if (strcmp(type, "Bool") == 0)
		return "boolean";
	if (strcmp(type, "Int8") == 0 || strcmp(type, "Int16") == 0)
		return "smallint";
	if (strcmp(type, "Int32") == 0)
		return "integer";
	if (strcmp(type, "Int64") == 0)
		return "bigint";
	if (strcmp(type, "Float") == 0)
		return "real";
	if (strcmp(type, "Double") == 0)
		return "double precision";
	if (strcmp(type, "VarChar") == 0 || strcmp(type, "String") == 0)
		return "text";
	if (strcmp(type, "JSON") == 0 || strcmp(type, "Array") == 0)
		return "jsonb";
	return NULL;
}

/* Is this one of the fixed column names? */
static bool
ReservedName(const char *name)
{
	return strcmp(name, "id") == 0 || strcmp(name, "embedding") == 0 ||
		strcmp(name, "score") == 0 || strcmp(name, "distance") == 0 ||
		strcmp(name, "metadata") == 0 || strcmp(name, "sparse_values") == 0;
}

/* The CREATE FOREIGN TABLE statement of one index or collection */
static char *
TableStatement(ImportForeignSchemaStmt *stmt, RemoteTarget *target,
			   RemoteIndexInfo *info)
{
	StringInfoData buf;
	const char *idtype = "text";
	ListCell   *lc;

	initStringInfo(&buf);
	foreach(lc, info->fields)
	{
		RemoteField *f = lfirst(lc);

		if (f->primary && strcmp(f->type, "Int64") == 0)
			idtype = "bigint";
	}
	appendStringInfo(&buf, "CREATE FOREIGN TABLE %s.%s (\n  id %s",
					 quote_identifier(stmt->local_schema),
					 quote_identifier(info->name), idtype);
	if (info->dimension > 0)
		appendStringInfo(&buf, ",\n  embedding %s.vector(%d)",
						 quote_identifier(get_namespace_name(FdwExtensionSchema())),
						 info->dimension);
	else
		appendStringInfo(&buf, ",\n  embedding %s.vector",
						 quote_identifier(get_namespace_name(FdwExtensionSchema())));
	appendStringInfoString(&buf, ",\n  score float8,\n  distance float8,\n  metadata jsonb");
	if ((target->provider == REMOTE_PINECONE && info->metric == REMOTE_METRIC_IP) ||
		(target->provider == REMOTE_MILVUS && info->sparse_field != NULL))
		appendStringInfoString(&buf, ",\n  sparse_values jsonb");
	foreach(lc, info->fields)
	{
		RemoteField *f = lfirst(lc);
		const char *type = MilvusSqlType(f->type);

		if (f->primary || type == NULL)
			continue;
		if (ReservedName(f->name))
			appendStringInfo(&buf, ",\n  %s %s OPTIONS (column_name %s)",
							 quote_identifier(psprintf("%s_field", f->name)), type,
							 quote_literal_cstr(f->name));
		else
			appendStringInfo(&buf, ",\n  %s %s", quote_identifier(f->name), type);
	}
	appendStringInfo(&buf, "\n) SERVER %s OPTIONS (%s %s",
					 quote_identifier(target->servername),
					 target->provider == REMOTE_PINECONE ? "index" : "collection",
					 quote_literal_cstr(info->name));
	if (info->metric != REMOTE_METRIC_UNKNOWN)
		appendStringInfo(&buf, ", metric %s",
						 info->metric == REMOTE_METRIC_COSINE ? "'cosine'" :
						 info->metric == REMOTE_METRIC_L2 ?
						 (target->provider == REMOTE_PINECONE ? "'euclidean'" : "'l2'") :
						 (target->provider == REMOTE_PINECONE ? "'dotproduct'" : "'ip'"));
	if (info->dimension > 0)
		appendStringInfo(&buf, ", dimension '%d'", info->dimension);
	appendStringInfoString(&buf, ")");
	return buf.data;
}

/*
 * ImportForeignSchema callback: one CREATE FOREIGN TABLE per selected
 * remote index or collection.  No statement options are defined.
 */
List *
FdwImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid)
{
	RemoteTarget *target;
	List	   *indexes;
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, stmt->options)
	{
		DefElem    *def = lfirst(lc);

		ereport(ERROR,
				(errcode(ERRCODE_FDW_INVALID_OPTION_NAME),
				 errmsg("invalid option \"%s\"", def->defname),
				 errhint("IMPORT FOREIGN SCHEMA of vectorpg_fdw takes no options.")));
	}

	target = RemoteTargetFromServer(serverOid, GetUserId());
	indexes = RemoteListIndexes(target);
	foreach(lc, indexes)
	{
		RemoteIndexInfo *info = lfirst(lc);

		if (!Selected(stmt, info->name))
			continue;
		result = lappend(result, TableStatement(stmt, target, info));
	}
	return result;
}
