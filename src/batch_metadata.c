/*-------------------------------------------------------------------------
 *
 * batch_metadata.c
 *	  vectorpg.merge_metadata: the shallow merge of a metadata patch that
 *	  the batch updates (sql/install/10_3_batch.sql) and remote writes apply
 *	  to every row they touch.
 *
 * Why C.  The merge is "old || patch, minus the keys the patch sets to
 * null".  As a SQL function it needed a subquery over jsonb_each(patch) for
 * those keys, and a SQL function with a subquery is not inlined: every row
 * paid a call of the SQL function executor, about 4 µs against 0.25 µs for
 * the || itself, a tenth of a 1,000-row metadata update at 784 dimensions.
 * Here the patch's top-level values are looked at once and the null keys, if
 * any, are removed with jsonb's own delete.
 *
 * Copyright (c) 2026, vectorpg developers
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/fmgrprotos.h"
#include "utils/jsonb.h"

PG_FUNCTION_INFO_V1(vectorpg_merge_metadata);

/*
 * merge_metadata(old jsonb, patch jsonb) returns jsonb: old (an empty
 * object if null) with the patch's keys replacing its own, and the keys the
 * patch sets to JSON null removed.  A null patch returns old unchanged.  The
 * patch must be an object (the batch functions check each item's metadata
 * before it gets here, so this error is for direct calls).
 */
Datum
vectorpg_merge_metadata(PG_FUNCTION_ARGS)
{
	Jsonb	   *patch;
	Datum		merged;
	JsonbIterator *it;
	JsonbValue	v;
	JsonbIteratorToken tok;
	Datum	   *nullKeys = NULL;
	int			nnull = 0;
	const char *key = NULL;
	int			keylen = 0;

	if (PG_ARGISNULL(1))
	{
		if (PG_ARGISNULL(0))
			PG_RETURN_NULL();
		PG_RETURN_DATUM(PG_GETARG_DATUM(0));
	}
	patch = PG_GETARG_JSONB_P(1);
	if (!JB_ROOT_IS_OBJECT(patch))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("metadata patch must be a JSON object, not %s",
						JB_ROOT_IS_SCALAR(patch) ? "a scalar" : "an array"),
				 errhint("Metadata is merged key by key; pass an object such as {\"key\": \"value\"}.")));

	merged = DirectFunctionCall2(jsonb_concat,
								 PG_ARGISNULL(0) ?
								 DirectFunctionCall1(jsonb_in, CStringGetDatum("{}")) :
								 PG_GETARG_DATUM(0),
								 JsonbPGetDatum(patch));

	/* The top-level keys whose value is JSON null */
	it = JsonbIteratorInit(&patch->root);
	while ((tok = JsonbIteratorNext(&it, &v, true)) != WJB_DONE)
	{
		if (tok == WJB_KEY)
		{
			key = v.val.string.val;
			keylen = v.val.string.len;
		}
		else if (tok == WJB_VALUE && v.type == jbvNull)
		{
			if (nullKeys == NULL)
				nullKeys = palloc(sizeof(Datum) * JsonContainerSize(&patch->root));
			nullKeys[nnull++] = PointerGetDatum(cstring_to_text_with_len(key, keylen));
		}
	}

	if (nnull == 0)
		PG_RETURN_DATUM(merged);
	PG_RETURN_DATUM(DirectFunctionCall2(jsonb_delete_array, merged,
										PointerGetDatum(construct_array(nullKeys, nnull, TEXTOID,
																		-1, false, TYPALIGN_INT))));
}
