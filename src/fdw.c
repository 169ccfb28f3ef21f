/*
 * fdw.c: the foreign data wrapper vectorpg_fdw: handler, planner and
 * executor callbacks, EXPLAIN.
 *
 * A scan is a remote top-k, a fetch by id or a full scan (fdw.h); writes
 * are in fdw_modify.c and fdw_xact.c.  How a query becomes a scan:
 *
 * - GetForeignRelSize splits the WHERE clauses into an id condition
 *   (id = value, id = ANY(values)), conditions the remote can filter on
 *   (fdw_deparse.c) and the rest, which run locally.  A table that allows
 *   full scans is estimated from the remote's record count (RemoteCount,
 *   cached per backend) times the conditions' selectivity.
 *
 * - GetForeignPaths adds a fetch path when there is an id condition, also
 *   a parameterised one for a join clause id = outer.column, and otherwise
 *   a full-scan path.  A full scan pulls the whole index, which GetForeignPlan
 *   refuses unless the table says allow_full_scan.
 *
 * - GetForeignUpperPaths takes over ORDER BY <vector op> value LIMIT k the
 *   way postgres_fdw takes over ORDER BY/LIMIT: at the ORDERED stage it
 *   checks that the single sort key is the distance operator of the
 *   remote metric between the table's vector column and a constant or
 *   parameter, that the table is the only relation and that every WHERE
 *   clause is pushable; at the FINAL stage, when there is a LIMIT (a
 *   constant or parameter, no WITH TIES, no locking), it adds one path that
 *   does ordering, filtering and the LIMIT/OFFSET remotely.  Because that
 *   path replaces the Limit node, results cannot differ from local
 *   evaluation: a query with a local condition never gets it, and its
 *   LIMIT stays local.  The ORDER BY expression is put into the scan's
 *   target list, so the planner takes its value from the remote distance
 *   instead of recomputing it (and the vectors need not be fetched).
 *   A LIMIT without ORDER BY over a base relation whose conditions all
 *   run remotely gets a FINAL path too (FDW_SCAN_LIMITED): a full scan that
 *   asks for LIMIT + OFFSET rows and stops, allowed without allow_full_scan
 *   up to FDW_MAX_BOUNDED_SCAN_ROWS.
 *
 * - Values (the query vector, LIMIT, OFFSET, ids, filter values) travel in
 *   fdw_exprs and are evaluated when the scan starts, so prepared statements
 *   with generic plans work; ReScan evaluates them again.
 *
 * The remote request is made on the first IterateForeignScan call; results
 * are converted page by page in a memory context reset per page.
 */
#include "postgres.h"

#include <limits.h>

#include "access/genam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/reloptions.h"
#include "catalog/namespace.h"
#include "catalog/indexing.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_extension.h"
#include "catalog/pg_type.h"
#include "commands/defrem.h"
#include "commands/explain.h"
#include "commands/extension.h"
#include "executor/executor.h"
#include "fdw.h"
#include "foreign/fdwapi.h"
#include "foreign/foreign.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/cost.h"
#include "optimizer/optimizer.h"
#include "optimizer/pathnode.h"
#include "optimizer/paths.h"
#include "optimizer/planmain.h"
#include "optimizer/restrictinfo.h"
#include "optimizer/tlist.h"
#include "parser/parsetree.h"
#include "remote_client.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgroids.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/syscache.h"
#include "vectorpg.h"

/* Planner estimates: rows and costs of the three scan shapes */
#define FDW_FULL_SCAN_ROWS		1000.0
#define FDW_FULL_SCAN_COST		1.0e6
#define FDW_REQUEST_COST		10.0
#define FDW_ROW_COST			0.01

/* Planner state of a base relation (RelOptInfo.fdw_private) */
typedef struct FdwRelInfo
{
	FdwTable   *table;
	RemoteTarget *target;
	Index		relid;
	List	   *remote_conds;	/* pushable clauses (Expr) */
	List	   *local_conds;	/* RestrictInfo */
	RestrictInfo *id_rinfo;		/* the id condition, or NULL */
	Expr	   *id_value;
	bool		id_is_array;
} FdwRelInfo;

/* Planner state of the ORDERED and FINAL upper relations */
typedef struct FdwUpperInfo
{
	RelOptInfo *baserel;
	Expr	   *sort_expr;		/* vector op value */
	Expr	   *query_vector;	/* the value side */
	RemoteMetric metric;
} FdwUpperInfo;

/* Positions in a scan plan's fdw_private */
enum FdwPrivateIndex
{
	FDW_PRIV_KIND,				/* Integer FdwScanKind */
	FDW_PRIV_RELID,				/* Integer foreign table OID */
	FDW_PRIV_RTINDEX,			/* Integer range table index at plan time */
	FDW_PRIV_REMOTE_CONDS,		/* List of pushed clauses */
	FDW_PRIV_ATTRS,				/* List of Integer: columns to fill */
	FDW_PRIV_SCAN_MAP,			/* List of Integer: attno per scan tlist
								 * entry, 0 = the ORDER BY distance */
	FDW_PRIV_METRIC,			/* Integer RemoteMetric */
	FDW_PRIV_EXPR_POS,			/* List of Integer: positions in fdw_exprs
								 * of vector, limit, offset, id, first
								 * filter value (-1 = none) */
	FDW_PRIV_ID_IS_ARRAY,		/* Integer 0/1 */
	FDW_PRIV_COUNT
};

enum FdwExprPos
{
	POS_VECTOR,
	POS_LIMIT,
	POS_OFFSET,
	POS_ID,
	POS_FILTER,
	POS_COUNT
};

/* Executor state */
typedef struct FdwScanState
{
	FdwTable   *table;
	RemoteTarget *target;
	FdwScanKind kind;
	Index		plan_rtindex;
	RemoteMetric metric;
	List	   *remote_conds;
	List	   *filter_exprs;	/* the filter's value expressions (plan) */
	ExprState  *states[POS_COUNT];	/* filter: the first one */
	List	   *filter_states;
	bool		id_is_array;
	bool		include_values;
	bool		include_metadata;
	List	   *output_fields;	/* Milvus: metadata fields needed */
	bool		upper;			/* slot follows fdw_scan_tlist */
	int			nmap;
	int		   *map;
	bool	   *fill;			/* base scans: per attribute, needed? */
	FmgrInfo   *in_funcs;		/* per attribute */
	Oid		   *in_params;

	/* run state, reset by ReScan */
	MemoryContext run_cxt;
	MemoryContext page_cxt;
	MemoryContext tuple_cxt;
	bool		started;
	bool		done;
	RemoteResult *page;
	int			pos;
	int64		skip;			/* rows still to skip (OFFSET, Pinecone) */
	int64		remaining;		/* rows still to return, -1 = all */
	char	   *next_token;
	char	   *filter_json;
	float4	   *query;
	int			query_dim;

	/* for error context */
	int			cur_attno;
} FdwScanState;

static Oid	vector_type_oid = InvalidOid;

VECTORPG_FUNCTION(vectorpg_fdw_handler);

/*
 * The schema of the extension (PostgreSQL 15 does not export
 * get_extension_schema): where the vector type lives.
 */
Oid
FdwExtensionSchema(void)
{
	Relation	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			result = InvalidOid;

	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("vectorpg"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
		result = ((Form_pg_extension) GETSTRUCT(tuple))->extnamespace;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	if (!OidIsValid(result))
		elog(ERROR, "extension vectorpg is not installed");
	return result;
}

/*
 * The OID of our vector type, found through the extension so that another
 * "vector" type in the search path does not confuse the column rules.
 */
Oid
FdwVectorTypeOid(void)
{
	if (!OidIsValid(vector_type_oid))
	{
		Oid			nsp = FdwExtensionSchema();

		vector_type_oid = GetSysCacheOid2(TYPENAMENSP, Anum_pg_type_oid,
										  CStringGetDatum("vector"),
										  ObjectIdGetDatum(nsp));
		if (!OidIsValid(vector_type_oid))
			elog(ERROR, "type vector of extension vectorpg not found");
	}
	return vector_type_oid;
}

/* Is this one of the float types a score or distance column may have? */
static bool
IsFloatType(Oid type)
{
	return type == FLOAT8OID || type == FLOAT4OID;
}

/*
 * Read a foreign table's columns and recognise what each stands for (the
 * rules are in fdw.h); errors for tables the FDW cannot serve.
 */
FdwTable *
FdwGetTable(Oid relid)
{
	Relation	rel = table_open(relid, AccessShareLock);
	TupleDesc	desc = RelationGetDescr(rel);
	FdwTable   *t = palloc0(sizeof(FdwTable));
	Oid			vectype = FdwVectorTypeOid();

	t->relid = relid;
	t->relname = pstrdup(RelationGetRelationName(rel));
	t->ncols = desc->natts;
	t->cols = palloc0(sizeof(FdwColumn) * Max(desc->natts, 1));
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);
		FdwColumn  *c = &t->cols[i];
		List	   *options;
		ListCell   *lc;
		char	   *column_name = NULL;

		if (att->attisdropped)
		{
			c->kind = FDW_COL_DROPPED;
			continue;
		}
		c->attname = pstrdup(NameStr(att->attname));
		c->type = att->atttypid;
		c->typmod = att->atttypmod;
		options = GetForeignColumnOptions(relid, att->attnum);
		foreach(lc, options)
		{
			DefElem    *def = lfirst(lc);

			if (strcmp(def->defname, "column_name") == 0)
				column_name = defGetString(def);
		}
		c->remote_name = column_name ? pstrdup(column_name) : c->attname;

		if (c->type == vectype)
		{
			if (t->vector_attno != 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_COLUMN_NUMBER),
						 errmsg("foreign table \"%s\" has more than one vector column",
								t->relname),
						 errdetail("A remote index has one vector per record.")));
			c->kind = FDW_COL_VECTOR;
			t->vector_attno = att->attnum;
		}
		else if (column_name != NULL)
			c->kind = FDW_COL_FIELD;
		else if (strcmp(c->attname, "id") == 0)
		{
			if (c->type != TEXTOID && c->type != VARCHAROID && c->type != INT8OID)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
						 errmsg("column \"id\" of foreign table \"%s\" must be of type text, varchar or bigint",
								t->relname)));
			c->kind = FDW_COL_ID;
			t->id_attno = att->attnum;
		}
		else if (strcmp(c->attname, "score") == 0 && IsFloatType(c->type))
			c->kind = FDW_COL_SCORE;
		else if (strcmp(c->attname, "distance") == 0 && IsFloatType(c->type))
			c->kind = FDW_COL_DISTANCE;
		else if (strcmp(c->attname, "metadata") == 0 && c->type == JSONBOID)
			c->kind = FDW_COL_METADATA;
		else if (strcmp(c->attname, "sparse_values") == 0 && c->type == JSONBOID)
			c->kind = FDW_COL_SPARSE;
		else
			c->kind = FDW_COL_FIELD;
	}
	table_close(rel, AccessShareLock);
	return t;
}

/* The user whose mapping a planner relation uses */
static Oid
RelUser(RelOptInfo *rel)
{
	return OidIsValid(rel->userid) ? rel->userid : GetUserId();
}

/*
 * GetForeignRelSize: resolve the table, split its WHERE clauses, estimate
 * the number of rows.
 */
static void
FdwGetForeignRelSize(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	FdwRelInfo *info = palloc0(sizeof(FdwRelInfo));
	ListCell   *lc;

	info->table = FdwGetTable(foreigntableid);
	/* the scan of an UPDATE or DELETE: refuse an unqualified DELETE */
	FdwModifyCheckRel(root, baserel, info->table);
	info->target = RemoteTargetFromTable(foreigntableid, RelUser(baserel));
	info->relid = baserel->relid;
	baserel->fdw_private = info;

	foreach(lc, baserel->baserestrictinfo)
	{
		RestrictInfo *ri = lfirst(lc);
		bool		is_array;
		Expr	   *value;

		if (info->id_rinfo == NULL &&
			(value = FdwIdCondition(ri->clause, baserel->relid, info->table, &is_array)) != NULL)
		{
			info->id_rinfo = ri;
			info->id_value = value;
			info->id_is_array = is_array;
		}
		else if (FdwIsFilterable(ri->clause, baserel->relid, info->table))
			info->remote_conds = lappend(info->remote_conds, ri);
		else
			info->local_conds = lappend(info->local_conds, ri);
	}

	if (info->id_rinfo)
	{
		Expr	   *v = info->id_value;

		baserel->rows = 1;
		if (info->id_is_array && IsA(v, Const) && !((Const *) v)->constisnull)
			baserel->rows = Max(1, ArrayGetNItems(ARR_NDIM(DatumGetArrayTypeP(((Const *) v)->constvalue)),
												  ARR_DIMS(DatumGetArrayTypeP(((Const *) v)->constvalue))));
		else if (info->id_is_array)
			baserel->rows = 10;
	}
	else if (info->target->allow_full_scan)
	{
		/*
		 * Only a table that allows full scans may get one: estimate it from
		 * the remote's record count (cached per backend), with PostgreSQL's
		 * selectivity of the conditions.
		 */
		int64		count = RemoteCount(info->target);

		if (count >= 0)
		{
			baserel->tuples = (double) count;
			baserel->rows = clamp_row_est((double) count *
										  clauselist_selectivity(root, baserel->baserestrictinfo,
																 0, JOIN_INNER, NULL));
		}
		else
			baserel->rows = FDW_FULL_SCAN_ROWS;
	}
	else
		baserel->rows = FDW_FULL_SCAN_ROWS;
}

/* The RestrictInfos of a list, as bare clauses */
static List *
BareClauses(List *rinfos)
{
	List	   *result = NIL;
	ListCell   *lc;

	foreach(lc, rinfos)
		result = lappend(result, ((RestrictInfo *) lfirst(lc))->clause);
	return result;
}

/* Is this the id Var of our relation (under relabelling)? */
static bool
IsIdVar(Expr *e, RelOptInfo *baserel, FdwRelInfo *info)
{
	while (e && IsA(e, RelabelType))
		e = ((RelabelType *) e)->arg;
	return e && IsA(e, Var) && ((Var *) e)->varno == baserel->relid &&
		((Var *) e)->varlevelsup == 0 &&
		((Var *) e)->varattno == info->table->id_attno;
}

/*
 * If a join clause is "id = expression of other relations", return that
 * expression (the value of a parameterised fetch), else NULL.
 */
static Expr *
IdJoinValue(RestrictInfo *ri, RelOptInfo *baserel, FdwRelInfo *info)
{
	OpExpr	   *op;
	Expr	   *l,
			   *r;
	char	   *opname;

	if (info->table->id_attno == 0 || !IsA(ri->clause, OpExpr))
		return NULL;
	op = (OpExpr *) ri->clause;
	if (list_length(op->args) != 2 || op->opno >= FirstGenbkiObjectId)
		return NULL;
	opname = get_opname(op->opno);
	if (opname == NULL || strcmp(opname, "=") != 0)
		return NULL;
	l = linitial(op->args);
	r = lsecond(op->args);
	if (!IsIdVar(l, baserel, info))
	{
		Expr	   *t = l;

		l = r;
		r = t;
	}
	if (!IsIdVar(l, baserel, info))
		return NULL;
	if (bms_overlap(pull_varnos(NULL, (Node *) r), baserel->relids) ||
		contain_volatile_functions((Node *) r))
		return NULL;
	if (exprType((Node *) r) != info->table->cols[info->table->id_attno - 1].type)
		return NULL;
	return r;
}

/* Callback of generate_implied_equalities_for_column: our id column */
static bool
IdMemberMatches(PlannerInfo *root, RelOptInfo *rel, EquivalenceClass *ec,
				EquivalenceMember *em, void *arg)
{
	return IsIdVar(em->em_expr, rel, (FdwRelInfo *) arg);
}

/*
 * Add a parameterised fetch path for each join clause id = outer value,
 * from the relation's join clauses and those its equivalence classes imply
 * (an inner join's ON d.id = p.id lives in an equivalence class).
 */
static void
AddJoinFetchPaths(PlannerInfo *root, RelOptInfo *baserel, FdwRelInfo *info)
{
	List	   *clauses;
	ListCell   *lc;

	if (info->table->id_attno == 0)
		return;
	clauses = list_copy(baserel->joininfo);
	clauses = list_concat(clauses,
						  generate_implied_equalities_for_column(root, baserel,
																 IdMemberMatches, info,
																 baserel->lateral_referencers));
	foreach(lc, clauses)
	{
		RestrictInfo *ri = lfirst(lc);
		Expr	   *value = IdJoinValue(ri, baserel, info);
		Relids		outer;
		ParamPathInfo *ppi;
		ForeignPath *path;

		if (value == NULL)
			continue;
		outer = bms_difference(ri->clause_relids, baserel->relids);
		if (bms_is_empty(outer) || bms_overlap(outer, baserel->lateral_referencers))
			continue;
		ppi = get_baserel_parampathinfo(root, baserel, outer);
		path = create_foreignscan_path(root, baserel, NULL, 1,
									   FDW_REQUEST_COST,
									   FDW_REQUEST_COST + FDW_ROW_COST,
									   NIL, outer, NULL,
									   list_make3(makeInteger(FDW_SCAN_FETCH), ri, value));
		(void) ppi;
		add_path(baserel, (Path *) path);
	}
}

/*
 * GetForeignPaths: a fetch path when there is an id condition, a
 * parameterised fetch for a join on id, and a full-scan path (refused at
 * plan time unless allowed) when nothing better exists.
 */
static void
FdwGetForeignPaths(PlannerInfo *root, RelOptInfo *baserel, Oid foreigntableid)
{
	FdwRelInfo *info = baserel->fdw_private;

	if (info->id_rinfo)
		add_path(baserel, (Path *)
				 create_foreignscan_path(root, baserel, NULL, baserel->rows,
										 FDW_REQUEST_COST,
										 FDW_REQUEST_COST + baserel->rows * FDW_ROW_COST,
										 NIL, NULL, NULL,
										 list_make1(makeInteger(FDW_SCAN_FETCH))));
	else
		add_path(baserel, (Path *)
				 create_foreignscan_path(root, baserel, NULL, baserel->rows,
										 FDW_REQUEST_COST,
										 FDW_FULL_SCAN_COST,
										 NIL, NULL, NULL,
										 list_make1(makeInteger(FDW_SCAN_FULL))));

	if (!info->id_rinfo)
		AddJoinFetchPaths(root, baserel, info);
}

/*
 * Is this expression known when the scan starts: a constant, or a parameter
 * ($n, an initplan's result such as (SELECT embedding ...), or an outer
 * query's value, which ReScan picks up)?
 */
static bool
IsPlanValue(Expr *e)
{
	return FdwIsScanValue(e);
}

/*
 * Does the single ORDER BY key order by the remote metric's operator
 * between our vector column and a value?  Fills the upper info if so.
 */
static bool
SortIsPushable(PlannerInfo *root, RelOptInfo *baserel, FdwRelInfo *info,
			   FdwUpperInfo *ui)
{
	PathKey    *pk;
	ListCell   *lc;
	RemoteMetric want;

	if (list_length(root->sort_pathkeys) != 1 || info->table->vector_attno == 0)
		return false;
	pk = linitial(root->sort_pathkeys);
	if (pk->pk_strategy != BTLessStrategyNumber || pk->pk_nulls_first)
		return false;

	foreach(lc, pk->pk_eclass->ec_members)
	{
		EquivalenceMember *em = lfirst(lc);
		OpExpr	   *op;
		Expr	   *a,
				   *b;
		RemoteMetric metric;

		if (!IsA(em->em_expr, OpExpr))
			continue;
		op = (OpExpr *) em->em_expr;
		if (list_length(op->args) != 2)
			continue;
		metric = FdwOperatorMetric(op->opno);
		if (metric == REMOTE_METRIC_UNKNOWN)
			continue;
		a = linitial(op->args);
		b = lsecond(op->args);
		if (!(IsA(a, Var) && ((Var *) a)->varno == baserel->relid))
		{
			Expr	   *t = a;

			a = b;
			b = t;
		}
		if (!(IsA(a, Var) && ((Var *) a)->varno == baserel->relid &&
			  ((Var *) a)->varlevelsup == 0 &&
			  ((Var *) a)->varattno == info->table->vector_attno))
			continue;
		if (!IsPlanValue(b))
			continue;

		/* the operator must be the one the remote index orders by */
		want = info->target->metric;
		if (want == REMOTE_METRIC_UNKNOWN)
			want = RemoteDescribe(info->target)->metric;
		if (metric != want)
			continue;
		ui->baserel = baserel;
		ui->sort_expr = em->em_expr;
		ui->query_vector = b;
		ui->metric = metric;
		return true;
	}
	return false;
}

/* Is a LIMIT/OFFSET expression usable: absent, a constant or a parameter? */
static bool
LimitIsPushable(Node *expr)
{
	return expr == NULL || IsPlanValue((Expr *) expr);
}

/*
 * LIMIT without ORDER BY over a scan whose conditions all run remotely:
 * add a FINAL path that reads LIMIT + OFFSET rows and stops
 * (FDW_SCAN_LIMITED).  Without allow_full_scan it is offered only while the
 * rows asked for stay within FDW_MAX_BOUNDED_SCAN_ROWS (a LIMIT given as a
 * parameter is checked when the scan starts).
 */
static void
AddLimitedScanPath(PlannerInfo *root, RelOptInfo *input_rel,
				   RelOptInfo *output_rel, FinalPathExtraData *fextra)
{
	Query	   *parse = root->parse;
	FdwRelInfo *info = input_rel->fdw_private;
	FdwUpperInfo *ui;
	ForeignPath *path;
	double		rows;

	if (info == NULL || output_rel->fdw_private != NULL)
		return;
	if (!fextra->limit_needed || parse->limitCount == NULL ||
		parse->limitOption == LIMIT_OPTION_WITH_TIES || parse->rowMarks != NIL ||
		parse->commandType != CMD_SELECT || parse->hasTargetSRFs ||
		parse->hasAggs || parse->groupClause != NIL || parse->groupingSets != NIL ||
		parse->hasWindowFuncs || parse->distinctClause != NIL ||
		root->hasHavingQual || root->sort_pathkeys != NIL ||
		!LimitIsPushable(parse->limitCount) || !LimitIsPushable(parse->limitOffset))
		return;
	if (info->id_rinfo != NULL || info->local_conds != NIL)
		return;
	if (!info->target->allow_full_scan && fextra->count_est > 0 &&
		fextra->offset_est >= 0 &&
		fextra->count_est + fextra->offset_est > FDW_MAX_BOUNDED_SCAN_ROWS)
		return;

	ui = palloc0(sizeof(FdwUpperInfo));
	ui->baserel = input_rel;
	ui->metric = info->target->metric;
	output_rel->fdw_private = ui;
	rows = fextra->count_est > 0 ? (double) fextra->count_est : 10.0;
	if (info->target->allow_full_scan)
		rows = Min(rows, input_rel->rows);
	path = create_foreign_upper_path(root, output_rel,
									 root->upper_targets[UPPERREL_FINAL],
									 rows, FDW_REQUEST_COST,
									 FDW_REQUEST_COST + rows * FDW_ROW_COST,
									 NIL, NULL,
									 list_make1(makeInteger(FDW_SCAN_LIMITED)));
	add_path(output_rel, (Path *) path);
}

/*
 * GetForeignUpperPaths: take over ORDER BY <vector op> value LIMIT k (see
 * the header comment for the conditions), and a LIMIT without ORDER BY.
 */
static void
FdwGetForeignUpperPaths(PlannerInfo *root, UpperRelationKind stage,
						RelOptInfo *input_rel, RelOptInfo *output_rel,
						void *extra)
{
	Query	   *parse = root->parse;

	if (stage == UPPERREL_ORDERED)
	{
		FdwRelInfo *info;
		FdwUpperInfo *ui;

		if (input_rel->reloptkind != RELOPT_BASEREL || input_rel->fdw_private == NULL ||
			output_rel->fdw_private != NULL)
			return;
		info = input_rel->fdw_private;
		if (info->id_rinfo != NULL || info->local_conds != NIL ||
			parse->hasTargetSRFs || parse->rowMarks != NIL ||
			parse->commandType != CMD_SELECT)
			return;
		ui = palloc0(sizeof(FdwUpperInfo));
		if (!SortIsPushable(root, input_rel, info, ui))
			return;
		output_rel->fdw_private = ui;
		return;
	}

	if (stage == UPPERREL_FINAL)
	{
		FinalPathExtraData *fextra = extra;
		FdwUpperInfo *ui;
		ForeignPath *path;
		double		rows;

		if (input_rel->reloptkind == RELOPT_BASEREL)
		{
			AddLimitedScanPath(root, input_rel, output_rel, fextra);
			return;
		}
		if (input_rel->reloptkind != RELOPT_UPPER_REL || input_rel->fdw_private == NULL ||
			output_rel->fdw_private != NULL)
			return;
		if (!fextra->limit_needed || parse->limitCount == NULL ||
			parse->limitOption == LIMIT_OPTION_WITH_TIES || parse->rowMarks != NIL ||
			!LimitIsPushable(parse->limitCount) || !LimitIsPushable(parse->limitOffset))
			return;
		ui = input_rel->fdw_private;
		output_rel->fdw_private = ui;
		rows = fextra->count_est > 0 ? (double) fextra->count_est : 10.0;
		path = create_foreign_upper_path(root, output_rel,
										 root->upper_targets[UPPERREL_FINAL],
										 rows, FDW_REQUEST_COST,
										 FDW_REQUEST_COST + rows * FDW_ROW_COST,
										 root->sort_pathkeys, NULL,
										 list_make1(makeInteger(FDW_SCAN_TOPK)));
		add_path(output_rel, (Path *) path);
	}
}

/* Add the attribute numbers of the Vars of one relation in a node */
static void
CollectAttrs(Node *node, Index relid, Bitmapset **attrs)
{
	pull_varattnos(node, relid, attrs);
}

/* Turn a bitmapset of attnos (offset by FirstLowInvalid...) into a List */
static List *
AttrList(Bitmapset *attrs)
{
	List	   *result = NIL;
	int			i = -1;

	while ((i = bms_next_member(attrs, i)) >= 0)
	{
		AttrNumber	attno = i + FirstLowInvalidHeapAttributeNumber;

		if (attno > 0)
			result = lappend(result, makeInteger(attno));
		else if (attno == 0)
			ereport(ERROR,
					(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
					 errmsg("whole-row references to a vectorpg foreign table are not supported")));
	}
	return result;
}

/*
 * The Vars a target list needs, except inside entries that are the ORDER BY
 * expression itself: that value comes from the remote distance, so the
 * vectors need not be fetched for it.
 */
static List *
TargetVars(List *tlist, Expr *sort_expr)
{
	List	   *vars = NIL;
	ListCell   *lc;

	foreach(lc, tlist)
	{
		TargetEntry *tle = lfirst(lc);

		if (equal(tle->expr, sort_expr))
			continue;
		vars = list_concat(vars, pull_var_clause((Node *) tle->expr,
												 PVC_RECURSE_PLACEHOLDERS |
												 PVC_RECURSE_AGGREGATES |
												 PVC_RECURSE_WINDOWFUNCS));
	}
	return vars;
}

/*
 * Does the query's ORDER BY name the score or distance column of the
 * relation?  Outside a search those are NULL, which the refusal explains.
 */
static bool
SortsByScoreColumn(PlannerInfo *root, RelOptInfo *baserel, FdwRelInfo *info)
{
	ListCell   *lc;

	foreach(lc, root->query_pathkeys)
	{
		PathKey    *pk = lfirst(lc);
		ListCell   *lm;

		foreach(lm, pk->pk_eclass->ec_members)
		{
			Expr	   *e = ((EquivalenceMember *) lfirst(lm))->em_expr;
			Var		   *v;

			while (e && IsA(e, RelabelType))
				e = ((RelabelType *) e)->arg;
			if (!e || !IsA(e, Var))
				continue;
			v = (Var *) e;
			if (v->varno == baserel->relid && v->varlevelsup == 0 &&
				v->varattno > 0 && v->varattno <= info->table->ncols &&
				(info->table->cols[v->varattno - 1].kind == FDW_COL_DISTANCE ||
				 info->table->cols[v->varattno - 1].kind == FDW_COL_SCORE))
				return true;
		}
	}
	return false;
}

/* The standard refusal of a plan that would pull a whole remote index */
static void
RefuseFullScan(PlannerInfo *root, RelOptInfo *baserel, FdwRelInfo *info)
{
	const char *vcol = info->table->vector_attno ?
		quote_identifier(info->table->cols[info->table->vector_attno - 1].attname) :
		"<vector column>";

	if (SortsByScoreColumn(root, baserel, info))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION),
				 errmsg("query on foreign table \"%s\" would read the whole remote index",
						info->table->relname),
				 errdetail("ORDER BY on the score or distance column is no search: the query vector is given only by ORDER BY %s <operator> value, and outside a search these columns are NULL.",
						   vcol),
				 errhint("Write ORDER BY %s <operator> value LIMIT n; the distance column then holds that value.",
						 vcol)));
	ereport(ERROR,
			(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION),
			 errmsg("query on foreign table \"%s\" would read the whole remote index",
					info->table->relname),
			 errdetail("Only a remote search (ORDER BY a distance to a value with LIMIT), a fetch (id = value or id IN (...)) or a LIMIT of at most %d rows without ORDER BY reads part of the index, and only when every condition runs remotely.",
					   FDW_MAX_BOUNDED_SCAN_ROWS),
			 errhint("Add ORDER BY %s <operator> value LIMIT n or an id condition, or set the table option allow_full_scan to true.",
					 vcol)));
}

/*
 * GetForeignPlan: fix the scan shape and its values into the plan.  The
 * FINAL upper path becomes a scan with its own target list (scan_relid 0);
 * base paths scan the relation's own row type.
 */
static ForeignScan *
FdwGetForeignPlan(PlannerInfo *root, RelOptInfo *foreignrel, Oid foreigntableid,
				  ForeignPath *best_path, List *tlist, List *scan_clauses,
				  Plan *outer_plan)
{
	FdwScanKind kind = intVal(linitial(best_path->fdw_private));
	RelOptInfo *baserel;
	FdwRelInfo *info;
	FdwUpperInfo *ui = NULL;
	List	   *fdw_exprs = NIL;
	List	   *fdw_scan_tlist = NIL;
	List	   *local_exprs = NIL;
	List	   *remote_conds = NIL;
	List	   *scan_map = NIL;
	List	   *filter_values = NIL;
	Bitmapset  *attrs = NULL;
	int			pos[POS_COUNT];
	Index		scan_relid;
	RestrictInfo *join_ri = NULL;
	ListCell   *lc;
	List	   *priv;

	for (int i = 0; i < POS_COUNT; i++)
		pos[i] = -1;

	if (foreignrel->reloptkind == RELOPT_UPPER_REL)
	{
		ui = foreignrel->fdw_private;
		baserel = ui->baserel;
		info = baserel->fdw_private;
		scan_relid = 0;
	}
	else
	{
		baserel = foreignrel;
		info = baserel->fdw_private;
		scan_relid = baserel->relid;
	}

	if (kind == FDW_SCAN_FETCH && list_length(best_path->fdw_private) > 1)
		join_ri = lsecond(best_path->fdw_private);

	if (kind == FDW_SCAN_TOPK || kind == FDW_SCAN_LIMITED)
	{
		/* every clause is pushed: the upper path was offered only then */
		remote_conds = BareClauses(info->remote_conds);
		if (kind == FDW_SCAN_TOPK)
		{
			pos[POS_VECTOR] = list_length(fdw_exprs);
			fdw_exprs = lappend(fdw_exprs, ui->query_vector);
		}
		pos[POS_LIMIT] = list_length(fdw_exprs);
		fdw_exprs = lappend(fdw_exprs, root->parse->limitCount);
		if (root->parse->limitOffset)
		{
			pos[POS_OFFSET] = list_length(fdw_exprs);
			fdw_exprs = lappend(fdw_exprs, root->parse->limitOffset);
		}

		/* scan tuple: the ORDER BY value, then the Vars the target needs */
		if (kind == FDW_SCAN_TOPK)
		{
			fdw_scan_tlist = lappend(fdw_scan_tlist,
									 makeTargetEntry(copyObject(ui->sort_expr), 1, NULL, false));
			scan_map = lappend(scan_map, makeInteger(0));
		}
		foreach(lc, TargetVars(tlist, ui->sort_expr))
		{
			Var		   *var = lfirst(lc);

			if (tlist_member((Expr *) var, fdw_scan_tlist))
				continue;
			if (var->varno != baserel->relid || var->varattno <= 0)
				ereport(ERROR,
						(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
						 errmsg("whole-row references to a vectorpg foreign table are not supported")));
			fdw_scan_tlist = lappend(fdw_scan_tlist,
									 makeTargetEntry((Expr *) copyObject(var),
													 list_length(fdw_scan_tlist) + 1,
													 NULL, false));
			scan_map = lappend(scan_map, makeInteger(var->varattno));
			attrs = bms_add_member(attrs, var->varattno - FirstLowInvalidHeapAttributeNumber);
		}
	}
	else
	{
		bool		allowed = info->target->allow_full_scan;

		if (kind == FDW_SCAN_FULL && !allowed)
			RefuseFullScan(root, baserel, info);

		foreach(lc, scan_clauses)
		{
			RestrictInfo *ri = lfirst(lc);

			if (kind == FDW_SCAN_FETCH && (ri == info->id_rinfo || ri == join_ri))
				continue;
			/* full scans filter remotely (Milvus query, Pinecone fetch_by_metadata) */
			if (kind == FDW_SCAN_FULL && list_member_ptr(info->remote_conds, ri))
			{
				remote_conds = lappend(remote_conds, ri->clause);
				continue;
			}
			local_exprs = lappend(local_exprs, ri->clause);
		}
		if (kind == FDW_SCAN_FETCH)
		{
			pos[POS_ID] = list_length(fdw_exprs);
			if (join_ri)
				fdw_exprs = lappend(fdw_exprs, lthird(best_path->fdw_private));
			else
				fdw_exprs = lappend(fdw_exprs, info->id_value);
		}
		CollectAttrs((Node *) baserel->reltarget->exprs, baserel->relid, &attrs);
		CollectAttrs((Node *) local_exprs, baserel->relid, &attrs);
	}

	FdwCollectFilterValues(remote_conds, &filter_values);
	if (filter_values != NIL)
	{
		pos[POS_FILTER] = list_length(fdw_exprs);
		fdw_exprs = list_concat(fdw_exprs, filter_values);
	}

	priv = NIL;
	priv = lappend(priv, makeInteger(kind));
	priv = lappend(priv, makeInteger((int) info->table->relid));
	priv = lappend(priv, makeInteger(baserel->relid));
	priv = lappend(priv, remote_conds);
	/* UPDATE and DELETE ... RETURNING scan whole rows (fdw_modify.c) */
	attrs = FdwExpandWholeRow(attrs, info->table);
	priv = lappend(priv, AttrList(attrs));
	priv = lappend(priv, scan_map);
	priv = lappend(priv, makeInteger(ui ? ui->metric : info->target->metric));
	{
		List	   *p = NIL;

		for (int i = 0; i < POS_COUNT; i++)
			p = lappend(p, makeInteger(pos[i]));
		priv = lappend(priv, p);
	}
	priv = lappend(priv, makeInteger(info->id_is_array && !join_ri ? 1 : 0));

	return make_foreignscan(tlist, local_exprs, scan_relid, fdw_exprs, priv,
							fdw_scan_tlist, NIL, outer_plan);
}

/* ---- Executor ---- */

/* Error context: which column of which table a remote value was meant for */
static void
ConversionErrorCallback(void *arg)
{
	FdwScanState *st = arg;

	if (st->cur_attno > 0 && st->cur_attno <= st->table->ncols)
		errcontext("column \"%s\" of foreign table \"%s\"",
				   st->table->cols[st->cur_attno - 1].attname, st->table->relname);
}

/*
 * BeginForeignScan: read the plan, resolve the target, prepare the value
 * expressions; the request itself waits for the first row.
 */
static void
FdwBeginForeignScan(ForeignScanState *node, int eflags)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	EState	   *estate = node->ss.ps.state;
	FdwScanState *st = palloc0(sizeof(FdwScanState));
	List	   *priv = plan->fdw_private;
	List	   *posl;
	Oid			relid;
	Oid			userid;
	RangeTblEntry *rte;
	int			rtindex;
	ListCell   *lc;
	int			i;
	List	   *attrs;

	node->fdw_state = st;
	st->kind = intVal(list_nth(priv, FDW_PRIV_KIND));
	relid = (Oid) intVal(list_nth(priv, FDW_PRIV_RELID));
	st->plan_rtindex = intVal(list_nth(priv, FDW_PRIV_RTINDEX));
	st->remote_conds = list_nth(priv, FDW_PRIV_REMOTE_CONDS);
	attrs = list_nth(priv, FDW_PRIV_ATTRS);
	st->metric = intVal(list_nth(priv, FDW_PRIV_METRIC));
	posl = list_nth(priv, FDW_PRIV_EXPR_POS);
	st->id_is_array = intVal(list_nth(priv, FDW_PRIV_ID_IS_ARRAY)) != 0;

	rtindex = plan->scan.scanrelid > 0 ? plan->scan.scanrelid :
		bms_next_member(plan->fs_relids, -1);
	rte = exec_rt_fetch(rtindex, estate);
	userid = OidIsValid(rte->checkAsUser) ? rte->checkAsUser : GetUserId();

	st->table = FdwGetTable(relid);
	st->target = RemoteTargetFromTable(relid, userid);
	if (st->metric == REMOTE_METRIC_UNKNOWN)
		st->metric = st->target->metric;

	/* which columns to fill, and what the request must include */
	st->fill = palloc0(sizeof(bool) * (st->table->ncols + 1));
	foreach(lc, attrs)
		st->fill[intVal(lfirst(lc))] = true;
	st->upper = plan->scan.scanrelid == 0;
	if (st->upper)
	{
		List	   *map = list_nth(priv, FDW_PRIV_SCAN_MAP);

		st->nmap = list_length(map);
		st->map = palloc(sizeof(int) * Max(st->nmap, 1));
		i = 0;
		foreach(lc, map)
			st->map[i++] = intVal(lfirst(lc));
	}
	for (i = 1; i <= st->table->ncols; i++)
	{
		FdwColumn  *c = &st->table->cols[i - 1];

		if (!st->fill[i])
			continue;
		if (c->kind == FDW_COL_VECTOR || c->kind == FDW_COL_SPARSE)
			st->include_values = true;
		else if (c->kind == FDW_COL_METADATA)
			st->include_metadata = true;
		else if (c->kind == FDW_COL_FIELD)
		{
			st->include_metadata = true;
			st->output_fields = lappend(st->output_fields, c->remote_name);
		}
	}
	/* only Pinecone has no per-field choice; Milvus lists the fields */
	if (st->target->provider == REMOTE_MILVUS)
	{
		bool		all = false;

		for (i = 1; i <= st->table->ncols; i++)
			if (st->fill[i] && st->table->cols[i - 1].kind == FDW_COL_METADATA)
				all = true;
		if (!all)
			st->include_metadata = false;
	}

	st->in_funcs = palloc0(sizeof(FmgrInfo) * (st->table->ncols + 1));
	st->in_params = palloc0(sizeof(Oid) * (st->table->ncols + 1));
	for (i = 1; i <= st->table->ncols; i++)
	{
		Oid			infunc;

		if (!st->fill[i])
			continue;
		getTypeInputInfo(st->table->cols[i - 1].type, &infunc, &st->in_params[i]);
		fmgr_info(infunc, &st->in_funcs[i]);
	}

	/* the value expressions */
	i = 0;
	foreach(lc, posl)
	{
		int			p = intVal(lfirst(lc));

		if (i < POS_FILTER && p >= 0)
			st->states[i] = ExecInitExpr(list_nth(plan->fdw_exprs, p), (PlanState *) node);
		if (i == POS_FILTER && p >= 0)
		{
			for (int j = p; j < list_length(plan->fdw_exprs); j++)
			{
				st->filter_exprs = lappend(st->filter_exprs, list_nth(plan->fdw_exprs, j));
				st->filter_states = lappend(st->filter_states,
											ExecInitExpr(list_nth(plan->fdw_exprs, j),
														 (PlanState *) node));
			}
		}
		i++;
	}

	st->run_cxt = AllocSetContextCreate(estate->es_query_cxt, "vectorpg_fdw scan",
										ALLOCSET_DEFAULT_SIZES);
	st->page_cxt = AllocSetContextCreate(st->run_cxt, "vectorpg_fdw page",
										 ALLOCSET_DEFAULT_SIZES);
	st->tuple_cxt = AllocSetContextCreate(estate->es_query_cxt, "vectorpg_fdw tuple",
										  ALLOCSET_SMALL_SIZES);
}

/* Evaluate one value expression in the run context */
static Datum
EvalValue(FdwScanState *st, ExprState *state, ExprContext *econtext, bool *isnull)
{
	MemoryContext old = MemoryContextSwitchTo(st->run_cxt);
	Datum		d = ExecEvalExpr(state, econtext, isnull);

	MemoryContextSwitchTo(old);
	return d;
}

/* Evaluate LIMIT or OFFSET as PostgreSQL does (NULL LIMIT = no limit) */
static int64
EvalCount(FdwScanState *st, ExprState *state, ExprContext *econtext,
		  bool is_limit)
{
	bool		isnull;
	Datum		d;
	int64		v;

	if (state == NULL)
		return is_limit ? -1 : 0;
	d = EvalValue(st, state, econtext, &isnull);
	if (isnull)
	{
		/* LIMIT NULL is no limit, which a bounded scan may check itself */
		if (is_limit && st->kind == FDW_SCAN_LIMITED)
			return -1;
		if (is_limit)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_ATTRIBUTE_VALUE),
					 errmsg("LIMIT of a remote vector search must not be null")));
		return 0;
	}
	v = DatumGetInt64(d);
	if (v < 0)
		ereport(ERROR,
				(errcode(is_limit ? ERRCODE_INVALID_ROW_COUNT_IN_LIMIT_CLAUSE :
						 ERRCODE_INVALID_ROW_COUNT_IN_RESULT_OFFSET_CLAUSE),
				 errmsg(is_limit ? "LIMIT must not be negative" : "OFFSET must not be negative")));
	return v;
}

/* The text form of an id value (text or bigint) */
static char *
IdText(Datum d, Oid type)
{
	Oid			outfunc;
	bool		isvarlena;

	getTypeOutputInfo(type, &outfunc, &isvarlena);
	return OidOutputFunctionCall(outfunc, d);
}

/* Compare C strings for qsort */
static int
CompareStrings(const void *a, const void *b)
{
	return strcmp(*(char *const *) a, *(char *const *) b);
}

/* Run the fetch: evaluate the ids (deduplicated) and ask for them */
static void
StartFetch(FdwScanState *st, ExprContext *econtext)
{
	bool		isnull;
	Datum		d = EvalValue(st, st->states[POS_ID], econtext, &isnull);
	Oid			idtype = st->table->cols[st->table->id_attno - 1].type;
	char	  **ids;
	int			nids = 0;
	MemoryContext old;

	if (isnull)
	{
		st->done = true;
		return;
	}
	old = MemoryContextSwitchTo(st->page_cxt);
	if (st->id_is_array)
	{
		ArrayType  *arr = DatumGetArrayTypeP(d);
		Oid			elemtype = ARR_ELEMTYPE(arr);
		int16		typlen;
		bool		typbyval;
		char		typalign;
		Datum	   *elems;
		bool	   *nulls;
		int			n;
		int			keep = 0;

		get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
		deconstruct_array(arr, elemtype, typlen, typbyval, typalign, &elems, &nulls, &n);
		ids = palloc(sizeof(char *) * Max(n, 1));
		for (int i = 0; i < n; i++)
			if (!nulls[i])
				ids[nids++] = IdText(elems[i], elemtype);
		/* IN lists repeat ids; the remote must see each once */
		qsort(ids, nids, sizeof(char *), CompareStrings);
		for (int i = 0; i < nids; i++)
			if (keep == 0 || strcmp(ids[keep - 1], ids[i]) != 0)
				ids[keep++] = ids[i];
		nids = keep;
	}
	else
	{
		ids = palloc(sizeof(char *));
		ids[nids++] = IdText(d, idtype);
	}
	if (nids > 0)
		st->page = RemoteFetch(st->target, ids, nids, st->include_values,
							   st->include_metadata || st->output_fields != NIL);
	/* the transaction's own buffered writes win (fdw_xact.c) */
	st->page = FdwXactOverlayFetch(st->table->relid, st->target->userid, ids, nids, st->page);
	MemoryContextSwitchTo(old);
	st->done = true;			/* one page only */
}

/* Evaluate the filter values and deparse the filter */
static void
BuildFilter(FdwScanState *st, ExprContext *econtext)
{
	int			n = list_length(st->filter_states);
	Datum	   *values = palloc(sizeof(Datum) * Max(n, 1));
	bool	   *nulls = palloc(sizeof(bool) * Max(n, 1));
	ListCell   *lc;
	int			i = 0;
	MemoryContext old;

	foreach(lc, st->filter_states)
	{
		values[i] = EvalValue(st, lfirst(lc), econtext, &nulls[i]);
		i++;
	}
	old = MemoryContextSwitchTo(st->run_cxt);
	st->filter_json = FdwDeparseFilter(st->remote_conds, st->plan_rtindex, st->table,
									   st->filter_exprs, values, nulls);
	MemoryContextSwitchTo(old);
}

/* Run the top-k search */
static void
StartTopK(FdwScanState *st, ExprContext *econtext)
{
	bool		isnull;
	Datum		d = EvalValue(st, st->states[POS_VECTOR], econtext, &isnull);
	int64		limit = EvalCount(st, st->states[POS_LIMIT], econtext, true);
	int64		offset = EvalCount(st, st->states[POS_OFFSET], econtext, false);
	RemoteSearch search;
	Vector	   *vec;
	MemoryContext old;

	if (isnull)
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("the query vector of a remote search must not be null")));
	st->done = true;
	if (limit == 0)
		return;
	old = MemoryContextSwitchTo(st->run_cxt);
	vec = DatumGetVector(d);
	MemoryContextSwitchTo(old);

	memset(&search, 0, sizeof(search));
	search.vector = vec->x;
	search.dim = vec->dim;
	search.filter_json = st->filter_json;
	search.include_values = st->include_values;
	search.include_metadata = st->include_metadata;
	search.output_fields = st->output_fields;
	if (st->target->provider == REMOTE_MILVUS)
	{
		/* Milvus skips OFFSET itself */
		if (limit > REMOTE_MILVUS_MAX_WINDOW || offset > REMOTE_MILVUS_MAX_WINDOW)
			search.top_k = INT_MAX;
		else
		{
			search.top_k = (int) limit;
			search.offset = (int) offset;
		}
		st->skip = 0;
		st->remaining = limit;
	}
	else
	{
		/* Pinecone: topK = LIMIT + OFFSET, and we skip OFFSET rows */
		int64		k = limit + offset;

		search.top_k = k > INT_MAX ? INT_MAX : (int) k;
		st->skip = offset;
		st->remaining = limit;
	}

	old = MemoryContextSwitchTo(st->page_cxt);
	st->page = RemoteQuery(st->target, &search);
	MemoryContextSwitchTo(old);
}

/*
 * Start a scan bounded by LIMIT (no ORDER BY): evaluate LIMIT and OFFSET,
 * refuse more than FDW_MAX_BOUNDED_SCAN_ROWS rows unless the table allows
 * full scans; the pages then ask for no more rows than still needed.
 */
static void
StartLimited(FdwScanState *st, ExprContext *econtext)
{
	int64		limit = EvalCount(st, st->states[POS_LIMIT], econtext, true);
	int64		offset = EvalCount(st, st->states[POS_OFFSET], econtext, false);

	if (!st->target->allow_full_scan &&
		(limit < 0 || limit > FDW_MAX_BOUNDED_SCAN_ROWS ||
		 offset > FDW_MAX_BOUNDED_SCAN_ROWS - limit))
		ereport(ERROR,
				(errcode(ERRCODE_FDW_UNABLE_TO_CREATE_EXECUTION),
				 errmsg("query on foreign table \"%s\" would read more than %d rows of the remote index",
						st->table->relname, FDW_MAX_BOUNDED_SCAN_ROWS),
				 errdetail("A LIMIT without ORDER BY reads LIMIT plus OFFSET rows, here %s.",
						   limit < 0 ? "all of them" :
						   offset > PG_INT64_MAX - limit ? "more than can be counted" :
						   psprintf(INT64_FORMAT, limit + offset)),
				 errhint("Lower the LIMIT, or set the table option allow_full_scan to true.")));
	st->skip = offset;
	st->remaining = limit;
	if (limit == 0)
		st->done = true;
}

/* Fetch the next page of a full scan; false when there is none */
static bool
NextFullPage(FdwScanState *st)
{
	RemoteSearch search;
	MemoryContext old;
	char	   *token = NULL;

	if (st->started && st->next_token == NULL)
		return false;
	if (st->next_token)
		token = MemoryContextStrdup(st->run_cxt, st->next_token);
	MemoryContextReset(st->page_cxt);
	memset(&search, 0, sizeof(search));
	search.filter_json = st->filter_json;
	search.include_values = st->include_values;
	search.include_metadata = st->include_metadata || st->output_fields != NIL;
	if (st->target->provider == REMOTE_MILVUS)
		search.include_metadata = st->include_metadata;
	search.output_fields = st->output_fields;
	search.page_token = token;
	/* a bounded scan asks for the rows it still needs */
	if (st->kind == FDW_SCAN_LIMITED && st->remaining >= 0)
		search.top_k = (st->remaining >= INT_MAX || st->skip >= INT_MAX) ? INT_MAX :
			(int) Min(st->remaining + st->skip, (int64) INT_MAX);
	old = MemoryContextSwitchTo(st->page_cxt);
	st->page = RemoteScan(st->target, &search);
	MemoryContextSwitchTo(old);
	st->next_token = st->page->next_token;
	st->pos = 0;
	st->started = true;
	return true;
}

/* Convert text through a column's input function */
static Datum
InputValue(FdwScanState *st, int attno, char *text)
{
	FdwColumn  *c = &st->table->cols[attno - 1];

	return InputFunctionCall(&st->in_funcs[attno], text, st->in_params[attno], c->typmod);
}

/* The value of a metadata field column from the match's metadata */
static Datum
FieldValue(FdwScanState *st, int attno, cJSON *meta, bool *isnull)
{
	FdwColumn  *c = &st->table->cols[attno - 1];
	cJSON	   *item = meta ? cJSON_GetObjectItemCaseSensitive(meta, c->remote_name) : NULL;
	char	   *text;

	*isnull = false;
	if (item == NULL || cJSON_IsNull(item))
	{
		*isnull = true;
		return (Datum) 0;
	}
	if (c->type == JSONBOID || c->type == JSONOID ||
		cJSON_IsArray(item) || cJSON_IsObject(item))
	{
		text = RemoteJsonText(item);
	}
	else if (cJSON_IsString(item))
		text = item->valuestring;
	else if (cJSON_IsBool(item))
		text = cJSON_IsTrue(item) ? "true" : "false";
	else if (cJSON_IsNumber(item))
		text = RemoteJsonNumberText(item);
	else
	{
		*isnull = true;
		return (Datum) 0;
	}
	return InputValue(st, attno, text);
}

/* The value of one column for one match */
static Datum
ColumnValue(FdwScanState *st, int attno, RemoteMatch *m, cJSON *meta, bool *isnull)
{
	FdwColumn  *c = &st->table->cols[attno - 1];

	*isnull = false;
	st->cur_attno = attno;
	switch (c->kind)
	{
		case FDW_COL_ID:
			return InputValue(st, attno, m->id);
		case FDW_COL_VECTOR:
			{
				Vector	   *v;

				if (m->values == NULL)
				{
					*isnull = true;
					return (Datum) 0;
				}
				VectorCheckDim(m->dim);
				if (c->typmod > 0)
					VectorCheckExpectedDim(c->typmod, m->dim);
				v = InitVector(m->dim);
				for (int i = 0; i < m->dim; i++)
				{
					VectorCheckElement(m->values[i]);
					v->x[i] = m->values[i];
				}
				return PointerGetDatum(v);
			}
		case FDW_COL_SCORE:
		case FDW_COL_DISTANCE:
			{
				double		x = c->kind == FDW_COL_SCORE ? m->score : m->distance;

				if (st->kind != FDW_SCAN_TOPK)
				{
					*isnull = true;
					return (Datum) 0;
				}
				return c->type == FLOAT4OID ? Float4GetDatum((float4) x) : Float8GetDatum(x);
			}
		case FDW_COL_METADATA:
			return InputValue(st, attno, m->metadata_json ? m->metadata_json : "{}");
		case FDW_COL_SPARSE:
			if (m->sparse_json == NULL)
			{
				*isnull = true;
				return (Datum) 0;
			}
			return InputValue(st, attno, m->sparse_json);
		case FDW_COL_FIELD:
			return FieldValue(st, attno, meta, isnull);
		default:
			*isnull = true;
			return (Datum) 0;
	}
}

/* Memory context callback: free a parsed metadata document */
static void
FreeJsonDoc(void *arg)
{
	cJSON_Delete((cJSON *) arg);
}

/* Fill the slot from one match */
static void
FillSlot(FdwScanState *st, TupleTableSlot *slot, RemoteMatch *m)
{
	cJSON	   *meta = NULL;
	ErrorContextCallback errcb;
	int			natts = slot->tts_tupleDescriptor->natts;

	errcb.callback = ConversionErrorCallback;
	errcb.arg = st;
	errcb.previous = error_context_stack;
	error_context_stack = &errcb;

	if (m->metadata_json)
	{
		meta = cJSON_Parse(m->metadata_json);
		if (meta)
		{
			MemoryContextCallback *cb = palloc(sizeof(MemoryContextCallback));

			cb->func = FreeJsonDoc;
			cb->arg = meta;
			MemoryContextRegisterResetCallback(CurrentMemoryContext, cb);
		}
	}
	ExecClearTuple(slot);
	for (int i = 0; i < natts; i++)
	{
		slot->tts_isnull[i] = true;
		slot->tts_values[i] = (Datum) 0;
	}
	if (st->upper)
	{
		for (int i = 0; i < st->nmap && i < natts; i++)
		{
			if (st->map[i] == 0)
			{
				slot->tts_values[i] = Float8GetDatum(m->distance);
				slot->tts_isnull[i] = false;
			}
			else
				slot->tts_values[i] = ColumnValue(st, st->map[i], m, meta, &slot->tts_isnull[i]);
		}
	}
	else
	{
		for (int attno = 1; attno <= natts; attno++)
			if (st->fill[attno])
				slot->tts_values[attno - 1] = ColumnValue(st, attno, m, meta,
														  &slot->tts_isnull[attno - 1]);
	}
	st->cur_attno = 0;
	error_context_stack = errcb.previous;
	ExecStoreVirtualTuple(slot);
}

/*
 * IterateForeignScan: start the request on the first call, then hand out
 * the matches one by one (full scans page on).
 */
static TupleTableSlot *
FdwIterateForeignScan(ForeignScanState *node)
{
	FdwScanState *st = node->fdw_state;
	TupleTableSlot *slot = node->ss.ss_ScanTupleSlot;
	ExprContext *econtext = node->ss.ps.ps_ExprContext;
	MemoryContext old;

	if (!st->started && st->kind != FDW_SCAN_FULL && st->kind != FDW_SCAN_LIMITED)
	{
		st->started = true;
		st->remaining = -1;
		if (st->remote_conds)
			BuildFilter(st, econtext);
		if (st->kind == FDW_SCAN_FETCH)
			StartFetch(st, econtext);
		else
			StartTopK(st, econtext);
		st->pos = 0;
	}
	else if (!st->started)
	{
		st->remaining = -1;
		if (st->kind == FDW_SCAN_LIMITED)
			StartLimited(st, econtext);
		if (st->remote_conds)
			BuildFilter(st, econtext);
		if (st->done)
		{
			st->started = true;
			return ExecClearTuple(slot);
		}
		NextFullPage(st);
	}

	for (;;)
	{
		CHECK_FOR_INTERRUPTS();
		if (st->remaining == 0)
			return ExecClearTuple(slot);
		if (st->page == NULL || st->pos >= st->page->nmatches)
		{
			if ((st->kind != FDW_SCAN_FULL && st->kind != FDW_SCAN_LIMITED) ||
				!NextFullPage(st))
				return ExecClearTuple(slot);
			continue;
		}
		if (st->skip > 0)
		{
			st->skip--;
			st->pos++;
			continue;
		}
		MemoryContextReset(st->tuple_cxt);
		old = MemoryContextSwitchTo(st->tuple_cxt);
		FillSlot(st, slot, &st->page->matches[st->pos++]);
		MemoryContextSwitchTo(old);
		if (st->remaining > 0)
			st->remaining--;
		return slot;
	}
}

/* ReScan: parameters may have changed; start over on the next row */
static void
FdwReScanForeignScan(ForeignScanState *node)
{
	FdwScanState *st = node->fdw_state;

	MemoryContextReset(st->run_cxt);
	st->page_cxt = AllocSetContextCreate(st->run_cxt, "vectorpg_fdw page",
										 ALLOCSET_DEFAULT_SIZES);
	st->started = false;
	st->done = false;
	st->page = NULL;
	st->pos = 0;
	st->skip = 0;
	st->remaining = -1;
	st->next_token = NULL;
	st->filter_json = NULL;
}

/* EndForeignScan: the contexts go with the query; nothing else to free */
static void
FdwEndForeignScan(ForeignScanState *node)
{
	FdwScanState *st = node->fdw_state;

	if (st)
		MemoryContextDelete(st->run_cxt);
	node->fdw_state = NULL;
}

/* Print a value expression for EXPLAIN: a constant's value or $n */
static char *
ExplainValue(Expr *e)
{
	/* look through relabelling and implicit casts (LIMIT $1 is int8($1)) */
	for (;;)
	{
		if (e && IsA(e, RelabelType))
			e = ((RelabelType *) e)->arg;
		else if (e && IsA(e, FuncExpr) &&
				 ((FuncExpr *) e)->funcformat == COERCE_IMPLICIT_CAST &&
				 list_length(((FuncExpr *) e)->args) == 1)
			e = linitial(((FuncExpr *) e)->args);
		else
			break;
	}
	if (e && IsA(e, Const))
	{
		Const	   *c = (Const *) e;
		Oid			outfunc;
		bool		isvarlena;

		if (c->constisnull)
			return "NULL";
		getTypeOutputInfo(c->consttype, &outfunc, &isvarlena);
		return OidOutputFunctionCall(outfunc, c->constvalue);
	}
	if (e && IsA(e, Param))
		return psprintf("$%d", ((Param *) e)->paramid);
	return "(expression)";
}

/*
 * ExplainForeignScan: the remote request (endpoint, top-k, filter,
 * namespace or partition), never a header or a secret.
 */
static void
FdwExplainForeignScan(ForeignScanState *node, ExplainState *es)
{
	ForeignScan *plan = (ForeignScan *) node->ss.ps.plan;
	FdwScanState *st = node->fdw_state;
	List	   *posl = list_nth(plan->fdw_private, FDW_PRIV_EXPR_POS);
	bool		pinecone = st->target->provider == REMOTE_PINECONE;
	const char *endpoint;
	int			p;

	switch (st->kind)
	{
		case FDW_SCAN_TOPK:
			endpoint = pinecone ? "POST /query" : "POST /v2/vectordb/entities/search";
			break;
		case FDW_SCAN_FETCH:
			endpoint = pinecone ? "GET /vectors/fetch" : "POST /v2/vectordb/entities/get";
			break;
		default:
			if (!pinecone)
				endpoint = "POST /v2/vectordb/entities/query";
			else if (st->remote_conds)
				endpoint = "POST /vectors/fetch_by_metadata";
			else
				endpoint = "GET /vectors/list + GET /vectors/fetch";
			break;
	}
	ExplainPropertyText("Remote Request", endpoint, es);
	if (!es->verbose)
		return;

	ExplainPropertyText(pinecone ? "Remote Index" : "Remote Collection",
						st->target->index ? st->target->index : "", es);
	if (st->target->namespace_)
		ExplainPropertyText(pinecone ? "Remote Namespace" : "Remote Partition",
							st->target->namespace_, es);
	if (st->kind == FDW_SCAN_TOPK)
	{
		char	   *limit = ExplainValue(list_nth(plan->fdw_exprs, intVal(list_nth(posl, POS_LIMIT))));
		char	   *offset = NULL;

		p = intVal(list_nth(posl, POS_OFFSET));
		if (p >= 0)
			offset = ExplainValue(list_nth(plan->fdw_exprs, p));
		ExplainPropertyText("Remote Metric", RemoteMetricName(st->target->provider, st->metric), es);
		if (pinecone)
			ExplainPropertyText("Remote Top K",
								offset ? psprintf("%s + %s (offset skipped locally)", limit, offset) : limit,
								es);
		else
		{
			ExplainPropertyText("Remote Limit", limit, es);
			if (offset)
				ExplainPropertyText("Remote Offset", offset, es);
		}
	}
	if (st->kind == FDW_SCAN_LIMITED)
	{
		char	   *limit = ExplainValue(list_nth(plan->fdw_exprs, intVal(list_nth(posl, POS_LIMIT))));

		p = intVal(list_nth(posl, POS_OFFSET));
		ExplainPropertyText("Remote Limit",
							p >= 0 ? psprintf("%s + %s (offset skipped locally)", limit,
											  ExplainValue(list_nth(plan->fdw_exprs, p))) : limit,
							es);
	}
	if (st->kind == FDW_SCAN_FETCH)
	{
		p = intVal(list_nth(posl, POS_ID));
		ExplainPropertyText("Remote Ids", ExplainValue(list_nth(plan->fdw_exprs, p)), es);
	}
	if (st->remote_conds)
	{
		char	   *filter = FdwDeparseFilter(st->remote_conds, st->plan_rtindex, st->table,
											  st->filter_exprs, NULL, NULL);

		bool		has_params = false;
		ListCell   *lc;

		foreach(lc, st->filter_exprs)
			has_params |= !IsA(lfirst(lc), Const);
		/* with parameters the text is no JSON yet: show the Pinecone form */
		if (pinecone || has_params)
			ExplainPropertyText("Remote Filter", filter, es);
		else
			ExplainPropertyText("Remote Filter", RemoteFilterToMilvus(filter, NULL), es);
	}
	{
		StringInfoData fields;

		initStringInfo(&fields);
		appendStringInfoString(&fields, st->include_values ? "values" : "");
		if (st->include_metadata || st->output_fields)
			appendStringInfo(&fields, "%smetadata", fields.len ? ", " : "");
		if (fields.len)
			ExplainPropertyText("Remote Fields", fields.data, es);
	}
}

/*
 * Handler: the scan callbacks of this file, and the write callbacks of
 * fdw_modify.c (INSERT, UPDATE, DELETE, buffered until commit).
 */
Datum
vectorpg_fdw_handler(PG_FUNCTION_ARGS)
{
	FdwRoutine *routine = makeNode(FdwRoutine);

	routine->GetForeignRelSize = FdwGetForeignRelSize;
	routine->GetForeignPaths = FdwGetForeignPaths;
	routine->GetForeignPlan = FdwGetForeignPlan;
	routine->BeginForeignScan = FdwBeginForeignScan;
	routine->IterateForeignScan = FdwIterateForeignScan;
	routine->ReScanForeignScan = FdwReScanForeignScan;
	routine->EndForeignScan = FdwEndForeignScan;
	routine->GetForeignUpperPaths = FdwGetForeignUpperPaths;
	routine->ExplainForeignScan = FdwExplainForeignScan;
	routine->ImportForeignSchema = FdwImportForeignSchema;
	FdwModifyRegister(routine);
	PG_RETURN_POINTER(routine);
}
