-- Every function of the vector type.

SELECT l2_distance('[0,0]', '[3,4]');
SELECT l2_distance('[1,2,3]', '[1,2,3]');
SELECT inner_product('[1,2,3]', '[4,5,6]');
SELECT inner_product('[1,-1]', '[1,1]');
SELECT cosine_distance('[1,2]', '[2,4]');
SELECT cosine_distance('[1,0]', '[0,1]');
SELECT cosine_distance('[1,0]', '[-1,0]');
SELECT cosine_distance('[1,1]', '[1,1]');
-- the angle with a zero vector is undefined: NaN, as in pgvector
SELECT cosine_distance('[0,0]', '[1,1]');
SELECT cosine_distance('[0,0]', '[0,0]');
SELECT l1_distance('[0,0]', '[3,-4]');
SELECT vector_l2_squared_distance('[0,0]', '[3,4]');
SELECT vector_negative_inner_product('[1,2,3]', '[4,5,6]');

-- float8 accumulation: distances beyond float4's range stay finite
SELECT l2_distance('[3e38]', '[-3e38]');
SELECT inner_product('[3e38, 3e38]', '[3e38, 3e38]');
SELECT vector_norm('[3e38, 3e38]');

SELECT vector_dims('[1,2,3]');
SELECT vector_dims(array_fill(1, ARRAY[16000])::vector);
SELECT vector_norm('[3,4]');
SELECT vector_norm('[0,0,0]');
SELECT l2_normalize('[3,4]');
SELECT l2_normalize('[0,0]');
SELECT l2_normalize('[1e-30, 1e-30]');
SELECT binary_quantize('[1,-1,0,2,3,-4,5,6,7]');
SELECT binary_quantize('[0.5]');

-- subvector clips like substring()
SELECT subvector('[1,2,3,4,5]', 1, 3);
SELECT subvector('[1,2,3,4,5]', 3, 2);
SELECT subvector('[1,2,3,4,5]', 4, 100);
SELECT subvector('[1,2,3,4,5]', -1, 3);
SELECT subvector('[1,2,3,4,5]', 2147483647, 2147483647);
SELECT subvector('[1,2,3,4,5]', -2147483648, 2147483647);

SELECT vector_add('[1,2]', '[3,4]'), vector_sub('[1,2]', '[3,4]'),
       vector_mul('[1,2]', '[3,4]'), vector_concat('[1,2]', '[3]');
SELECT vector_cmp('[1,2]', '[1,3]'), vector_cmp('[1,2]', '[1,2]'),
       vector_cmp('[1,3]', '[1,2]'), vector_cmp('[1,2]', '[1,2,0]');

-- the kernels in use are named
SELECT vectorpg_kernel() IN ('scalar', 'avx2', 'avx512') AS known_kernel;
SET vectorpg.kernel = 'scalar';
SELECT vectorpg_kernel();
SELECT l2_distance('[0,0]', '[3,4]'), inner_product('[1,2,3]', '[4,5,6]'),
       cosine_distance('[1,0]', '[0,1]'), l1_distance('[0,0]', '[3,-4]');
RESET vectorpg.kernel;
SELECT vectorpg_kernel() <> 'scalar' OR NOT EXISTS (SELECT 1) AS reset_ok;

-- labels: every function is immutable, strict and parallel safe except these
SELECT p.proname, p.provolatile, p.proisstrict, p.proparallel
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
JOIN pg_extension e ON e.oid = d.refobjid
WHERE e.extname = 'vectorpg' AND p.prokind = 'f'
  AND p.pronamespace <> 'vectorpg'::regnamespace
  AND (p.provolatile <> 'i' OR NOT p.proisstrict OR p.proparallel <> 's')
ORDER BY 1;
SELECT count(*) AS functions_without_comment
FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
JOIN pg_extension e ON e.oid = d.refobjid
WHERE e.extname = 'vectorpg' AND obj_description(p.oid, 'pg_proc') IS NULL;
