-- ---------------------------------------------------------------------------
-- Metadata filters: the JSON filter language compiled to SQL
-- ---------------------------------------------------------------------------
--
-- One language everywhere, Pinecone's: {field: value} (implicit $eq),
-- {field: {$op: operand, ...}} (several operators on a field are ANDed),
-- several fields in one object are ANDed, and $and / $or take arrays of
-- filters.  The compiled SQL is written so that indexes serve it:
--
--   $eq, $in, and their negations   metadata @> '{"f": v}' (or '{"f": [v]}'
--                                   for list fields): a GIN index with
--                                   jsonb_path_ops (or jsonb_ops) serves it
--   $gt, $gte, $lt, $lte            vectorpg.jnum(metadata -> 'f') > n: an
--                                   expression index on exactly that serves it
--   $exists                         metadata ? 'f' (GIN jsonb_ops)
--
-- Semantics (doc/batch.md states them with examples; the TAP test
-- 033_batch_filters.pl checks them against a brute-force evaluator):
-- values compare within their JSON type only (1 = 1.0, "1" <> 1); $eq on a
-- list field matches when any element equals; range operators take numbers
-- and match number fields only; a missing field (or a null metadata value)
-- never matches $eq, $in or a range, and always matches $ne and $nin, as in
-- MongoDB (Pinecone leaves this undocumented; the remote clients follow the
-- same rule where the service lets them).

-- A jsonb number as numeric, anything else as null: the range operators'
-- left side, inlined by the planner so an expression index on
-- vectorpg.jnum(metadata -> 'price') serves "price" ranges
CREATE FUNCTION vectorpg.jnum(value jsonb)
	RETURNS numeric
	LANGUAGE sql IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
AS $$
	SELECT CASE WHEN jsonb_typeof(value) = 'number' THEN value::numeric END
$$;

COMMENT ON FUNCTION vectorpg.jnum(jsonb) IS 'a jsonb number as numeric, null for any other value; index it to serve range filters';

-- The SQL of $eq on one field: the value itself or a list holding it
CREATE FUNCTION vectorpg._filter_eq(col text, field text, value jsonb)
	RETURNS text
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
	SELECT format('(%s @> %L::jsonb OR %s @> %L::jsonb)',
				  col, jsonb_build_object(field, value)::text,
				  col, jsonb_build_object(field, jsonb_build_array(value))::text)
$$;

COMMENT ON FUNCTION vectorpg._filter_eq(text, text, jsonb) IS 'internal: SQL of {field: {$eq: value}}';

-- Error for a filter that breaks the language: 22023, naming the operator
-- or field, with the list of what is accepted
CREATE FUNCTION vectorpg._filter_error(message text, hint text DEFAULT NULL)
	RETURNS text
	LANGUAGE plpgsql IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	RAISE EXCEPTION 'invalid metadata filter: %', message
		USING ERRCODE = 'invalid_parameter_value',
			  HINT = coalesce(hint, 'Filters are JSON objects of field conditions and $and/$or lists; '
								 'field operators are $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin and $exists.');
END
$$;

COMMENT ON FUNCTION vectorpg._filter_error(text, text) IS 'internal: raise the 22023 error of an invalid filter';

-- The SQL of the conditions on one field
CREATE FUNCTION vectorpg._filter_field(col text, field text, cond jsonb)
	RETURNS text
	LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	op text;
	operand jsonb;
	parts text[] := '{}';
	t text := jsonb_typeof(cond);
	elems jsonb[];
	bad jsonb;
	maxvals bigint;
	inlist text;
BEGIN
	IF t IN ('string', 'number', 'boolean') THEN
		RETURN vectorpg._filter_eq(col, field, cond);
	ELSIF t = 'null' THEN
		RETURN vectorpg._filter_error(format('field "%s" is compared with null', field),
									  'Use {"field": {"$exists": false}} to find items without the field.');
	ELSIF t = 'array' THEN
		RETURN vectorpg._filter_error(format('field "%s" is compared with a list', field),
									  'Use {"field": {"$in": [...]}} to match any of several values.');
	END IF;
	IF cond = '{}' THEN
		RETURN vectorpg._filter_error(format('field "%s" has an empty condition', field));
	END IF;
	FOR op, operand IN SELECT * FROM jsonb_each(cond) LOOP
		CASE op
		WHEN '$eq', '$ne' THEN
			IF jsonb_typeof(operand) NOT IN ('string', 'number', 'boolean') THEN
				RETURN vectorpg._filter_error(format('operator %s on field "%s" needs a string, number or boolean, not %s',
													 op, field, jsonb_typeof(operand)));
			END IF;
			parts := parts || CASE WHEN op = '$eq' THEN vectorpg._filter_eq(col, field, operand)
							   ELSE format('NOT coalesce(%s, false)', vectorpg._filter_eq(col, field, operand)) END;
		WHEN '$gt', '$gte', '$lt', '$lte' THEN
			IF jsonb_typeof(operand) <> 'number' THEN
				RETURN vectorpg._filter_error(format('operator %s on field "%s" needs a number, not %s',
													 op, field, jsonb_typeof(operand)));
			END IF;
			parts := parts || format('(vectorpg.jnum(%s -> %L) %s %s::numeric)', col, field,
									 CASE op WHEN '$gt' THEN '>' WHEN '$gte' THEN '>=' WHEN '$lt' THEN '<' ELSE '<=' END,
									 operand::text);
		WHEN '$in', '$nin' THEN
			IF jsonb_typeof(operand) <> 'array' THEN
				RETURN vectorpg._filter_error(format('operator %s on field "%s" needs a list, not %s',
													 op, field, jsonb_typeof(operand)));
			END IF;
			maxvals := vectorpg._check_limit('filter_values', NULL);
			IF jsonb_array_length(operand) > maxvals THEN
				RAISE EXCEPTION 'invalid metadata filter: operator % on field "%" has % values', op, field, jsonb_array_length(operand)
					USING ERRCODE = 'program_limit_exceeded',
						  DETAIL = format('The limit is %s values.', maxvals);
			END IF;
			SELECT e INTO bad FROM jsonb_array_elements(operand) e
			WHERE jsonb_typeof(e) NOT IN ('string', 'number', 'boolean') LIMIT 1;
			IF FOUND THEN
				RETURN vectorpg._filter_error(format('operator %s on field "%s" lists a value of type %s; only strings, numbers and booleans may be listed',
													 op, field, jsonb_typeof(bad)));
			END IF;
			IF jsonb_array_length(operand) = 0 THEN
				inlist := 'false';
			ELSE
				SELECT array_agg(x ORDER BY i, j) INTO elems
				FROM jsonb_array_elements(operand) WITH ORDINALITY a(e, i),
					 LATERAL (VALUES (1, jsonb_build_object(field, e)),
									 (2, jsonb_build_object(field, jsonb_build_array(e)))) v(j, x);
				inlist := format('(%s @> ANY (%L::jsonb[]))', col, elems::text);
			END IF;
			parts := parts || CASE WHEN op = '$in' THEN inlist ELSE format('NOT coalesce(%s, false)', inlist) END;
		WHEN '$exists' THEN
			IF jsonb_typeof(operand) <> 'boolean' THEN
				RETURN vectorpg._filter_error(format('operator $exists on field "%s" needs true or false, not %s',
													 field, jsonb_typeof(operand)));
			END IF;
			parts := parts || CASE WHEN operand = 'true' THEN format('coalesce(%s ? %L, false)', col, field)
							   ELSE format('NOT coalesce(%s ? %L, false)', col, field) END;
		ELSE
			IF left(op, 1) = '$' THEN
				RETURN vectorpg._filter_error(format('unknown operator %s on field "%s"', op, field));
			END IF;
			RETURN vectorpg._filter_error(format('field "%s" has a nested field "%s"; nested objects are not supported', field, op));
		END CASE;
	END LOOP;
	IF cardinality(parts) = 1 THEN
		RETURN parts[1];
	END IF;
	RETURN '(' || array_to_string(parts, ' AND ') || ')';
END
$$;

COMMENT ON FUNCTION vectorpg._filter_field(text, text, jsonb) IS 'internal: SQL of the conditions on one metadata field';

-- The SQL of a filter object (recursive through $and and $or)
CREATE FUNCTION vectorpg._filter_node(col text, f jsonb, depth integer)
	RETURNS text
	LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	key text;
	val jsonb;
	parts text[] := '{}';
	sub text[];
BEGIN
	IF depth > vectorpg._check_limit('filter_depth', NULL) THEN
		RAISE EXCEPTION 'invalid metadata filter: nested more than % levels deep', depth - 1
			USING ERRCODE = 'program_limit_exceeded';
	END IF;
	IF jsonb_typeof(f) <> 'object' THEN
		RETURN vectorpg._filter_error(format('a filter must be a JSON object, not %s', jsonb_typeof(f)));
	END IF;
	FOR key, val IN SELECT * FROM jsonb_each(f) LOOP
		IF key IN ('$and', '$or') THEN
			IF jsonb_typeof(val) <> 'array' OR jsonb_array_length(val) = 0 THEN
				RETURN vectorpg._filter_error(format('operator %s needs a non-empty list of filters', key));
			END IF;
			SELECT array_agg(vectorpg._filter_node(col, e, depth + 1) ORDER BY i) INTO sub
			FROM jsonb_array_elements(val) WITH ORDINALITY a(e, i);
			parts := parts || ('(' || array_to_string(sub, CASE key WHEN '$and' THEN ' AND ' ELSE ' OR ' END) || ')');
		ELSIF left(key, 1) = '$' THEN
			RETURN vectorpg._filter_error(format('unknown operator %s where a field or $and/$or is expected', key));
		ELSE
			parts := parts || vectorpg._filter_field(col, key, val);
		END IF;
	END LOOP;
	IF cardinality(parts) = 0 THEN
		RETURN 'true';
	ELSIF cardinality(parts) = 1 THEN
		RETURN parts[1];
	END IF;
	RETURN '(' || array_to_string(parts, ' AND ') || ')';
END
$$;

COMMENT ON FUNCTION vectorpg._filter_node(text, jsonb, integer) IS 'internal: SQL of one filter object';

-- Compile a filter to an SQL boolean expression over a jsonb column (a
-- column name, quoted here, or an expression given as is when is_expression
-- is true); null or {} compile to true
CREATE FUNCTION vectorpg.filter_sql(filter jsonb, column_name text DEFAULT 'metadata',
	is_expression boolean DEFAULT false)
	RETURNS text
	LANGUAGE plpgsql IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
	IF filter IS NULL OR jsonb_typeof(filter) = 'null' THEN
		RETURN 'true';
	END IF;
	RETURN vectorpg._filter_node(CASE WHEN is_expression THEN column_name ELSE quote_ident(column_name) END,
								 filter, 1);
END
$$;

COMMENT ON FUNCTION vectorpg.filter_sql(jsonb, text, boolean) IS 'compile a metadata filter ($eq $ne $gt $gte $lt $lte $in $nin $exists $and $or) to SQL over a jsonb column';

-- Whether one metadata value matches a filter: the same compiled SQL,
-- evaluated once (for tests and ad-hoc checks; queries inline filter_sql)
CREATE FUNCTION vectorpg.filter_matches(metadata jsonb, filter jsonb)
	RETURNS boolean
	LANGUAGE plpgsql IMMUTABLE CALLED ON NULL INPUT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
	r boolean;
BEGIN
	EXECUTE 'SELECT ' || vectorpg.filter_sql(filter, '$1', true) INTO r USING metadata;
	RETURN coalesce(r, false);
END
$$;

COMMENT ON FUNCTION vectorpg.filter_matches(jsonb, jsonb) IS 'whether a metadata value matches a filter';
