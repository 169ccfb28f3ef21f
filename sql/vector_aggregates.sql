-- avg and sum over vectors, serial and parallel.

CREATE TABLE agg_t (g int, v vector(3));
INSERT INTO agg_t VALUES (1, '[1,2,3]'), (1, '[3,4,5]'), (2, '[1,1,1]'), (2, NULL), (3, NULL);
SELECT g, avg(v), sum(v) FROM agg_t GROUP BY g ORDER BY g;
SELECT avg(v), sum(v) FROM agg_t;
SELECT avg(v), sum(v) FROM agg_t WHERE false;
-- as a window aggregate
SELECT g, avg(v) OVER (ORDER BY g, v) FROM agg_t WHERE v IS NOT NULL ORDER BY g, v;

-- dimensions must agree across rows
SELECT avg(v) FROM (VALUES ('[1,2]'::vector), ('[1,2,3]')) t(v);
SELECT sum(v) FROM (VALUES ('[1,2]'::vector), ('[1,2,3]')) t(v);
-- sum overflows like float4 arithmetic; avg does not (float8 state)
SELECT sum(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]')) t(v);
SELECT avg(v) FROM (VALUES ('[3e38]'::vector), ('[3e38]')) t(v);

-- the transition function does not modify its input outside an aggregate
SELECT vector_accum('{0}', '[1,2]');
SELECT vector_accum('{1,1,2}', '[1,2]');
SELECT vector_combine('{1,1,2}', '{2,3,4}'), vector_combine('{0}', '{1,1,2}'), vector_combine('{1,1,2}', '{0}');
SELECT vector_avg('{2,3,4}');
SELECT vector_avg('{0}');

-- parallel aggregation gives the same answer
CREATE TABLE agg_big (v vector(4));
INSERT INTO agg_big SELECT ARRAY[i % 7, i % 11, i % 13, 1]::vector FROM generate_series(1, 100000) i;
ANALYZE agg_big;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT avg(v), sum(v) FROM agg_big;
SELECT avg(v), sum(v) FROM agg_big;
RESET max_parallel_workers_per_gather;
SET max_parallel_workers_per_gather = 0;
SELECT avg(v), sum(v) FROM agg_big;
RESET ALL;
DROP TABLE agg_big;
DROP TABLE agg_t;

SELECT aggfnoid::regprocedure, aggtransfn, aggcombinefn, aggfinalfn, agginitval, p.proparallel
FROM pg_aggregate a JOIN pg_proc p ON p.oid = a.aggfnoid
WHERE aggtranstype IN ('vector'::regtype, 'double precision[]'::regtype)
  AND p.proargtypes[0] = 'vector'::regtype
ORDER BY aggfnoid::regprocedure::text;
