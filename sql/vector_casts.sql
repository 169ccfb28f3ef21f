-- Casts between vector and arrays, with pgvector's implicit/assignment choices.

SELECT '{1,2,3}'::integer[]::vector;
SELECT '{1.5,2.5}'::real[]::vector;
SELECT '{1.5,2.5}'::double precision[]::vector;
SELECT '{1.5,2.5}'::numeric[]::vector;
SELECT '[1,2,3]'::vector::real[];
SELECT ARRAY[1,2,3]::vector(3);
SELECT array_to_vector('{1,2}'::int[], -1, false);
SELECT vector_to_float4('[1,2]', -1, false);
SELECT vector('[1,2]'::vector, 2, false);

-- assignment casts: arrays insert into vector columns as pgvector allows
CREATE TABLE cast_t (id int, v vector(2));
INSERT INTO cast_t VALUES (1, '{1,2}'::real[]);
INSERT INTO cast_t VALUES (2, '{3,4}'::int[]);
INSERT INTO cast_t VALUES (3, '{5,6}'::float8[]);
INSERT INTO cast_t VALUES (4, '{7.5,8.25}'::numeric[]);
INSERT INTO cast_t VALUES (5, ARRAY[9,10]);
UPDATE cast_t SET v = '{0,0}'::real[] WHERE id = 5;
SELECT * FROM cast_t ORDER BY id;
-- vector to real[] is implicit
CREATE FUNCTION first_element(real[]) RETURNS real LANGUAGE sql AS 'SELECT $1[1]';
SELECT first_element(v) FROM cast_t WHERE id = 4;
DROP FUNCTION first_element(real[]);
SELECT id FROM cast_t WHERE v = ARRAY[1,2]::real[]::vector;
DROP TABLE cast_t;

-- float8 elements that fit float4 only after rounding are fine
SELECT '{0.1}'::float8[]::vector;

-- cast contexts as in pgvector
SELECT castsource::regtype, casttarget::regtype, castcontext, castmethod
FROM pg_cast
WHERE castsource = 'vector'::regtype OR casttarget = 'vector'::regtype
ORDER BY castsource::regtype::text, casttarget::regtype::text;
