-- Every operator of the vector type, and queries that use them.

SELECT '[0,0]'::vector <-> '[3,4]';
SELECT '[1,2,3]'::vector <#> '[4,5,6]';
SELECT '[1,0]'::vector <=> '[0,1]';
SELECT '[0,0]'::vector <+> '[3,-4]';
SELECT '[1,2]'::vector + '[3,4]';
SELECT '[1,2]'::vector - '[3,4]';
SELECT '[1,2]'::vector * '[3,4]';
SELECT '[1,2]'::vector || '[3,4]';

-- comparisons
SELECT '[1,2]'::vector = '[1,2]', '[1,2]'::vector <> '[1,2]',
       '[1,2]'::vector < '[1,3]', '[1,2]'::vector <= '[1,2]',
       '[1,3]'::vector > '[1,2]', '[1,2]'::vector >= '[1,3]';
SELECT '[0]'::vector = '[-0]' AS zero_equals_minus_zero;
SELECT '[1,2]'::vector < '[1,2,3]' AS prefix_sorts_first;

-- btree: ORDER BY, DISTINCT and an index
CREATE TABLE ops_t (id int, v vector);
INSERT INTO ops_t VALUES (1, '[3,1]'), (2, '[1,2,3]'), (3, '[1,2]'), (4, '[2]'), (5, '[1,2]'), (6, NULL);
SELECT v FROM ops_t ORDER BY v;
SELECT DISTINCT v FROM ops_t ORDER BY v DESC;
CREATE INDEX ON ops_t (v);
SET enable_seqscan = off;
SELECT id FROM ops_t WHERE v = '[1,2]' ORDER BY id;
RESET enable_seqscan;
DROP TABLE ops_t;

-- nearest neighbours by exact scan with each distance operator
CREATE TABLE nn_t (id int, embedding vector(3));
INSERT INTO nn_t VALUES (1, '[1,1,1]'), (2, '[2,2,2]'), (3, '[1,1,2]'), (4, '[-1,-1,-1]'), (5, '[0,0,0]'), (6, NULL);
SELECT id, embedding <-> '[1,1,1]' AS d FROM nn_t ORDER BY embedding <-> '[1,1,1]' LIMIT 3;
SELECT id, embedding <#> '[1,1,1]' AS d FROM nn_t ORDER BY embedding <#> '[1,1,1]' LIMIT 3;
SELECT id, round((embedding <=> '[1,1,1]')::numeric, 6) AS d FROM nn_t WHERE id <> 5 ORDER BY embedding <=> '[1,1,1]', id LIMIT 3;
SELECT id, embedding <+> '[1,1,1]' AS d FROM nn_t ORDER BY embedding <+> '[1,1,1]' LIMIT 3;
-- operator commutators
SELECT '[1,1,1]' <-> embedding AS d FROM nn_t WHERE id = 2;
DROP TABLE nn_t;

-- operators are registered with commutators and selectivity estimators
SELECT oprname, oprcom::regoperator, oprnegate::regoperator, oprrest, oprjoin
FROM pg_operator WHERE oprleft = 'vector'::regtype ORDER BY oprname;
