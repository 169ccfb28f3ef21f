-- Boundaries: dimension limits, signed zeros, denormals, the largest float4.

-- dimensions 1, 16000 and 16001
SELECT '[5]'::vector;
SELECT vector_dims(('[' || repeat('1,', 15999) || '1]')::vector);
SELECT ('[' || repeat('1,', 16000) || '1]')::vector;
SELECT vector_dims(array_fill(0.5, ARRAY[16000])::vector(16000));
SELECT array_fill(0.5, ARRAY[16001])::vector;
SELECT '[1]'::vector(1);
SELECT '[1]'::vector(16000);
SELECT '[1]'::vector(16001);
SELECT '[1]'::vector(0);
SELECT vector_dims(array_fill(1, ARRAY[8000])::vector || array_fill(1, ARRAY[8000])::vector);
SELECT array_fill(1, ARRAY[8000])::vector || array_fill(1, ARRAY[8001])::vector;

-- a 16000-dim vector round trips through a table, text and binary
CREATE TABLE big_t (v vector(16000));
INSERT INTO big_t SELECT array_agg((i % 100)::real / 7)::vector FROM generate_series(1, 16000) i;
SELECT vector_dims(v), v::text::vector = v AS text_ok, vector_norm(v) > 0 AS norm_ok FROM big_t;
SELECT v <-> v AS self_distance, v <=> v AS self_cosine FROM big_t;
DROP TABLE big_t;

-- signed zeros
SELECT '[-0, 0, -0.0]'::vector;
SELECT vector_send('[-0]') <> vector_send('[0]') AS sign_kept;
SELECT '[-0]'::vector <-> '[0]';
SELECT '[-0]'::vector * '[5]';

-- denormals are accepted and kept; underflow to zero is rejected
SELECT '[1e-40, -1e-45, 1.4e-45]'::vector;
SELECT '[1e-40]'::vector::real[] = ARRAY[1e-40::real];
SELECT '[1e-46]'::vector;

-- the largest float4
SELECT '[3.4028235e38, -3.4028235e38]'::vector;
SELECT '[3.4028236e38]'::vector;
SELECT '[3.4028235e38]'::vector + '[0]';
SELECT '[3.4028235e38]'::vector + '[3.4028235e38]';
SELECT '[3.4028235e38]'::vector - '[-3.4028235e38]';
SELECT '[3e38]'::vector * '[10]';
SELECT '[1e-30]'::vector * '[1e-30]';
SELECT '[1e-20]'::vector * '[1e-20]';
