/*-------------------------------------------------------------------------
 *
 * remote_write.c
 *	  Remote writes: validation, chunking and parallel sending of upserts
 *	  and deletes (the contract is in remote.h).
 *
 * STUB: declared so that the FDW's write path and the mirror worker can be
 * built against the interface while the implementation is written.  Every
 * entry point raises "not implemented yet".
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "remote.h"

RemoteFailure remote_last_failure = {false, 0, false, -1, 0};

/* Stub: see the file header */
bool
RemoteValidateWrite(RemoteTarget *target, const RemoteWrite *w,
					int *sqlstate, char **message)
{
	return true;
}

/* Stub: see the file header */
void
RemoteWriteMany(RemoteTarget *target, const RemoteWrite *writes, int n)
{
	ereport(ERROR,
			(errcode(ERRCODE_FEATURE_NOT_SUPPORTED),
			 errmsg("remote writes are not implemented yet")));
}

/* Stub: see the file header */
void
RemoteDeleteByFilter(RemoteTarget *target, const char *filter_json)
{
	RemoteWriteMany(target, NULL, 0);
}

/* Stub: see the file header */
void
RemoteDeleteAll(RemoteTarget *target)
{
	RemoteWriteMany(target, NULL, 0);
}
