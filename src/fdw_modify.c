/*
 * fdw_modify.c: INSERT, UPDATE and DELETE on vectorpg_fdw foreign tables.
 *
 * A row written to a foreign table becomes one RemoteWrite, buffered by
 * fdw_xact.c and sent when the transaction commits:
 *
 *   INSERT   an upsert: the remote replaces a record with the same id, so
 *            an INSERT of an existing id replaces it (no unique violation);
 *   UPDATE   an upsert of the complete new row: the planner adds a
 *            whole-row Var for foreign tables (so the executor can fill the
 *            columns the statement does not set), the scan fetches the
 *            rows (by id when the WHERE clause names ids), and the new row
 *            replaces the record; the id itself cannot change;
 *   DELETE   a delete by id.
 *
 * The row identity is the id column, added as the junk column "vpg_id"
 * (AddForeignUpdateTargets).  DELETE ... RETURNING also asks for the whole
 * row, so that RETURNING shows the row as it was scanned.
 *
 * A row's RemoteWrite: the id's text (text, varchar or bigint), the values
 * of the vector column, the sparse values of the `sparse_values` jsonb
 * column (Pinecone; NULL for none), and the metadata object: the
 * `metadata` jsonb column, merged with the other metadata columns (each
 * under its remote name; a NULL column is left out).  An UPDATE re-sends
 * the sparse values its scan read; Pinecone's upsert replaces the whole
 * record, so an UPDATE through a table without the column drops the
 * record's sparse values (doc/fdw.md says so).  For UPDATE, a metadata column the
 * statement does not set was read from the metadata and is not merged again
 * (so SET metadata = ... wins over stale field columns), and a field column
 * set to NULL removes its key.  score and distance are search results: they
 * must be NULL in a written row.
 *
 * Every row is validated when it is written (RemoteValidateWrite: id rules,
 * dimension, NaN), so a bad row fails its own statement, not the commit.
 *
 * An unqualified DELETE (no WHERE, no other relation) is refused at plan
 * time, before anything is sent: emptying an index is
 * vectorpg.remote_delete_all(regclass), never an accident.  Other DELETEs
 * and UPDATEs obey the scan's rules: a fetch by id, or a full scan only
 * where the table allows it.
 */
#include "postgres.h"

#include <math.h>

#include "access/htup_details.h"
#include "access/sysattr.h"
#include "catalog/pg_type.h"
#include "commands/explain.h"
#include "executor/executor.h"
#include "fdw.h"
#include "foreign/fdwapi.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "optimizer/appendinfo.h"
#include "optimizer/inherit.h"
#include "optimizer/pathnode.h"
#include "parser/parsetree.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "vectorpg.h"

/* Rows the executor hands to ExecForeignBatchInsert at once */
#define FDW_INSERT_BATCH_ROWS	1000

/* Junk column names of the row identity */
#define FDW_JUNK_ID				"vpg_id"
#define FDW_JUNK_WHOLEROW		"wholerow"

/* Positions in a modify plan's fdw_private */
enum FdwModifyPrivate
{
	FDW_MOD_UPDATED,			/* List of Integer: attnos an UPDATE sets */
	FDW_MOD_COUNT
};

/* Executor state of one result relation */
typedef struct FdwModifyState
{
	FdwTable   *table;
	Oid			relid;
	Oid			userid;
	CmdType		operation;
	RemoteTarget *target;
	bool	   *updated;		/* per attno: set by the UPDATE */
	AttrNumber	junk_id;		/* "vpg_id" in the subplan's output */
	AttrNumber	junk_wholerow;	/* "wholerow", or 0 */
	FmgrInfo   *out_funcs;		/* per attno, for ids and field columns */
	MemoryContext row_cxt;		/* reset per row */
} FdwModifyState;

/*
 * IsForeignRelUpdatable: every vectorpg_fdw table takes INSERT, UPDATE and
 * DELETE (whether a given statement can run is decided when it is planned).
 */
static int
FdwIsForeignRelUpdatable(Relation rel)
{
	return (1 << CMD_INSERT) | (1 << CMD_UPDATE) | (1 << CMD_DELETE);
}

/* The error for a table without an id column: nothing identifies a row */
static void
RequireId(FdwTable *table)
{
	if (table->id_attno == 0)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("cannot write to foreign table \"%s\": it has no id column",
						table->relname),
				 errhint("Writes identify records by id; add a column \"id\" of type text or bigint.")));
}

/*
 * AddForeignUpdateTargets: the id column is the row identity; a DELETE
 * with RETURNING also needs the whole scanned row to return it.  (For
 * UPDATE the planner adds the whole row itself.)
 */
static void
FdwAddForeignUpdateTargets(PlannerInfo *root, Index rtindex,
						   RangeTblEntry *target_rte, Relation target_relation)
{
	FdwTable   *table = FdwGetTable(RelationGetRelid(target_relation));
	FdwColumn  *c;
	Var		   *var;

	RequireId(table);
	c = &table->cols[table->id_attno - 1];
	var = makeVar(rtindex, table->id_attno, c->type, c->typmod,
				  get_typcollation(c->type), 0);
	add_row_identity_var(root, var, rtindex, FDW_JUNK_ID);

	if (root->parse->commandType == CMD_DELETE && root->parse->returningList != NIL)
	{
		var = makeVar(rtindex, InvalidAttrNumber, RECORDOID, -1, InvalidOid, 0);
		add_row_identity_var(root, var, rtindex, FDW_JUNK_WHOLEROW);
	}
}

/*
 * Planner hook called from GetForeignRelSize for the result relation of a
 * DELETE: refuse one without any condition, before anything is sent.
 */
void
FdwModifyCheckRel(PlannerInfo *root, RelOptInfo *baserel, FdwTable *table)
{
	if (root->parse->resultRelation != baserel->relid)
		return;
	if (root->parse->commandType == CMD_DELETE &&
		baserel->baserestrictinfo == NIL &&
		bms_membership(root->all_baserels) == BMS_SINGLETON)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("DELETE without a WHERE clause on foreign table \"%s\" is not supported",
						table->relname),
				 errdetail("It would delete every record of the remote index."),
				 errhint("To empty the remote index, call vectorpg.remote_delete_all('%s'::regclass).",
						 quote_identifier(table->relname))));
}

/*
 * A whole-row reference (attno 0 in a bitmapset offset by
 * FirstLowInvalidHeapAttributeNumber) becomes every column: the row
 * identity of UPDATE and DELETE ... RETURNING is the whole scanned row.
 */
Bitmapset *
FdwExpandWholeRow(Bitmapset *attrs, FdwTable *table)
{
	int			whole = 0 - FirstLowInvalidHeapAttributeNumber;

	if (!bms_is_member(whole, attrs))
		return attrs;
	attrs = bms_del_member(attrs, whole);
	for (int i = 1; i <= table->ncols; i++)
		if (table->cols[i - 1].kind != FDW_COL_DROPPED)
			attrs = bms_add_member(attrs, i - FirstLowInvalidHeapAttributeNumber);
	return attrs;
}

/*
 * PlanForeignModify: refuse what cannot be written (the id of an UPDATE,
 * a score or distance, ON CONFLICT, whose DO NOTHING an upsert would
 * break), and pass the columns an UPDATE sets.
 */
static List *
FdwPlanForeignModify(PlannerInfo *root, ModifyTable *plan,
					 Index resultRelation, int subplan_index)
{
	RangeTblEntry *rte = planner_rt_fetch(resultRelation, root);
	FdwTable   *table = FdwGetTable(rte->relid);
	List	   *updated = NIL;

	RequireId(table);
	if (plan->onConflictAction != ONCONFLICT_NONE)
		ereport(ERROR,
				(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
				 errmsg("INSERT with ON CONFLICT is not supported on foreign table \"%s\"",
						table->relname),
				 errdetail("An INSERT into a vectorpg_fdw table is an upsert: it replaces a record with the same id."),
				 errhint("Leave out ON CONFLICT.")));
	if (plan->operation == CMD_UPDATE)
	{
		RelOptInfo *rel = find_base_rel(root, resultRelation);
		Bitmapset  *cols = get_rel_all_updated_cols(root, rel);
		int			i = -1;

		while ((i = bms_next_member(cols, i)) >= 0)
		{
			AttrNumber	attno = i + FirstLowInvalidHeapAttributeNumber;
			FdwColumn  *c;

			if (attno <= 0 || attno > table->ncols)
				continue;
			c = &table->cols[attno - 1];
			if (c->kind == FDW_COL_ID)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot update column \"%s\" of foreign table \"%s\"",
								c->attname, table->relname),
						 errdetail("The id identifies the record in the remote index."),
						 errhint("Delete the record and insert it with the new id.")));
			if (c->kind == FDW_COL_SCORE || c->kind == FDW_COL_DISTANCE)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("cannot update column \"%s\" of foreign table \"%s\"",
								c->attname, table->relname),
						 errdetail("Scores and distances are computed by the remote when it searches.")));
			updated = lappend(updated, makeInteger(attno));
		}
	}
	return list_make1(updated);
}

/* The user whose mapping a result relation writes with */
static Oid
ResultUser(EState *estate, ResultRelInfo *rinfo)
{
	Index		rti = rinfo->ri_RangeTableIndex;
	RangeTblEntry *rte;

	if (rti == 0 && rinfo->ri_RootResultRelInfo)
		rti = rinfo->ri_RootResultRelInfo->ri_RangeTableIndex;
	if (rti == 0)
		return GetUserId();
	rte = exec_rt_fetch(rti, estate);
	return OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();
}

/* Set up the state shared by BeginForeignModify and BeginForeignInsert */
static FdwModifyState *
MakeState(EState *estate, ResultRelInfo *rinfo, CmdType operation, bool explain_only)
{
	FdwModifyState *st = palloc0(sizeof(FdwModifyState));
	Relation	rel = rinfo->ri_RelationDesc;

	st->relid = RelationGetRelid(rel);
	st->table = FdwGetTable(st->relid);
	RequireId(st->table);
	st->operation = operation;
	st->userid = ResultUser(estate, rinfo);
	/* the buffer's target: resolved once per transaction, table and user */
	st->target = explain_only ? RemoteTargetFromTable(st->relid, st->userid) :
		FdwXactTarget(st->relid, st->userid);
	st->updated = palloc0(sizeof(bool) * (st->table->ncols + 1));
	st->out_funcs = palloc0(sizeof(FmgrInfo) * (st->table->ncols + 1));
	for (int i = 1; i <= st->table->ncols; i++)
	{
		FdwColumn  *c = &st->table->cols[i - 1];
		Oid			outfunc;
		bool		isvarlena;

		if (c->kind != FDW_COL_ID && c->kind != FDW_COL_FIELD)
			continue;
		getTypeOutputInfo(c->type, &outfunc, &isvarlena);
		fmgr_info(outfunc, &st->out_funcs[i]);
	}
	st->row_cxt = AllocSetContextCreate(estate->es_query_cxt, "vectorpg_fdw row",
										ALLOCSET_DEFAULT_SIZES);
	return st;
}

/*
 * BeginForeignModify: resolve the table, its target and the junk columns
 * of the row identity.
 */
static void
FdwBeginForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
					  List *fdw_private, int subplan_index, int eflags)
{
	CmdType		op = mtstate->operation;
	FdwModifyState *st;
	ListCell   *lc;

	st = MakeState(mtstate->ps.state, rinfo, op,
				   (eflags & EXEC_FLAG_EXPLAIN_ONLY) != 0);
	foreach(lc, (List *) list_nth(fdw_private, FDW_MOD_UPDATED))
		st->updated[intVal(lfirst(lc))] = true;
	if (op == CMD_UPDATE || op == CMD_DELETE)
	{
		Plan	   *subplan = outerPlanState(mtstate)->plan;

		st->junk_id = ExecFindJunkAttributeInTlist(subplan->targetlist, FDW_JUNK_ID);
		if (!AttributeNumberIsValid(st->junk_id))
			elog(ERROR, "could not find junk column %s", FDW_JUNK_ID);
		st->junk_wholerow = ExecFindJunkAttributeInTlist(subplan->targetlist, FDW_JUNK_WHOLEROW);
	}
	rinfo->ri_FdwState = st;
}

/*
 * BeginForeignInsert: COPY into a foreign table, and rows routed to a
 * foreign partition, insert without a ModifyTable plan of their own.
 */
static void
FdwBeginForeignInsert(ModifyTableState *mtstate, ResultRelInfo *rinfo)
{
	rinfo->ri_FdwState = MakeState(mtstate->ps.state, rinfo, CMD_INSERT, false);
}

/* The text of a datum through a column's output function */
static char *
OutText(FdwModifyState *st, int attno, Datum d)
{
	return OutputFunctionCall(&st->out_funcs[attno], d);
}

/*
 * Append a metadata column's value as JSON: numbers and booleans as
 * themselves, json and jsonb embedded, everything else as a string of its
 * text form.  JSON has no NaN or Infinity.
 */
static void
AppendFieldJson(FdwModifyState *st, StringInfo buf, int attno, Datum d)
{
	FdwColumn  *c = &st->table->cols[attno - 1];

	switch (c->type)
	{
		case BOOLOID:
			appendStringInfoString(buf, DatumGetBool(d) ? "true" : "false");
			return;
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case OIDOID:
			appendStringInfoString(buf, OutText(st, attno, d));
			return;
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
			{
				double		x = c->type == FLOAT4OID ? DatumGetFloat4(d) :
					c->type == FLOAT8OID ? DatumGetFloat8(d) : 0.0;
				char	   *text = OutText(st, attno, d);

				if (isnan(x) || isinf(x) || strcmp(text, "NaN") == 0 ||
					strcmp(text, "Infinity") == 0 || strcmp(text, "-Infinity") == 0)
					ereport(ERROR,
							(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
							 errmsg("value %s of column \"%s\" cannot be stored in the remote metadata",
									text, c->attname),
							 errdetail("JSON has no NaN or Infinity.")));
				appendStringInfoString(buf, text);
				return;
			}
		case JSONOID:
		case JSONBOID:
			appendStringInfoString(buf, OutText(st, attno, d));
			return;
		default:
			escape_json(buf, OutText(st, attno, d));
			return;
	}
}

/*
 * The metadata object of a row as JSON text, or NULL when it is empty:
 * the metadata column, with the field columns merged in (see the file
 * header for UPDATE's rules).
 */
static char *
RowMetadata(FdwModifyState *st, TupleTableSlot *slot)
{
	FdwTable   *t = st->table;
	int			meta_attno = 0;
	Datum		meta = (Datum) 0;
	bool		have_meta = false;
	StringInfoData fields;
	List	   *removed = NIL;
	int			nfields = 0;
	ListCell   *lc;

	for (int i = 1; i <= t->ncols; i++)
		if (t->cols[i - 1].kind == FDW_COL_METADATA)
			meta_attno = i;
	if (meta_attno > 0 && !slot->tts_isnull[meta_attno - 1])
	{
		Jsonb	   *jb;

		meta = slot->tts_values[meta_attno - 1];
		jb = DatumGetJsonbP(meta);
		if (!JB_ROOT_IS_OBJECT(jb) || JB_ROOT_IS_SCALAR(jb))
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
					 errmsg("column \"%s\" of foreign table \"%s\" must be a JSON object",
							t->cols[meta_attno - 1].attname, t->relname)));
		meta = JsonbPGetDatum(jb);
		have_meta = true;
	}

	initStringInfo(&fields);
	appendStringInfoChar(&fields, '{');
	for (int i = 1; i <= t->ncols; i++)
	{
		FdwColumn  *c = &t->cols[i - 1];

		if (c->kind != FDW_COL_FIELD)
			continue;
		/* an UPDATE's unchanged field columns were read from the metadata */
		if (st->operation == CMD_UPDATE && !st->updated[i] && meta_attno > 0)
			continue;
		if (slot->tts_isnull[i - 1])
		{
			if (st->operation == CMD_UPDATE && st->updated[i])
				removed = lappend(removed, c->remote_name);
			continue;
		}
		if (nfields++ > 0)
			appendStringInfoChar(&fields, ',');
		escape_json(&fields, c->remote_name);
		appendStringInfoChar(&fields, ':');
		AppendFieldJson(st, &fields, i, slot->tts_values[i - 1]);
	}
	appendStringInfoChar(&fields, '}');

	if (nfields > 0)
	{
		Datum		f = DirectFunctionCall1(jsonb_in, CStringGetDatum(fields.data));

		meta = have_meta ? DirectFunctionCall2(jsonb_concat, meta, f) : f;
		have_meta = true;
	}
	foreach(lc, removed)
	{
		if (have_meta)
			meta = DirectFunctionCall2(jsonb_delete, meta,
									   CStringGetTextDatum((char *) lfirst(lc)));
	}
	if (!have_meta || JB_ROOT_COUNT(DatumGetJsonbP(meta)) == 0)
		return NULL;
	return DatumGetCString(DirectFunctionCall1(jsonb_out, meta));
}

/*
 * The sparse values of a row as JSON text, or NULL: the sparse_values
 * column, whose shape the provider's validation checks.
 */
static char *
RowSparse(FdwModifyState *st, TupleTableSlot *slot)
{
	FdwTable   *t = st->table;

	for (int i = 1; i <= t->ncols; i++)
	{
		if (t->cols[i - 1].kind == FDW_COL_SPARSE && !slot->tts_isnull[i - 1])
		{
			Jsonb	   *jb = DatumGetJsonbP(slot->tts_values[i - 1]);

			return JsonbToCString(NULL, &jb->root, VARSIZE(jb));
		}
	}
	return NULL;
}

/* The id of a row: its text form; a NULL id is refused */
static char *
RowId(FdwModifyState *st, Datum d, bool isnull)
{
	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("null value in column \"%s\" of foreign table \"%s\"",
						st->table->cols[st->table->id_attno - 1].attname, st->table->relname),
				 errdetail("Every record of a remote index has an id.")));
	return OutText(st, st->table->id_attno, d);
}

/* Validate a write as the remote would, raising its error now */
static void
Validate(FdwModifyState *st, RemoteWrite *w)
{
	int			sqlstate = 0;
	char	   *message = NULL;

	if (!RemoteValidateWrite(st->target, w, &sqlstate, &message))
		ereport(ERROR,
				(errcode(sqlstate ? sqlstate : ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("cannot write record \"%s\" to foreign table \"%s\": %s",
						w->id, st->table->relname, message ? message : "invalid"),
				 errhint("Nothing was sent; the statement was refused.")));
}

/*
 * The upsert of a complete row (INSERT, or UPDATE's new row), buffered for
 * the commit.  The id comes from the row, or for UPDATE from the identity.
 */
static void
BufferUpsert(FdwModifyState *st, TupleTableSlot *slot, const char *id)
{
	FdwTable   *t = st->table;
	RemoteWrite w;
	MemoryContext old = MemoryContextSwitchTo(st->row_cxt);

	slot_getallattrs(slot);
	memset(&w, 0, sizeof(w));
	w.id = id ? id : RowId(st, slot->tts_values[t->id_attno - 1],
						   slot->tts_isnull[t->id_attno - 1]);
	for (int i = 1; i <= t->ncols; i++)
	{
		FdwColumn  *c = &t->cols[i - 1];

		if ((c->kind == FDW_COL_SCORE || c->kind == FDW_COL_DISTANCE) &&
			!slot->tts_isnull[i - 1])
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("cannot write column \"%s\" of foreign table \"%s\"",
							c->attname, t->relname),
					 errdetail("Scores and distances are computed by the remote when it searches; write NULL or leave the column out.")));
	}
	if (t->vector_attno == 0 || slot->tts_isnull[t->vector_attno - 1])
		ereport(ERROR,
				(errcode(ERRCODE_NOT_NULL_VIOLATION),
				 errmsg("null value in the vector column of foreign table \"%s\"", t->relname),
				 errdetail("A record of a remote index needs its values.")));
	{
		Vector	   *v = DatumGetVector(slot->tts_values[t->vector_attno - 1]);

		w.values = v->x;
		w.dim = v->dim;
	}
	w.metadata_json = RowMetadata(st, slot);
	w.sparse_json = RowSparse(st, slot);
	Validate(st, &w);
	FdwXactAdd(st->relid, st->userid, &w);
	MemoryContextSwitchTo(old);
	MemoryContextReset(st->row_cxt);
}

/* ExecForeignInsert: one row becomes a buffered upsert */
static TupleTableSlot *
FdwExecForeignInsert(EState *estate, ResultRelInfo *rinfo,
					 TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	BufferUpsert(rinfo->ri_FdwState, slot, NULL);
	return slot;
}

/* ExecForeignBatchInsert: the same for many rows at once */
static TupleTableSlot **
FdwExecForeignBatchInsert(EState *estate, ResultRelInfo *rinfo,
						  TupleTableSlot **slots, TupleTableSlot **planSlots,
						  int *numSlots)
{
	for (int i = 0; i < *numSlots; i++)
		BufferUpsert(rinfo->ri_FdwState, slots[i], NULL);
	return slots;
}

/*
 * GetForeignModifyBatchSize: rows per ExecForeignBatchInsert call.  Rows
 * are buffered until commit anyway, so batching only saves calls; it is
 * off when RETURNING, row triggers or WITH CHECK OPTIONs need each row.
 */
static int
FdwGetForeignModifyBatchSize(ResultRelInfo *rinfo)
{
	TriggerDesc *trig = rinfo->ri_TrigDesc;

	if (rinfo->ri_projectReturning != NULL || rinfo->ri_WithCheckOptions != NIL ||
		(trig && (trig->trig_insert_after_row || trig->trig_insert_before_row)))
		return 1;
	return FDW_INSERT_BATCH_ROWS;
}

/* The id of the row an UPDATE or DELETE is on, from the row identity */
static char *
IdentityId(FdwModifyState *st, TupleTableSlot *planSlot)
{
	bool		isnull;
	Datum		d = ExecGetJunkAttribute(planSlot, st->junk_id, &isnull);

	return RowId(st, d, isnull);
}

/* ExecForeignUpdate: the complete new row becomes a buffered upsert */
static TupleTableSlot *
FdwExecForeignUpdate(EState *estate, ResultRelInfo *rinfo,
					 TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	FdwModifyState *st = rinfo->ri_FdwState;
	MemoryContext old = MemoryContextSwitchTo(estate->es_query_cxt);
	char	   *id = IdentityId(st, planSlot);

	MemoryContextSwitchTo(old);
	BufferUpsert(st, slot, id);
	pfree(id);
	return slot;
}

/*
 * ExecForeignDelete: a buffered delete by id; for RETURNING the slot gets
 * the row as it was scanned.
 */
static TupleTableSlot *
FdwExecForeignDelete(EState *estate, ResultRelInfo *rinfo,
					 TupleTableSlot *slot, TupleTableSlot *planSlot)
{
	FdwModifyState *st = rinfo->ri_FdwState;
	RemoteWrite w;
	MemoryContext old = MemoryContextSwitchTo(st->row_cxt);

	memset(&w, 0, sizeof(w));
	w.id = IdentityId(st, planSlot);
	w.is_delete = true;
	Validate(st, &w);
	FdwXactAdd(st->relid, st->userid, &w);
	MemoryContextSwitchTo(old);
	MemoryContextReset(st->row_cxt);

	if (AttributeNumberIsValid(st->junk_wholerow))
	{
		bool		isnull;
		Datum		d = ExecGetJunkAttribute(planSlot, st->junk_wholerow, &isnull);

		if (!isnull)
		{
			HeapTupleHeader td = DatumGetHeapTupleHeader(d);
			HeapTupleData tuple;

			tuple.t_len = HeapTupleHeaderGetDatumLength(td);
			ItemPointerSetInvalid(&tuple.t_self);
			tuple.t_tableOid = st->relid;
			tuple.t_data = td;
			/*
			 * A copy the slot owns: a heap slot keeps the HeapTuple pointer
			 * it is given, and this one is on our stack
			 */
			ExecForceStoreHeapTuple(heap_copytuple(&tuple), slot, true);
		}
	}
	return slot;
}

/* EndForeignModify: the row context goes with the query */
static void
FdwEndForeignModify(EState *estate, ResultRelInfo *rinfo)
{
	rinfo->ri_FdwState = NULL;
}

/* EndForeignInsert: as EndForeignModify */
static void
FdwEndForeignInsert(EState *estate, ResultRelInfo *rinfo)
{
	rinfo->ri_FdwState = NULL;
}

/*
 * ExplainForeignModify: what the statement will send at commit, and where
 * (never a header or a secret).
 */
static void
FdwExplainForeignModify(ModifyTableState *mtstate, ResultRelInfo *rinfo,
						List *fdw_private, int subplan_index, ExplainState *es)
{
	FdwModifyState *st = rinfo->ri_FdwState;
	bool		pinecone = st->target->provider == REMOTE_PINECONE;
	const char *what;

	if (st->operation == CMD_DELETE)
		what = pinecone ? "POST /vectors/delete at commit" :
			"POST /v2/vectordb/entities/delete at commit";
	else
		what = pinecone ? "POST /vectors/upsert at commit" :
			"POST /v2/vectordb/entities/upsert at commit";
	ExplainPropertyText("Remote Write", what, es);
	if (!es->verbose)
		return;
	ExplainPropertyText(pinecone ? "Remote Index" : "Remote Collection",
						st->target->index ? st->target->index : "", es);
	if (st->target->namespace_)
		ExplainPropertyText(pinecone ? "Remote Namespace" : "Remote Partition",
							st->target->namespace_, es);
	if (st->target->write_batch_size > 0)
		ExplainPropertyInteger("Remote Batch Size", NULL, st->target->write_batch_size, es);
	if (st->target->write_parallelism > 0)
		ExplainPropertyInteger("Remote Parallelism", NULL, st->target->write_parallelism, es);
}

/* Fill in the write callbacks of the handler */
void
FdwModifyRegister(FdwRoutine *routine)
{
	routine->IsForeignRelUpdatable = FdwIsForeignRelUpdatable;
	routine->AddForeignUpdateTargets = FdwAddForeignUpdateTargets;
	routine->PlanForeignModify = FdwPlanForeignModify;
	routine->BeginForeignModify = FdwBeginForeignModify;
	routine->ExecForeignInsert = FdwExecForeignInsert;
	routine->ExecForeignBatchInsert = FdwExecForeignBatchInsert;
	routine->GetForeignModifyBatchSize = FdwGetForeignModifyBatchSize;
	routine->ExecForeignUpdate = FdwExecForeignUpdate;
	routine->ExecForeignDelete = FdwExecForeignDelete;
	routine->EndForeignModify = FdwEndForeignModify;
	routine->BeginForeignInsert = FdwBeginForeignInsert;
	routine->EndForeignInsert = FdwEndForeignInsert;
	routine->ExplainForeignModify = FdwExplainForeignModify;
}
