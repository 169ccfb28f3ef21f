/*-------------------------------------------------------------------------
 *
 * vectorpg.c
 *	  Module entry point: the magic block and _PG_init, which calls each
 *	  sub-module's Init in turn.
 *
 * Keep this file to that: every setting and hook belongs to the module
 * that uses it and is registered by that module's Init.
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "fmgr.h"
#include "utils/guc.h"
#include "hnsw.h"
#include "mirror.h"
#include "remote.h"
#include "fdw.h"
#include "vectorpg.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

/* Register every sub-module's settings when the library is loaded */
void
_PG_init(void)
{
	DistanceInit();
	MallocTuningInit();
	HnswInit();
	RemoteConnectionInit();
	MirrorInit();
	FdwXactInit();
	MarkGUCPrefixReserved("vectorpg");
}
