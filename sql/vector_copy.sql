-- COPY in text and binary format, round trip.

CREATE TABLE copy_src (id int, v vector(3), w vector);
INSERT INTO copy_src VALUES
	(1, '[1,2,3]', '[1]'),
	(2, '[-0,1e-40,3.4028235e38]', '[0.1,0.2,0.3,0.4]'),
	(3, NULL, '[1.17549435e-38]'),
	(4, '[-1.5,2.25,-3.125]', NULL);
INSERT INTO copy_src SELECT 100 + i, ARRAY[i, -i, i / 3.0]::real[], array_fill(i / 7.0, ARRAY[i % 50 + 1])::real[]
FROM generate_series(1, 200) i;

\getenv abs_builddir PG_ABS_BUILDDIR
\set copy_file :abs_builddir '/results/vector_copy.bin'
COPY copy_src TO :'copy_file' WITH (FORMAT binary);
CREATE TABLE copy_bin (LIKE copy_src);
COPY copy_bin FROM :'copy_file' WITH (FORMAT binary);

\set text_file :abs_builddir '/results/vector_copy.txt'
COPY copy_src TO :'text_file';
CREATE TABLE copy_txt (LIKE copy_src);
COPY copy_txt FROM :'text_file';

-- identical rows, compared on the bytes vector_send produces
SELECT count(*) AS rows,
       count(*) FILTER (WHERE vector_send(s.v) IS DISTINCT FROM vector_send(b.v)
                          OR vector_send(s.w) IS DISTINCT FROM vector_send(b.w)) AS binary_mismatches,
       count(*) FILTER (WHERE vector_send(s.v) IS DISTINCT FROM vector_send(t.v)
                          OR vector_send(s.w) IS DISTINCT FROM vector_send(t.w)) AS text_mismatches
FROM copy_src s JOIN copy_bin b USING (id) JOIN copy_txt t USING (id);
SELECT * FROM copy_bin WHERE id < 100 ORDER BY id;

-- a binary COPY whose vector has the wrong dimension for the column fails cleanly
CREATE TABLE copy_narrow (id int, v vector(2), w vector);
COPY copy_narrow FROM :'copy_file' WITH (FORMAT binary);

DROP TABLE copy_src, copy_bin, copy_txt, copy_narrow;
