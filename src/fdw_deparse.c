/*
 * fdw_deparse.c: which WHERE conditions of a vectorpg_fdw scan can run on
 * the remote side, and their translation into a filter.
 *
 * The filter is always written in Pinecone's metadata filter language
 * (a JSON object with $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $exists,
 * $and, $or); the Milvus client translates that into a Milvus boolean
 * expression (RemoteFilterToMilvus), so there is one deparser and one set of
 * rules about what is pushable.
 *
 * A condition is pushable when it compares a metadata column (a column of
 * kind FDW_COL_FIELD) with a constant or an external parameter through a
 * built-in operator whose meaning the remote shares:
 *
 *   strings  =  <>  IN  NOT IN (<> ALL)
 *   numbers  =  <>  <  <=  >  >=  IN  NOT IN
 *   booleans =  <>, a bare boolean column, NOT column
 *   any      IS NULL / IS NOT NULL (field absent / present)
 *   and AND / OR of pushable conditions.
 *
 * SQL's <> and NOT IN are never true for a NULL (absent) field, while the
 * remote's $ne / $nin may match records that lack the field, so those are
 * sent together with {"$exists": true}.  A NULL compared value makes the
 * condition false, which is sent as a filter that matches nothing.
 *
 * The values compared with are kept apart as a list of expressions, in the
 * order in which FdwDeparseFilter meets them: the executor evaluates them
 * (parameters are only known then) and hands the results back; at plan
 * time (EXPLAIN) constants are printed and parameters appear as $n.
 */
#include "postgres.h"

#include "access/transam.h"
#include "catalog/pg_type.h"
#include "fdw.h"
#include "nodes/nodeFuncs.h"
#include "optimizer/clauses.h"
#include "optimizer/optimizer.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/json.h"
#include "utils/lsyscache.h"

/* The kinds of value a metadata field and a compared value can have */
typedef enum FilterType
{
	FILTER_NONE,
	FILTER_STRING,
	FILTER_NUMBER,
	FILTER_BOOL
} FilterType;

/* State of one deparse run: where the next value comes from */
typedef struct DeparseState
{
	StringInfo	buf;
	FdwTable   *table;
	Index		relid;			/* range table index of the clauses' Vars */
	List	   *value_exprs;
	Datum	   *values;			/* NULL at plan time */
	bool	   *nulls;
	int			next;			/* index of the next value */
} DeparseState;

static void DeparseClause(DeparseState *st, Expr *clause);

/* Map a scalar type to the JSON kind it is sent as; arrays are not scalars */
static FilterType
TypeFilterType(Oid type)
{
	switch (type)
	{
		case TEXTOID:
		case VARCHAROID:
		case BPCHAROID:
		case NAMEOID:
			return FILTER_STRING;
		case INT2OID:
		case INT4OID:
		case INT8OID:
		case FLOAT4OID:
		case FLOAT8OID:
		case NUMERICOID:
			return FILTER_NUMBER;
		case BOOLOID:
			return FILTER_BOOL;
		default:
			return FILTER_NONE;
	}
}

/* Strip the binary-compatible casts the parser puts around varchar etc. */
static Expr *
StripRelabel(Expr *expr)
{
	while (expr && IsA(expr, RelabelType))
		expr = ((RelabelType *) expr)->arg;
	return expr;
}

/* The metadata column a Var of our relation stands for, or NULL */
static FdwColumn *
FieldColumn(Expr *expr, Index relid, FdwTable *table)
{
	Var		   *var;

	expr = StripRelabel(expr);
	if (!expr || !IsA(expr, Var))
		return NULL;
	var = (Var *) expr;
	if (var->varno != relid || var->varlevelsup != 0 ||
		var->varattno <= 0 || var->varattno > table->ncols)
		return NULL;
	if (table->cols[var->varattno - 1].kind != FDW_COL_FIELD)
		return NULL;
	return &table->cols[var->varattno - 1];
}

/*
 * Is this a value the executor can compute before the scan starts: a
 * constant or a parameter ($n, an initplan result, an outer query's
 * value), or a non-volatile expression of those?
 */
bool
FdwIsScanValue(Expr *expr)
{
	expr = StripRelabel(expr);
	if (!expr)
		return false;
	if (IsA(expr, Const) || IsA(expr, Param))
		return true;
	/* an expression of those, e.g. the int8 cast the parser adds to LIMIT $1 */
	return !contain_var_clause((Node *) expr) &&
		!contain_volatile_functions((Node *) expr) &&
		!contain_subplans((Node *) expr) &&
		!expression_returns_set((Node *) expr);
}

/*
 * Decompose "column op value" or "value op column" into its parts, with the
 * operator name as if the column were on the left.  NULL if not that shape.
 */
static FdwColumn *
SplitComparison(OpExpr *op, Index relid, FdwTable *table,
				const char **opname, Expr **value)
{
	Expr	   *left,
			   *right;
	FdwColumn  *col;
	char	   *name;

	if (list_length(op->args) != 2 || op->opno >= FirstGenbkiObjectId)
		return NULL;
	left = linitial(op->args);
	right = lsecond(op->args);
	name = get_opname(op->opno);
	if (name == NULL)
		return NULL;

	if ((col = FieldColumn(left, relid, table)) != NULL && FdwIsScanValue(right))
	{
		*value = right;
		*opname = name;
		return col;
	}
	if ((col = FieldColumn(right, relid, table)) != NULL && FdwIsScanValue(left))
	{
		*value = left;
		/* commute */
		if (strcmp(name, "<") == 0)
			*opname = ">";
		else if (strcmp(name, ">") == 0)
			*opname = "<";
		else if (strcmp(name, "<=") == 0)
			*opname = ">=";
		else if (strcmp(name, ">=") == 0)
			*opname = "<=";
		else
			*opname = name;
		return col;
	}
	return NULL;
}

/* Can this comparison operator be sent for this kind of value? */
static bool
OperatorAllowed(const char *opname, FilterType type)
{
	if (strcmp(opname, "=") == 0 || strcmp(opname, "<>") == 0)
		return type != FILTER_NONE;
	if (strcmp(opname, "<") == 0 || strcmp(opname, "<=") == 0 ||
		strcmp(opname, ">") == 0 || strcmp(opname, ">=") == 0)
		return type == FILTER_NUMBER;
	return false;
}

/*
 * Decide whether one WHERE clause (an element of baserestrictinfo, or a
 * part of one) can be sent as a remote filter.  Used by the planner to
 * split conditions into remote and local ones.
 */
bool
FdwIsFilterable(Expr *clause, Index relid, FdwTable *table)
{
	FdwColumn  *col;

	if (clause == NULL)
		return false;

	switch (nodeTag(clause))
	{
		case T_BoolExpr:
			{
				BoolExpr   *b = (BoolExpr *) clause;
				ListCell   *lc;

				if (b->boolop == NOT_EXPR)
				{
					col = FieldColumn(linitial(b->args), relid, table);
					return col != NULL && col->type == BOOLOID;
				}
				foreach(lc, b->args)
				{
					if (!FdwIsFilterable(lfirst(lc), relid, table))
						return false;
				}
				return true;
			}
		case T_Var:
		case T_RelabelType:
			col = FieldColumn(clause, relid, table);
			return col != NULL && col->type == BOOLOID;
		case T_OpExpr:
			{
				const char *opname;
				Expr	   *value;
				FilterType	ct,
							vt;

				col = SplitComparison((OpExpr *) clause, relid, table, &opname, &value);
				if (col == NULL)
					return false;
				ct = TypeFilterType(col->type);
				vt = TypeFilterType(exprType((Node *) StripRelabel(value)));
				return ct != FILTER_NONE && ct == vt && OperatorAllowed(opname, ct);
			}
		case T_ScalarArrayOpExpr:
			{
				ScalarArrayOpExpr *sa = (ScalarArrayOpExpr *) clause;
				Expr	   *arr;
				char	   *opname;
				FilterType	ct,
							vt;
				Oid			elemtype;

				if (list_length(sa->args) != 2 || sa->opno >= FirstGenbkiObjectId)
					return false;
				col = FieldColumn(linitial(sa->args), relid, table);
				arr = lsecond(sa->args);
				if (col == NULL || !FdwIsScanValue(arr))
					return false;
				opname = get_opname(sa->opno);
				if (opname == NULL)
					return false;
				if (!((sa->useOr && strcmp(opname, "=") == 0) ||
					  (!sa->useOr && strcmp(opname, "<>") == 0)))
					return false;
				elemtype = get_element_type(exprType((Node *) StripRelabel(arr)));
				ct = TypeFilterType(col->type);
				vt = TypeFilterType(elemtype);
				/* $in / $nin take strings or numbers only */
				return ct == vt && (ct == FILTER_STRING || ct == FILTER_NUMBER);
			}
		case T_NullTest:
			{
				NullTest   *nt = (NullTest *) clause;

				if (nt->argisrow)
					return false;
				return FieldColumn(nt->arg, relid, table) != NULL;
			}
		default:
			return false;
	}
}

/*
 * Find "id = value" or "id = ANY(array value)" where value is a constant or
 * an external parameter; returns the value expression, or NULL.
 */
Expr *
FdwIdCondition(Expr *clause, Index relid, FdwTable *table, bool *is_array)
{
	Expr	   *left,
			   *right;
	char	   *opname;
	List	   *args;
	Oid			opno;

	if (table->id_attno == 0)
		return NULL;
	if (IsA(clause, OpExpr))
	{
		args = ((OpExpr *) clause)->args;
		opno = ((OpExpr *) clause)->opno;
		*is_array = false;
	}
	else if (IsA(clause, ScalarArrayOpExpr) && ((ScalarArrayOpExpr *) clause)->useOr)
	{
		args = ((ScalarArrayOpExpr *) clause)->args;
		opno = ((ScalarArrayOpExpr *) clause)->opno;
		*is_array = true;
	}
	else
		return NULL;

	if (list_length(args) != 2 || opno >= FirstGenbkiObjectId)
		return NULL;
	opname = get_opname(opno);
	if (opname == NULL || strcmp(opname, "=") != 0)
		return NULL;
	left = StripRelabel(linitial(args));
	right = lsecond(args);
	if (!*is_array && !(IsA(left, Var)) && IsA(StripRelabel(right), Var))
	{
		Expr	   *t = left;

		left = StripRelabel(right);
		right = t;
	}
	if (!IsA(left, Var) || ((Var *) left)->varno != relid ||
		((Var *) left)->varlevelsup != 0 ||
		((Var *) left)->varattno != table->id_attno)
		return NULL;
	if (!FdwIsScanValue(right))
		return NULL;
	return right;
}

/* Append the value expressions of one clause, in deparse order */
static void
CollectValues(Expr *clause, List **values)
{
	switch (nodeTag(clause))
	{
		case T_BoolExpr:
			{
				ListCell   *lc;

				if (((BoolExpr *) clause)->boolop == NOT_EXPR)
					return;
				foreach(lc, ((BoolExpr *) clause)->args)
					CollectValues(lfirst(lc), values);
				return;
			}
		case T_OpExpr:
			{
				OpExpr	   *op = (OpExpr *) clause;

				if (FdwIsScanValue(lsecond(op->args)) && !FdwIsScanValue(linitial(op->args)))
					*values = lappend(*values, lsecond(op->args));
				else
					*values = lappend(*values, linitial(op->args));
				return;
			}
		case T_ScalarArrayOpExpr:
			*values = lappend(*values, lsecond(((ScalarArrayOpExpr *) clause)->args));
			return;
		default:
			return;
	}
}

/*
 * List the values (constants and parameters) of the pushable clauses in the
 * order FdwDeparseFilter consumes them, for the executor to evaluate.
 */
void
FdwCollectFilterValues(List *clauses, List **values)
{
	ListCell   *lc;

	foreach(lc, clauses)
		CollectValues(lfirst(lc), values);
}

/* Print one scalar value as JSON; the caller knows it is not NULL */
static void
AppendJsonScalar(StringInfo buf, Datum value, Oid type)
{
	FilterType	ft = TypeFilterType(type);
	Oid			outfunc;
	bool		isvarlena;
	char	   *text;

	if (ft == FILTER_BOOL)
	{
		appendStringInfoString(buf, DatumGetBool(value) ? "true" : "false");
		return;
	}
	getTypeOutputInfo(type, &outfunc, &isvarlena);
	text = OidOutputFunctionCall(outfunc, value);
	if (ft == FILTER_STRING)
		escape_json(buf, text);
	else
	{
		/* numbers: reject what JSON cannot carry */
		if (strcmp(text, "NaN") == 0 || strstr(text, "Infinity") != NULL)
			ereport(ERROR,
					(errcode(ERRCODE_FDW_INVALID_DATA_TYPE),
					 errmsg("cannot send %s to the remote filter", text),
					 errdetail("Remote metadata filters compare with finite numbers only.")));
		appendStringInfoString(buf, text);
	}
}

/*
 * Print the next value: its evaluated datum at run time; at plan time the
 * constant, or $n for a parameter.  Returns false for a NULL value.
 */
static bool
AppendNextValue(DeparseState *st, bool as_array)
{
	int			i = st->next++;
	Expr	   *expr = StripRelabel(list_nth(st->value_exprs, i));
	Oid			type = exprType((Node *) expr);
	Datum		value;
	bool		isnull;

	if (st->values)
	{
		value = st->values[i];
		isnull = st->nulls[i];
	}
	else if (IsA(expr, Const))
	{
		value = ((Const *) expr)->constvalue;
		isnull = ((Const *) expr)->constisnull;
	}
	else if (IsA(expr, Param))
	{
		appendStringInfo(st->buf, "$%d", ((Param *) expr)->paramid);
		return true;
	}
	else
	{
		appendStringInfoString(st->buf, "(expression)");
		return true;
	}
	if (isnull)
		return false;

	if (as_array)
	{
		ArrayType  *arr = DatumGetArrayTypeP(value);
		Oid			elemtype = ARR_ELEMTYPE(arr);
		int16		typlen;
		bool		typbyval;
		char		typalign;
		Datum	   *elems;
		bool	   *elemnulls;
		int			nelems;
		bool		first = true;

		get_typlenbyvalalign(elemtype, &typlen, &typbyval, &typalign);
		deconstruct_array(arr, elemtype, typlen, typbyval, typalign,
						  &elems, &elemnulls, &nelems);
		appendStringInfoChar(st->buf, '[');
		for (int j = 0; j < nelems; j++)
		{
			/* a NULL element never matches: leave it out */
			if (elemnulls[j])
				continue;
			if (!first)
				appendStringInfoChar(st->buf, ',');
			AppendJsonScalar(st->buf, elems[j], elemtype);
			first = false;
		}
		appendStringInfoChar(st->buf, ']');
	}
	else
		AppendJsonScalar(st->buf, value, type);
	return true;
}

/* A filter that no record matches: the translation of a NULL comparison */
static void
AppendNever(StringInfo buf, const char *field)
{
	appendStringInfoString(buf, "{\"$and\":[{");
	escape_json(buf, field);
	appendStringInfoString(buf, ":{\"$exists\":true}},{");
	escape_json(buf, field);
	appendStringInfoString(buf, ":{\"$exists\":false}}]}");
}

/*
 * Print {"field":{"$op":value}}, wrapped with an $exists test for $ne and
 * $nin (see the header comment).  The buffer position is restored when the
 * value is NULL, which turns the whole condition into AppendNever.
 */
static void
AppendFieldOp(DeparseState *st, FdwColumn *col, const char *op, bool as_array,
			  bool needs_exists)
{
	int			start = st->buf->len;
	bool		has_null_elem = false;

	if (needs_exists)
	{
		appendStringInfoString(st->buf, "{\"$and\":[{");
		escape_json(st->buf, col->remote_name);
		appendStringInfoString(st->buf, ":{\"$exists\":true}},");
	}
	appendStringInfoChar(st->buf, '{');
	escape_json(st->buf, col->remote_name);
	appendStringInfo(st->buf, ":{\"%s\":", op);
	if (!AppendNextValue(st, as_array))
	{
		st->buf->len = start;
		st->buf->data[start] = '\0';
		AppendNever(st->buf, col->remote_name);
		return;
	}

	/* NOT IN with a NULL element is never true */
	if (as_array && st->values && strcmp(op, "$nin") == 0)
	{
		ArrayType  *arr = DatumGetArrayTypeP(st->values[st->next - 1]);

		has_null_elem = array_contains_nulls(arr);
	}
	appendStringInfoString(st->buf, "}}");
	if (needs_exists)
		appendStringInfoString(st->buf, "]}");
	if (has_null_elem)
	{
		st->buf->len = start;
		st->buf->data[start] = '\0';
		AppendNever(st->buf, col->remote_name);
	}
}

/* Print one pushable clause as a filter object */
static void
DeparseClause(DeparseState *st, Expr *clause)
{
	FdwColumn  *col;

	switch (nodeTag(clause))
	{
		case T_BoolExpr:
			{
				BoolExpr   *b = (BoolExpr *) clause;
				ListCell   *lc;

				if (b->boolop == NOT_EXPR)
				{
					col = FieldColumn(linitial(b->args), st->relid, st->table);
					appendStringInfoChar(st->buf, '{');
					escape_json(st->buf, col->remote_name);
					appendStringInfoString(st->buf, ":{\"$eq\":false}}");
					return;
				}
				appendStringInfoString(st->buf, b->boolop == AND_EXPR ? "{\"$and\":[" : "{\"$or\":[");
				foreach(lc, b->args)
				{
					if (lc != list_head(b->args))
						appendStringInfoChar(st->buf, ',');
					DeparseClause(st, lfirst(lc));
				}
				appendStringInfoString(st->buf, "]}");
				return;
			}
		case T_Var:
		case T_RelabelType:
			col = FieldColumn(clause, st->relid, st->table);
			appendStringInfoChar(st->buf, '{');
			escape_json(st->buf, col->remote_name);
			appendStringInfoString(st->buf, ":{\"$eq\":true}}");
			return;
		case T_OpExpr:
			{
				const char *opname = NULL;
				Expr	   *value;
				const char *op;

				col = SplitComparison((OpExpr *) clause, st->relid, st->table, &opname, &value);
				if (strcmp(opname, "=") == 0)
					op = "$eq";
				else if (strcmp(opname, "<>") == 0)
					op = "$ne";
				else if (strcmp(opname, "<") == 0)
					op = "$lt";
				else if (strcmp(opname, "<=") == 0)
					op = "$lte";
				else if (strcmp(opname, ">") == 0)
					op = "$gt";
				else
					op = "$gte";
				AppendFieldOp(st, col, op, false, strcmp(op, "$ne") == 0);
				return;
			}
		case T_ScalarArrayOpExpr:
			{
				ScalarArrayOpExpr *sa = (ScalarArrayOpExpr *) clause;

				col = FieldColumn(linitial(sa->args), st->relid, st->table);
				AppendFieldOp(st, col, sa->useOr ? "$in" : "$nin", true, !sa->useOr);
				return;
			}
		case T_NullTest:
			{
				NullTest   *nt = (NullTest *) clause;

				col = FieldColumn(nt->arg, st->relid, st->table);
				appendStringInfoChar(st->buf, '{');
				escape_json(st->buf, col->remote_name);
				appendStringInfo(st->buf, ":{\"$exists\":%s}}",
								 nt->nulltesttype == IS_NULL ? "false" : "true");
				return;
			}
		default:
			elog(ERROR, "unexpected node %d in a remote filter", (int) nodeTag(clause));
	}
}

/*
 * Print the pushable clauses (implicitly ANDed) as one filter object, or
 * return NULL when there are none.  values/nulls are the evaluated value
 * expressions (FdwCollectFilterValues order), or NULL at plan time.
 */
char *
FdwDeparseFilter(List *clauses, Index relid, FdwTable *table,
				 List *value_exprs, Datum *values, bool *nulls)
{
	DeparseState st;
	StringInfoData buf;
	ListCell   *lc;

	if (clauses == NIL)
		return NULL;
	initStringInfo(&buf);
	st.buf = &buf;
	st.table = table;
	st.relid = relid;
	st.value_exprs = value_exprs;
	st.values = values;
	st.nulls = nulls;
	st.next = 0;

	if (list_length(clauses) > 1)
		appendStringInfoString(&buf, "{\"$and\":[");
	foreach(lc, clauses)
	{
		if (lc != list_head(clauses))
			appendStringInfoChar(&buf, ',');
		DeparseClause(&st, lfirst(lc));
	}
	if (list_length(clauses) > 1)
		appendStringInfoString(&buf, "]}");
	return buf.data;
}

/*
 * The remote metric a vectorpg distance operator orders by, or UNKNOWN when
 * the operator is not one of vector <=> vector, <-> or <#>.
 */
RemoteMetric
FdwOperatorMetric(Oid opno)
{
	Oid			vectype = FdwVectorTypeOid();
	Oid			left,
				right;
	char	   *name;

	op_input_types(opno, &left, &right);
	if (left != vectype || right != vectype)
		return REMOTE_METRIC_UNKNOWN;
	name = get_opname(opno);
	if (strcmp(name, "<=>") == 0)
		return REMOTE_METRIC_COSINE;
	if (strcmp(name, "<->") == 0)
		return REMOTE_METRIC_L2;
	if (strcmp(name, "<#>") == 0)
		return REMOTE_METRIC_IP;
	return REMOTE_METRIC_UNKNOWN;
}
