-- Every error of the vector type, with its SQLSTATE.
--
-- err() runs a statement and reports the error's SQLSTATE, message, detail
-- and hint, so that the expected output pins all four.

CREATE FUNCTION err(query text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
	state text;
	msg text;
	detail text;
	hint text;
BEGIN
	EXECUTE query;
	RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, msg = MESSAGE_TEXT,
		detail = PG_EXCEPTION_DETAIL, hint = PG_EXCEPTION_HINT;
	RETURN state || ': ' || msg ||
		coalesce(nullif(' | DETAIL: ' || detail, ' | DETAIL: '), '') ||
		coalesce(nullif(' | HINT: ' || hint, ' | HINT: '), '');
END $$;

-- malformed literals: 22P02 invalid_text_representation
SELECT err($$SELECT ''::vector$$);
SELECT err($$SELECT '1,2'::vector$$);
SELECT err($$SELECT '[1,2'::vector$$);
SELECT err($$SELECT '[1,2,'::vector$$);
SELECT err($$SELECT '[1,,2]'::vector$$);
SELECT err($$SELECT '[,1]'::vector$$);
SELECT err($$SELECT '[1 2]'::vector$$);
SELECT err($$SELECT '[1,2]]'::vector$$);
SELECT err($$SELECT '[1,2] x'::vector$$);
SELECT err($$SELECT '[a]'::vector$$);
SELECT err($$SELECT '[1a]'::vector$$);
SELECT err($$SELECT ('[' || repeat('1,', 10) || ']')::vector$$);
SELECT err($$SELECT '{1,2}'::vector$$);
SELECT err($$SELECT '['::vector$$);

-- NaN and infinities: 22000 data_exception
SELECT err($$SELECT '[NaN]'::vector$$);
SELECT err($$SELECT '[1,nan]'::vector$$);
SELECT err($$SELECT '[Infinity]'::vector$$);
SELECT err($$SELECT '[-inf]'::vector$$);
SELECT err($$SELECT '{NaN}'::real[]::vector$$);
SELECT err($$SELECT '{Infinity}'::float8[]::vector$$);
SELECT err($$SELECT '{-Infinity}'::real[]::vector$$);

-- out of range: 22003 numeric_value_out_of_range
SELECT err($$SELECT '[1e39]'::vector$$);
SELECT err($$SELECT '[-1e39]'::vector$$);
SELECT err($$SELECT '[1e-50]'::vector$$);
SELECT err($$SELECT '{1e39}'::float8[]::vector$$);
SELECT err($$SELECT '{1e-50}'::float8[]::vector$$);
SELECT err($$SELECT '{1e39}'::numeric[]::vector$$);
SELECT err($$SELECT '[3e38]'::vector * '[10]'$$);
SELECT err($$SELECT '[3e38]'::vector + '[3e38]'$$);
SELECT err($$SELECT '[-3e38]'::vector - '[3e38]'$$);
SELECT err($$SELECT '[1e-30]'::vector * '[1e-30]'$$);

-- dimensions
SELECT err($$SELECT '[]'::vector$$);
SELECT err($$SELECT '[ ]'::vector$$);
SELECT err($$SELECT array_fill(1, ARRAY[16001])::vector$$);
SELECT err($$SELECT ('[' || repeat('1,', 16000) || '1]')::vector$$);
SELECT err($$SELECT '{}'::real[]::vector$$);
SELECT err($$SELECT '[1,2]'::vector(3)$$);
SELECT err($$SELECT '{1,2}'::real[]::vector(3)$$);
SELECT err($$SELECT '[1,2]'::vector <-> '[1,2,3]'$$);
SELECT err($$SELECT '[1,2]'::vector <#> '[1,2,3]'$$);
SELECT err($$SELECT '[1,2]'::vector <=> '[1,2,3]'$$);
SELECT err($$SELECT '[1,2]'::vector <+> '[1,2,3]'$$);
SELECT err($$SELECT '[1,2]'::vector + '[1,2,3]'$$);
SELECT err($$SELECT '[1,2]'::vector - '[1,2,3]'$$);
SELECT err($$SELECT '[1,2]'::vector * '[1,2,3]'$$);
SELECT err($$SELECT vector_l2_squared_distance('[1,2]', '[1,2,3]')$$);
SELECT err($$SELECT inner_product('[1,2]', '[1,2,3]')$$);
SELECT err($$SELECT subvector('[1,2,3]', 4, 1)$$);
SELECT err($$SELECT subvector('[1,2,3]', 1, 0)$$);
SELECT err($$SELECT subvector('[1,2,3]', -5, 3)$$);
SELECT err($$SELECT array_fill(1, ARRAY[8000])::vector || array_fill(1, ARRAY[8001])::vector$$);

-- typmods: 22023 invalid_parameter_value
SELECT err($$SELECT '[1]'::vector(0)$$);
SELECT err($$SELECT '[1]'::vector(-1)$$);
SELECT err($$SELECT '[1]'::vector(16001)$$);
SELECT err($$SELECT '[1]'::vector(1, 2)$$);
SELECT err($$CREATE TABLE bad_t (v vector(0))$$);

-- arrays
SELECT err($$SELECT '{{1,2},{3,4}}'::real[]::vector$$);
SELECT err($$SELECT '{1,NULL}'::real[]::vector$$);
SELECT err($$SELECT '{1,NULL}'::int[]::vector$$);

-- table constraints go through the same checks
CREATE TABLE err_t (v vector(2));
SELECT err($$INSERT INTO err_t VALUES ('[1,2,3]')$$);
SELECT err($$INSERT INTO err_t VALUES ('{1,2,3}'::real[])$$);
SELECT err($$UPDATE err_t SET v = '[1]'$$);
DROP TABLE err_t;

-- aggregates
SELECT err($$SELECT avg(v) FROM (VALUES ('[1,2]'::vector), ('[1,2,3]')) t(v)$$);
SELECT err($$SELECT sum(v) FROM (VALUES ('[1,2]'::vector), ('[1,2,3]')) t(v)$$);
SELECT err($$SELECT vector_combine('{1,1,2}', '{1,1,2,3}')$$);
SELECT err($$SELECT vector_accum('{{1}}', '[1]')$$);
SELECT err($$SELECT vector_avg('{1}')$$);

-- settings
SELECT err($$SET vectorpg.kernel = 'fastest'$$);
SELECT err($$SET vectorpg.no_such_setting = 1$$);
-- vectorpg.malloc_keep: superusers only; out of range is 22023; -1 (auto)
-- is the default
SELECT min_val, boot_val, max_val, unit, context FROM pg_settings WHERE name = 'vectorpg.malloc_keep';
SHOW vectorpg.malloc_keep;
SET vectorpg.malloc_keep = '64MB';
SHOW vectorpg.malloc_keep;
SET vectorpg.malloc_keep = 0;
RESET vectorpg.malloc_keep;
SELECT err($$SET vectorpg.malloc_keep = '2GB'$$);
SELECT err($$SET vectorpg.malloc_keep = -2$$);
CREATE ROLE vectorpg_keep_tester;
SET ROLE vectorpg_keep_tester;
SELECT err($$SET vectorpg.malloc_keep = '64MB'$$);
RESET ROLE;
-- set for a role, it applies to that role's sessions when the library loads
ALTER ROLE vectorpg_keep_tester LOGIN;
ALTER ROLE vectorpg_keep_tester SET vectorpg.malloc_keep = '64MB';
\set regress_user :USER
\c - vectorpg_keep_tester
SELECT vectorpg_kernel() IS NOT NULL AS loaded;
SHOW vectorpg.malloc_keep;
\c - :regress_user
DROP ROLE vectorpg_keep_tester;

DROP FUNCTION err(text);
