/*
 * fdw.h: what the files of the foreign data wrapper vectorpg_fdw share
 * (fdw.c, fdw_deparse.c, fdw_import.c).
 *
 * A foreign table of vectorpg_fdw is a view of one remote index (Pinecone)
 * or collection (Milvus).  Its columns are recognised by name and type, so
 * that a table written by hand and one made by IMPORT FOREIGN SCHEMA look
 * the same (doc/fdw.md):
 *
 *   id          text, varchar or bigint, remote name "id": the record id
 *               (Milvus: the primary key, whatever its remote name)
 *   any vector  the record's values (at most one such column)
 *   score       float8/float4 named "score": the remote's score of a match
 *   distance    float8/float4 named "distance": the value of the vectorpg
 *               operator of the metric (<=>, <->, <#>) for the match
 *   metadata    jsonb named "metadata": all metadata of the record
 *   sparse      jsonb named "sparse_values": the record's sparse values
 *               {"indices":[...],"values":[...]} (Pinecone sparseValues, or
 *               a Milvus collection's SparseFloatVector field; NULL without)
 *   others      one metadata field each (Milvus: a scalar or dynamic field)
 *
 * "Remote name" is the column option column_name, or the column name.
 *
 * A scan has one of three shapes, chosen at plan time (FdwScanKind):
 * a remote top-k (ORDER BY <vector op> value LIMIT k, with the pushable
 * WHERE conditions as the remote filter), a fetch by id (id = value or
 * id IN (...), other conditions local), or a full scan that pages through
 * the whole index, which only a table with allow_full_scan may do, or
 * stops after LIMIT rows (FDW_SCAN_LIMITED: LIMIT without ORDER BY, every
 * condition pushed).
 */
#ifndef VECTORPG_FDW_H
#define VECTORPG_FDW_H

#include "postgres.h"

#include "lib/stringinfo.h"
#include "nodes/pathnodes.h"
#include "remote.h"

/* What a column of a foreign table stands for */
typedef enum FdwColumnKind
{
	FDW_COL_DROPPED,
	FDW_COL_ID,
	FDW_COL_VECTOR,
	FDW_COL_SCORE,
	FDW_COL_DISTANCE,
	FDW_COL_METADATA,			/* jsonb: all metadata */
	FDW_COL_SPARSE,				/* jsonb: Pinecone sparse values */
	FDW_COL_FIELD				/* one metadata field */
} FdwColumnKind;

typedef struct FdwColumn
{
	FdwColumnKind kind;
	char	   *attname;
	char	   *remote_name;	/* column_name option or attname */
	Oid			type;
	int32		typmod;
} FdwColumn;

/* The columns of one foreign table, indexed by attnum - 1 */
typedef struct FdwTable
{
	Oid			relid;
	char	   *relname;
	int			ncols;
	FdwColumn  *cols;
	AttrNumber	id_attno;		/* 0 if none */
	AttrNumber	vector_attno;	/* 0 if none */
} FdwTable;

/* The shape of a scan (see the header comment) */
typedef enum FdwScanKind
{
	FDW_SCAN_FULL,
	FDW_SCAN_FETCH,
	FDW_SCAN_TOPK,
	FDW_SCAN_ORDERED,			/* an ORDERED upper path waiting for its LIMIT */
	FDW_SCAN_LIMITED			/* a full scan bounded by LIMIT (no ORDER BY) */
} FdwScanKind;

/*
 * A full scan bounded by LIMIT + OFFSET of at most this many rows reads a
 * bounded part of the index, so it runs without allow_full_scan.
 */
#define FDW_MAX_BOUNDED_SCAN_ROWS	10000

/* fdw.c */
extern FdwTable *FdwGetTable(Oid relid);
extern Oid	FdwVectorTypeOid(void);
extern Oid	FdwExtensionSchema(void);

/* fdw_deparse.c */
extern bool FdwIsScanValue(Expr *expr);
extern bool FdwIsFilterable(Expr *clause, Index relid, FdwTable *table);
extern Expr *FdwIdCondition(Expr *clause, Index relid, FdwTable *table,
							bool *is_array);
extern void FdwCollectFilterValues(List *clauses, List **values);
extern char *FdwDeparseFilter(List *clauses, Index relid, FdwTable *table,
							  List *value_exprs, Datum *values, bool *nulls);
extern RemoteMetric FdwOperatorMetric(Oid opno);

/* fdw_import.c */
extern List *FdwImportForeignSchema(ImportForeignSchemaStmt *stmt, Oid serverOid);

/*
 * fdw_modify.c: INSERT, UPDATE and DELETE (doc/fdw.md, "Writes").  Rows
 * become RemoteWrites buffered by fdw_xact.c until commit.
 */
struct FdwRoutine;
extern void FdwModifyRegister(struct FdwRoutine *routine);
extern void FdwModifyCheckRel(PlannerInfo *root, RelOptInfo *baserel, FdwTable *table);
extern Bitmapset *FdwExpandWholeRow(Bitmapset *attrs, FdwTable *table);

/*
 * fdw_xact.c: the per-transaction write buffer, sent at pre-commit.  The
 * limit on its memory, vectorpg.fdw_write_buffer_limit, in kB.
 */
#define FDW_MIN_WRITE_BUFFER_LIMIT_KB		1024
#define FDW_DEFAULT_WRITE_BUFFER_LIMIT_KB	(256 * 1024)
#define FDW_MAX_WRITE_BUFFER_LIMIT_KB		(64 * 1024 * 1024)
extern int	fdw_write_buffer_limit_kb;
extern void FdwXactInit(void);
extern RemoteTarget *FdwXactTarget(Oid relid, Oid userid);
extern void FdwXactAdd(Oid relid, Oid userid, const RemoteWrite *w);
extern int	FdwXactPending(void);
extern RemoteResult *FdwXactOverlayFetch(Oid relid, Oid userid, char **ids, int nids,
										 RemoteResult *res);

#endif							/* VECTORPG_FDW_H */
