/*-------------------------------------------------------------------------
 *
 * hnsw.c
 *	  The hnsw access method's handler, reloptions, settings, cost estimate
 *	  and operator class validation.
 *
 * Cost model.  An ordered scan first runs one HNSW search, which visits
 * roughly ef_search * 2m elements on layer 0 plus m per upper layer; that
 * is the startup cost.  Fetching further rows (an iterative scan behind a
 * filter) visits more elements, up to the whole index; that is the total
 * cost.  The planner's LIMIT arithmetic then interpolates between the two by
 * the fraction of rows the query needs, so a selective filter, which needs
 * a large fraction of the index to find LIMIT rows, makes the index look as
 * expensive as it is, and a plain scan wins when it should.
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <float.h>
#include <math.h>

#include "access/amvalidate.h"
#include "access/htup_details.h"
#include "catalog/pg_amop.h"
#include "catalog/pg_amproc.h"
#include "catalog/pg_opclass.h"
#include "commands/progress.h"
#include "commands/vacuum.h"
#include "optimizer/optimizer.h"
#include "utils/float.h"
#include "utils/guc.h"
#include "utils/selfuncs.h"
#include "utils/syscache.h"
#include "hnsw.h"

int			hnsw_ef_search = HNSW_DEFAULT_EF_SEARCH;
int			hnsw_iterative_scan = HNSW_ITERATIVE_SCAN_OFF;
int			hnsw_max_scan_tuples = HNSW_DEFAULT_MAX_SCAN_TUPLES;
double		hnsw_scan_mem_multiplier = HNSW_DEFAULT_SCAN_MEM_MULTIPLIER;
int			hnsw_debug_stale_peeks = HNSW_DEFAULT_DEBUG_STALE_PEEKS;

static relopt_kind hnsw_relopt_kind;

/*
 * hnsw.debug_stale_peeks is for builds with assertions, as PostgreSQL's
 * debug_discard_caches is for builds with DISCARD_CACHES_ENABLED: a
 * release build accepts only 0, so no production server pays the counter's
 * branch for a test's sake by accident.
 */
static bool
CheckDebugStalePeeks(int *newval, void **extra, GucSource source)
{
#ifndef USE_ASSERT_CHECKING
	if (*newval != 0)
	{
		GUC_check_errcode(ERRCODE_FEATURE_NOT_SUPPORTED);
		GUC_check_errmsg("hnsw.debug_stale_peeks is supported only in builds with assertions");
		return false;
	}
#endif
	return true;
}

static const struct config_enum_entry iterative_scan_options[] = {
	{"off", HNSW_ITERATIVE_SCAN_OFF, false},
	{"relaxed_order", HNSW_ITERATIVE_SCAN_RELAXED, false},
	{"strict_order", HNSW_ITERATIVE_SCAN_STRICT, false},
	{NULL, 0, false}
};

/* Register the reloptions and the hnsw.* settings; called from _PG_init */
void
HnswInit(void)
{
	hnsw_relopt_kind = add_reloption_kind();
	add_int_reloption(hnsw_relopt_kind, "m",
					  "Maximum number of links per element on upper layers (twice that on layer 0)",
					  HNSW_DEFAULT_M, HNSW_MIN_M, HNSW_MAX_M, AccessExclusiveLock);
	add_int_reloption(hnsw_relopt_kind, "ef_construction",
					  "Size of the candidate list while building the graph",
					  HNSW_DEFAULT_EF_CONSTRUCTION, HNSW_MIN_EF_CONSTRUCTION,
					  HNSW_MAX_EF_CONSTRUCTION, AccessExclusiveLock);

	DefineCustomIntVariable("hnsw.ef_search",
							"Sets the size of the candidate list for hnsw searches.",
							"Valid range is 1..1000; larger finds more true neighbours, more slowly.",
							&hnsw_ef_search, HNSW_DEFAULT_EF_SEARCH,
							HNSW_MIN_EF_SEARCH, HNSW_MAX_EF_SEARCH,
							PGC_USERSET, 0, NULL, NULL, NULL);

	DefineCustomEnumVariable("hnsw.iterative_scan",
							 "Continues an hnsw scan past ef_search results when more rows are needed.",
							 "\"relaxed_order\" may return rows slightly out of distance order; "
							 "\"strict_order\" never does, at some cost in recall.",
							 &hnsw_iterative_scan, HNSW_ITERATIVE_SCAN_OFF,
							 iterative_scan_options, PGC_USERSET, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("hnsw.max_scan_tuples",
							"Sets the maximum number of elements an iterative hnsw scan visits.",
							NULL,
							&hnsw_max_scan_tuples, HNSW_DEFAULT_MAX_SCAN_TUPLES,
							HNSW_MIN_MAX_SCAN_TUPLES, HNSW_MAX_MAX_SCAN_TUPLES,
							PGC_USERSET, 0, NULL, NULL, NULL);

	DefineCustomRealVariable("hnsw.scan_mem_multiplier",
							 "Sets the multiple of work_mem an iterative hnsw scan may use.",
							 NULL,
							 &hnsw_scan_mem_multiplier, HNSW_DEFAULT_SCAN_MEM_MULTIPLIER,
							 HNSW_MIN_SCAN_MEM_MULTIPLIER, HNSW_MAX_SCAN_MEM_MULTIPLIER,
							 PGC_USERSET, 0, NULL, NULL, NULL);

	DefineCustomIntVariable("hnsw.debug_stale_peeks",
							"Treats every Nth element a layer search read on a peek as changed since.",
							"For tests, in builds with assertions; 0 turns it off.",
							&hnsw_debug_stale_peeks, HNSW_DEFAULT_DEBUG_STALE_PEEKS,
							HNSW_MIN_DEBUG_STALE_PEEKS, HNSW_MAX_DEBUG_STALE_PEEKS,
							PGC_SUSET, GUC_NOT_IN_SAMPLE, CheckDebugStalePeeks, NULL, NULL);

	MarkGUCPrefixReserved("hnsw");
	HnswDeferInit();
}

/* Parse and validate the reloptions of an hnsw index */
static bytea *
hnswoptions(Datum reloptions, bool validate)
{
	static const relopt_parse_elt tab[] = {
		{"m", RELOPT_TYPE_INT, offsetof(HnswOptions, m)},
		{"ef_construction", RELOPT_TYPE_INT, offsetof(HnswOptions, efConstruction)},
	};

	return (bytea *) build_reloptions(reloptions, validate, hnsw_relopt_kind,
									  sizeof(HnswOptions), tab, lengthof(tab));
}

/* The index's m, or the default */
int
HnswGetM(Relation index)
{
	HnswOptions *opts = (HnswOptions *) index->rd_options;

	return opts ? opts->m : HNSW_DEFAULT_M;
}

/* The index's ef_construction, or the default */
int
HnswGetEfConstruction(Relation index)
{
	HnswOptions *opts = (HnswOptions *) index->rd_options;

	return opts ? opts->efConstruction : HNSW_DEFAULT_EF_CONSTRUCTION;
}

/* Names of the build phases for pg_stat_progress_create_index */
static char *
hnswbuildphasename(int64 phasenum)
{
	switch (phasenum)
	{
		case PROGRESS_CREATEIDX_SUBPHASE_INITIALIZE:
			return "initializing";
		case PROGRESS_HNSW_PHASE_LOAD:
			return "loading tuples";
		case PROGRESS_HNSW_PHASE_WRITE:
			return "writing index pages";
		default:
			return NULL;
	}
}

/* Estimate the cost of an hnsw scan; see the file header */
static void
hnswcostestimate(PlannerInfo *root, IndexPath *path, double loop_count,
				 Cost *indexStartupCost, Cost *indexTotalCost,
				 Selectivity *indexSelectivity, double *indexCorrelation,
				 double *indexPages)
{
	GenericCosts costs;
	double		tuples = Max(path->indexinfo->tuples, 1.0);
	int			m = HNSW_DEFAULT_M;
	double		visited;
	double		layers;
	double		ratio;
	Relation	index;

	/* Without ORDER BY the index cannot answer anything */
	if (path->indexorderbys == NIL)
	{
		*indexStartupCost = get_float8_infinity();
		*indexTotalCost = get_float8_infinity();
		*indexSelectivity = 0;
		*indexCorrelation = 0;
		*indexPages = 0;
		return;
	}

	index = index_open(path->indexinfo->indexoid, NoLock);
	m = HnswGetM(index);
	index_close(index, NoLock);

	MemSet(&costs, 0, sizeof(costs));
	genericcostestimate(root, path, loop_count, &costs);

	/* Elements one search visits: layer 0 plus a greedy pass per layer */
	layers = Max(log(tuples) / log(m), 1.0);
	visited = (double) hnsw_ef_search * 2 * m + layers * m;
	ratio = Min(visited / tuples, 1.0);

	*indexStartupCost = costs.indexTotalCost * ratio;
	*indexTotalCost = costs.indexTotalCost;
	*indexSelectivity = costs.indexSelectivity;
	*indexCorrelation = 0;
	*indexPages = costs.numIndexPages * ratio;
}

/* Check that an operator class of hnsw has what the access method needs */
static bool
hnswvalidate(Oid opclassoid)
{
	HeapTuple	classtup;
	Form_pg_opclass classform;
	Oid			opfamilyoid;
	CatCList   *proclist;
	CatCList   *oprlist;
	bool		result = true;
	bool		hasDistance = false;
	char	   *opclassname;

	classtup = SearchSysCache1(CLAOID, ObjectIdGetDatum(opclassoid));
	if (!HeapTupleIsValid(classtup))
		elog(ERROR, "cache lookup failed for operator class %u", opclassoid);
	classform = (Form_pg_opclass) GETSTRUCT(classtup);
	opfamilyoid = classform->opcfamily;
	opclassname = NameStr(classform->opcname);

	proclist = SearchSysCacheList1(AMPROCNUM, ObjectIdGetDatum(opfamilyoid));
	for (int i = 0; i < proclist->n_members; i++)
	{
		Form_pg_amproc proc = (Form_pg_amproc) GETSTRUCT(&proclist->members[i]->tuple);

		if (proc->amprocnum == 1)
			hasDistance = true;
		else if (proc->amprocnum != 2)
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("operator class \"%s\" of access method hnsw contains invalid support function number %d",
							opclassname, proc->amprocnum)));
			result = false;
		}
	}
	if (!hasDistance)
	{
		ereport(INFO,
				(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
				 errmsg("operator class \"%s\" of access method hnsw is missing support function 1",
						opclassname)));
		result = false;
	}

	oprlist = SearchSysCacheList1(AMOPSTRATEGY, ObjectIdGetDatum(opfamilyoid));
	for (int i = 0; i < oprlist->n_members; i++)
	{
		Form_pg_amop op = (Form_pg_amop) GETSTRUCT(&oprlist->members[i]->tuple);

		if (op->amopstrategy != 1 || op->amoppurpose != AMOP_ORDER)
		{
			ereport(INFO,
					(errcode(ERRCODE_INVALID_OBJECT_DEFINITION),
					 errmsg("operator class \"%s\" of access method hnsw contains an operator that is not an ordering operator with strategy 1",
							opclassname)));
			result = false;
		}
	}

	ReleaseCatCacheList(oprlist);
	ReleaseCatCacheList(proclist);
	ReleaseSysCache(classtup);
	return result;
}

VECTORPG_FUNCTION(hnswhandler);

/* The access method's handler: what PostgreSQL calls to learn about hnsw */
Datum
hnswhandler(PG_FUNCTION_ARGS)
{
	IndexAmRoutine *amroutine = makeNode(IndexAmRoutine);

	amroutine->amstrategies = 0;
	amroutine->amsupport = 2;
	amroutine->amoptsprocnum = 0;
	amroutine->amcanorder = false;
	amroutine->amcanorderbyop = true;
	amroutine->amcanbackward = false;
	amroutine->amcanunique = false;
	amroutine->amcanmulticol = false;
	amroutine->amoptionalkey = true;
	amroutine->amsearcharray = false;
	amroutine->amsearchnulls = false;
	amroutine->amstorage = false;
	amroutine->amclusterable = false;
	amroutine->ampredlocks = false;
	amroutine->amcanparallel = false;
	amroutine->amcaninclude = false;
	amroutine->amusemaintenanceworkmem = false;
	amroutine->amparallelvacuumoptions = VACUUM_OPTION_PARALLEL_BULKDEL;
	amroutine->amkeytype = InvalidOid;

	amroutine->ambuild = hnswbuild;
	amroutine->ambuildempty = hnswbuildempty;
	amroutine->aminsert = hnswinsert;
	amroutine->ambulkdelete = hnswbulkdelete;
	amroutine->amvacuumcleanup = hnswvacuumcleanup;
	amroutine->amcanreturn = NULL;
	amroutine->amcostestimate = hnswcostestimate;
	amroutine->amoptions = hnswoptions;
	amroutine->amproperty = NULL;
	amroutine->ambuildphasename = hnswbuildphasename;
	amroutine->amvalidate = hnswvalidate;
	amroutine->amadjustmembers = NULL;
	amroutine->ambeginscan = hnswbeginscan;
	amroutine->amrescan = hnswrescan;
	amroutine->amgettuple = hnswgettuple;
	amroutine->amgetbitmap = NULL;
	amroutine->amendscan = hnswendscan;
	amroutine->ammarkpos = NULL;
	amroutine->amrestrpos = NULL;
	amroutine->amestimateparallelscan = NULL;
	amroutine->aminitparallelscan = NULL;
	amroutine->amparallelrescan = NULL;

	PG_RETURN_POINTER(amroutine);
}
