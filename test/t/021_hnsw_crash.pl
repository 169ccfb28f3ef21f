# 021_hnsw_crash.pl: hnsw indexes survive crashes at every stage of their life.
#
# What it proves: the server is stopped with SIGQUIT (stop('immediate'): no
# checkpoint, no flush of shared buffers) at up to twelve points, and after
# each restart the index is sound by hnsw_index_check(index,
# heapallindexed), and its answers (top-10 of five query vectors, with
# hnsw.ef_search at its maximum and an iterative scan) are the exact
# answers of a sequential scan, ids compared in order of distance:
#
#	(a) right after CREATE INDEX, whose pages exist only in shared buffers
#	    and in the WAL (log_newpage_range);
#	(b) inside an open transaction that inserted, updated and deleted rows:
#	    afterwards its inserts and new row versions are invisible, even
#	    though their index entries survive (nearer to the queries than any
#	    committed row, so an index that returned them would be caught), its
#	    deletes never happened, and everything committed before it is there;
#	(c) during VACUUM, three times in a row on one table: in its first index
#	    pass (dead heap TIDs being removed), in its second (the graph being
#	    repaired around deleted elements) and in its third (deleted elements
#	    being freed); each VACUUM resumes what the one before left, and a
#	    last, uninterrupted VACUUM leaves a clean index whose freed space
#	    new rows reuse;
#	(d) during an index build that has outgrown maintenance_work_mem and is
#	    inserting on disk without WAL: a CREATE INDEX CONCURRENTLY leaves an
#	    invalid index that REINDEX rebuilds (spilling again, then crashing
#	    right after: the spilled build is recovered from its
#	    log_newpage_range), and a plain CREATE INDEX leaves no index, and
#	    can be run again;
#	(e) after a committed COPY of 2,000 rows into an indexed table;
#	(f) while three sessions insert concurrently, committing row by row:
#	    every row committed before the crash is there, each session's rows
#	    without gaps;
#	(g) during a parallel CREATE INDEX (two workers building the graph in
#	    shared memory), which leaves no index, and right after one.  The
#	    parallel build is new: if the installed library builds serially
#	    after all, (g) is skipped, with the reason.
#
# The node runs with wal_consistency_checking = 'generic', so each crash
# recovery also compares every page it replays with the image the WAL
# record carries; the log must show no "inconsistent page found" and no
# PANIC.
#
# Why: an index is only as crash safe as the order of its WAL records and
# the completeness of each.  The insert path writes the new element before
# any link to it, vacuum marks before it repairs and repairs before it
# frees, and a build logs its pages once at its end; a record that misses a
# page, or a change made in the wrong order, shows up after a crash at the
# right moment as a dangling link, a lost or resurrected row, a wrong
# answer or a page that does not match its image.  The crashes in (c), (d)
# and (g) are placed by watching the index pages (with pageinspect), the
# build's progress and its parallel workers, not by sleeping, so they land
# where intended; a committed write just before each crash flushes the WAL,
# so recovery replays at least what the test saw.
#
# Two defects this file once caught are now asserted fixed: the checker
# skips the links of deleted elements (a crash or cancel during VACUUM's
# free pass leaves such links to freed slots, harmless since nothing live
# reaches them), and inserts reuse at least 90% of the slots VACUUM freed
# (the free-space hint no longer skips pages whose slots are too small for
# one insert but fine for the next).
#
# Exactness needs no luck: hnsw.ef_search = 1000 keeps up to 1,000
# candidates, which on tables of 1,000 to 8,000 rows of 16 dimensions finds
# the true top 10 every time (on the 8,000-row table, no miss in 100 trial
# queries for each operator class), and the data is random floats, so
# distances do not tie.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

srand(21);

my $dim = 16;
my $k = 10;

# A random vector literal, components uniform in [-1, 1)
sub random_vector
{
	return '[' . join(',', map { sprintf('%.6f', rand() * 2 - 1) } 1 .. $dim) . ']';
}
my @queries = map { random_vector() } 1 .. 5;

# SQL for n rows of random vectors with ids from first on, from a seeded
# random() so that every run loads the same data
sub random_rows_sql
{
	my ($table, $first, $n, $seed) = @_;
	my $last = $first + $n - 1;
	return "SELECT setseed($seed);
	INSERT INTO $table (id, v)
	SELECT i, (SELECT array_agg(random() * 2 - 1) FROM generate_series(1, $dim) WHERE i > 0)::vector($dim)
	FROM generate_series($first, $last) AS i;";
}

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf(
	'postgresql.conf', "wal_consistency_checking = 'generic'
autovacuum = off
fsync = off
");
$node->start;

# One long-lived session for the test's own queries (reopened after each
# crash); NOTICEs would make query_safe fail, so they are not sent
my $session;

sub sql
{
	my $query = shift;
	$session //= $node->background_psql('postgres');
	return $session->query_safe("SET client_min_messages = warning;\n$query");
}

sql(
	q{CREATE EXTENSION vectorpg;
	CREATE EXTENSION pageinspect;

	-- Element tuples of an hnsw index, read from its pages: the line pointer
	-- (bits 0-14 offset, 15-16 flags; little-endian), then the tuple's type
	-- (byte 0: 1 element, 2 neighbours, 3 free) and deleted flag (byte 2),
	-- as laid out in src/hnsw.h.  A free element keeps its deleted flag.
	CREATE FUNCTION hnsw_items(idx regclass)
	RETURNS TABLE (blkno bigint, offno integer, type integer, deleted integer)
	LANGUAGE sql AS $$
		SELECT b, o, get_byte(p, lp_off), get_byte(p, lp_off + 2)
		FROM generate_series(1, pg_relation_size(idx) / 8192 - 1) AS b,
			LATERAL get_raw_page(idx::text, b::integer) AS p,
			LATERAL generate_series(1, ((page_header(p)).lower - 24) / 4) AS o,
			LATERAL (SELECT get_byte(p, 20 + 4 * o) + (get_byte(p, 21 + 4 * o) & 127) * 256 AS lp_off,
				(get_byte(p, 21 + 4 * o) >> 7) + (get_byte(p, 22 + 4 * o) & 1) * 2 AS lp_flags) AS lp
		WHERE lp_flags = 1
	$$;

	-- Live, deleted and freed elements
	CREATE FUNCTION hnsw_states(idx regclass, OUT live bigint, OUT deleted bigint, OUT freed bigint)
	LANGUAGE sql AS $$
		SELECT count(*) FILTER (WHERE type = 1 AND deleted = 0),
			count(*) FILTER (WHERE type = 1 AND deleted = 1),
			count(*) FILTER (WHERE type = 3 AND deleted = 1)
		FROM hnsw_items(idx)
	$$;

	-- Wait until a query returns true, up to timeout seconds
	CREATE FUNCTION wait_until(cond text, timeout float8) RETURNS boolean
	LANGUAGE plpgsql AS $$
	DECLARE
		deadline timestamptz := clock_timestamp() + timeout * interval '1 second';
		ok boolean;
	BEGIN
		LOOP
			EXECUTE cond INTO ok;
			IF ok THEN RETURN true; END IF;
			IF clock_timestamp() > deadline THEN RETURN false; END IF;
			PERFORM pg_sleep(0.005);
			-- statistics views are otherwise frozen for the transaction
			PERFORM pg_stat_clear_snapshot();
		END LOOP;
	END $$;

	-- Wait until the CREATE INDEX of backend leader has parallel workers
	-- and is building: 'parallel'; or 'serial' if it ends without any
	CREATE FUNCTION wait_for_parallel_build(leader integer) RETURNS text
	LANGUAGE plpgsql AS $$
	BEGIN
		FOR i IN 1 .. 6000 LOOP
			PERFORM pg_stat_clear_snapshot();
			IF EXISTS (SELECT FROM pg_stat_activity
					WHERE leader_pid = leader AND backend_type = 'parallel worker')
				AND EXISTS (SELECT FROM pg_stat_progress_create_index
					WHERE pid = leader AND phase LIKE 'building index%') THEN
				RETURN 'parallel';
			END IF;
			-- (the build starts a moment after the session says so)
			IF i > 100 AND NOT EXISTS (SELECT FROM pg_stat_progress_create_index
					WHERE pid = leader) THEN
				RETURN 'serial';
			END IF;
			PERFORM pg_sleep(0.01);
		END LOOP;
		RETURN 'timeout';
	END $$;

	-- A committed write flushes the WAL up to it, so what the test saw
	-- before a crash is what recovery replays
	CREATE TABLE marks (what text, at timestamptz DEFAULT clock_timestamp());});

# ---------------------------------------------------------------------------
# Helpers: crash, check, compare with an exact scan
# ---------------------------------------------------------------------------

my $crashes = 0;

# Crash the server and restart it; the recovery must be clean
sub crash_restart
{
	my $point = shift;
	sql("INSERT INTO marks VALUES ('crash: $point')");
	$session->quit;
	undef $session;

	my $offset = -s $node->logfile;
	$node->stop('immediate');
	$node->start;
	$crashes++;

	my $log = slurp_file($node->logfile, $offset);
	like($log, qr/database system was not properly shut down; automatic recovery in progress/,
		"$point: the restart ran crash recovery");
	my @bad = $log =~ /^(.*(?:inconsistent page found|PANIC|terminated by signal).*)$/mg;
	is_deeply(\@bad, [], "$point: recovery found no inconsistent page, no PANIC");
}

# hnsw_index_check(index, true) after a crash: nothing may be reported, and
# in particular no link of a deleted element (see the file header)
sub check_index
{
	my ($point, $idx, $expect_todo) = @_;
	my $problems = sql(
		"SELECT c.blkno, c.offno, c.problem, coalesce(i.type = 1 AND i.deleted = 1, false)
		FROM hnsw_index_check('$idx', true) AS c
		LEFT JOIN hnsw_items('$idx') AS i ON (i.blkno, i.offno) = (c.blkno, c.offno)");
	my (@real, @deleted_link);
	foreach my $row (split /\n/, $problems)
	{
		my ($blkno, $offno, $problem, $from_deleted) = split /\|/, $row;
		if ($problem =~ /which is a freed element$/ && $from_deleted eq 't')
		{
			push @deleted_link, $row;
		}
		else
		{
			push @real, $row;
		}
	}
	is_deeply(\@real, [], "$point: hnsw_index_check('$idx', true) finds no real problem");
	is(scalar @deleted_link, 0, "$point: no link of a deleted element reported");
	return;
}

# After a clean VACUUM the checker may report nothing at all
sub check_clean
{
	my ($point, $idx) = @_;
	is(sql("SELECT * FROM hnsw_index_check('$idx', true)"),
		'', "$point: hnsw_index_check('$idx', true) finds nothing");
}

# The index's top-k for every query must be the exact top-k: ids in order
# of distance, through the index (ef_search at its maximum, iterative scan)
# and through a sequential scan
sub compare_exact
{
	my ($point, $table, $op, $idx) = @_;
	like(
		sql("BEGIN; SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off;
			EXPLAIN (COSTS OFF) SELECT id FROM $table ORDER BY v $op '$queries[0]' LIMIT $k;
			COMMIT;"),
		qr/Index Scan using $idx on $table/,
		"$point: queries on $table use $idx");
	my $top = '';
	foreach my $q (@queries)
	{
		$top .= "SELECT string_agg(id::text, ',' ORDER BY d, id)
			FROM (SELECT id, v $op '$q' AS d FROM $table ORDER BY v $op '$q' LIMIT $k) AS s;\n";
	}
	my $via_index = sql(
		"BEGIN; SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off;
		SET LOCAL hnsw.ef_search = 1000; SET LOCAL hnsw.iterative_scan = relaxed_order;
		$top COMMIT;");
	my $exact = sql(
		"BEGIN; SET LOCAL enable_indexscan = off; SET LOCAL enable_bitmapscan = off;
		$top COMMIT;");
	is($via_index, $exact, "$point: $idx answers as an exact scan does");
	my $n = () = $exact =~ /\d+/g;
	is($n, $k * @queries, "$point: ... $k rows for each query");
}

# ---------------------------------------------------------------------------
# (a) Right after CREATE INDEX
# ---------------------------------------------------------------------------

sql("CREATE TABLE built (id integer, v vector($dim));\n"
	  . random_rows_sql('built', 1, 1000, 0.1)
	  . 'CHECKPOINT;
	CREATE INDEX built_ip ON built USING hnsw (v vector_ip_ops);');
crash_restart('(a) after CREATE INDEX');
check_index('(a)', 'built_ip');
compare_exact('(a)', 'built', '<#>', 'built_ip');

# ---------------------------------------------------------------------------
# (b) Inside an open transaction
# ---------------------------------------------------------------------------

sql("CREATE TABLE txn (id integer, v vector($dim));\n"
	  . random_rows_sql('txn', 1, 800, 0.2)
	  . "CREATE INDEX txn_l2 ON txn USING hnsw (v vector_l2_ops);
	CHECKPOINT;\n"
	  # committed through the index, after the checkpoint
	  . random_rows_sql('txn', 801, 100, 0.3));
my $before = sql("SELECT count(*), md5(string_agg(id || ':' || v::text, ',' ORDER BY id)) FROM txn");

# The open transaction: rows nearer to the queries than any committed row
# (each query vector itself), rows 1-20 set to the first query vector
# (identical vectors share an element, up to ten heap TIDs each), rows
# 21-60 deleted, 200 new rows
my $open = $node->background_psql('postgres');
my $near = join(', ', map { '(' . (100_000 + $_) . ", '$queries[$_]')" } 0 .. $#queries);
$open->query_safe(
	"BEGIN;
	INSERT INTO txn VALUES $near;
	UPDATE txn SET v = '$queries[0]' WHERE id <= 20;
	DELETE FROM txn WHERE id BETWEEN 21 AND 60;\n"
	  . random_rows_sql('txn', 100_100, 200, 0.4));
my $versions = $open->query_safe('SELECT ctid FROM txn WHERE id <= 20 OR id >= 100000');
is(scalar(split /\n/, $versions), 225, '(b) the open transaction wrote 225 row versions');
is( $open->query_safe(
		"SET enable_seqscan = off; SELECT id FROM txn ORDER BY v <-> '$queries[1]' LIMIT 1"),
	'100001', '(b) inside it, its own rows are found through the index');
crash_restart('(b) in an open transaction');
eval { $open->quit };

is(sql("SELECT count(*), md5(string_agg(id || ':' || v::text, ',' ORDER BY id)) FROM txn"),
	$before, '(b) exactly the committed rows, unchanged');
check_index('(b)', 'txn_l2');
compare_exact('(b)', 'txn', '<->', 'txn_l2');
sql('VACUUM txn');
check_clean('(b) after VACUUM', 'txn_l2');
compare_exact('(b) after VACUUM', 'txn', '<->', 'txn_l2');

# ---------------------------------------------------------------------------
# (c) During VACUUM, in each of its three index passes
# ---------------------------------------------------------------------------

sql("CREATE TABLE vac (id integer, v vector($dim));\n"
	  . random_rows_sql('vac', 1, 1500, 0.5)
	  . 'CREATE INDEX vac_l2 ON vac USING hnsw (v vector_l2_ops);');
sql('DELETE FROM vac WHERE id % 2 = 0; CHECKPOINT;');
is(sql("SELECT * FROM hnsw_states('vac_l2')"), '1500|0|0', '(c) 1500 live elements before VACUUM');

# Start a slowed-down VACUUM, wait for the index to reach a state, crash
sub crash_during_vacuum
{
	my ($point, $cond) = @_;
	my $vacuum = $node->background_psql('postgres');
	$vacuum->query_until(qr/vacuuming/,
		"SET vacuum_cost_delay = '5ms';\nSET vacuum_cost_limit = 1;\n\\echo vacuuming\nVACUUM vac;\n");
	is( sql("SELECT wait_until(\$\$SELECT $cond FROM hnsw_states('vac_l2')\$\$, 60)"),
		't', "$point: the VACUUM reached the intended pass");
	crash_restart($point);
	eval { $vacuum->quit };
}

# Pass 1: some elements marked deleted, not all
crash_during_vacuum('(c1) in VACUUM pass 1', 'deleted > 0');
my ($live, $deleted, $freed) = split /\|/, sql("SELECT * FROM hnsw_states('vac_l2')");
ok($deleted > 0 && $deleted < 750 && $freed == 0,
	"(c1) crashed while dead TIDs were being removed ($deleted of 750 elements marked)");
check_index('(c1)', 'vac_l2');
compare_exact('(c1)', 'vac', '<->', 'vac_l2');

# Pass 2: every dead element marked, none freed yet
crash_during_vacuum('(c2) in VACUUM pass 2', 'deleted = 750 AND freed = 0');
($live, $deleted, $freed) = split /\|/, sql("SELECT * FROM hnsw_states('vac_l2')");
ok($deleted == 750 && $freed == 0, '(c2) crashed after marking, before freeing');
check_index('(c2)', 'vac_l2');
compare_exact('(c2)', 'vac', '<->', 'vac_l2');

# Pass 3: some deleted elements freed, not all
crash_during_vacuum('(c3) in VACUUM pass 3', 'freed > 0');
($live, $deleted, $freed) = split /\|/, sql("SELECT * FROM hnsw_states('vac_l2')");
ok($freed > 0 && $deleted > 0, "(c3) crashed while freeing ($freed of 750 elements freed)");
check_index('(c3)', 'vac_l2', 1);
compare_exact('(c3)', 'vac', '<->', 'vac_l2');

# A VACUUM that runs to its end finishes the job
sql('VACUUM vac');
is(sql("SELECT * FROM hnsw_states('vac_l2')"), '750|0|750', '(c) a full VACUUM freed all 750');
check_clean('(c) after VACUUM', 'vac_l2');
compare_exact('(c) after VACUUM', 'vac', '<->', 'vac_l2');

# New rows go into the freed space: as many rows as VACUUM freed elements
# should fit almost entirely into their slots (only an element of level 1
# or more needs one of the fewer, larger neighbour tuples)
sql(random_rows_sql('vac', 2001, 750, 0.6));
($live, $deleted, $freed) = split /\|/, sql("SELECT * FROM hnsw_states('vac_l2')");
is($live, 1500, '(c) 750 new elements');
cmp_ok($freed, '<', 750, '(c) ... of which ' . (750 - $freed) . ' reuse freed slots');
cmp_ok($freed, '<=', 75, '(c) ... at least 90% of the freed slots were reused');
check_clean('(c) after inserts', 'vac_l2');
compare_exact('(c) after inserts', 'vac', '<->', 'vac_l2');

# ---------------------------------------------------------------------------
# (d) During a build that spilled to disk
# ---------------------------------------------------------------------------

sql("CREATE TABLE big (id integer, v vector($dim));\n" . random_rows_sql('big', 1, 8000, 0.7));

# Start a build with 1 MB of maintenance_work_mem; crash once its NOTICE
# says it is inserting on disk, while the progress view shows it running
sub crash_during_build
{
	my ($point, $command) = @_;
	my $offset = -s $node->logfile;
	my $build = $node->background_psql('postgres', on_error_stop => 0);
	$build->query_until(qr/building/,
		"SET maintenance_work_mem = '1MB';\nSET log_min_messages = notice;\n\\echo building\n$command;\n"
	);
	my $spilled = 0;
	foreach (1 .. 600)
	{
		$spilled = slurp_file($node->logfile, $offset) =~ /graph no longer fits into maintenance_work_mem/;
		last if $spilled;
		usleep(50_000);
	}
	ok($spilled, "$point: the build spilled to disk");
	usleep(200_000);
	like(sql("SELECT phase FROM pg_stat_progress_create_index WHERE relid = 'big'::regclass"),
		qr/building index/, "$point: the build was still running at the crash");
	crash_restart($point);
	eval { $build->quit };
}

crash_during_build('(d1) in CREATE INDEX CONCURRENTLY',
	'CREATE INDEX CONCURRENTLY big_l2 ON big USING hnsw (v vector_l2_ops)');
is(sql("SELECT indisvalid FROM pg_index WHERE indexrelid = 'big_l2'::regclass"),
	'f', '(d1) the concurrent build left an invalid index');

# REINDEX it, spilling again, and crash right after: its pages were written
# without WAL and logged once at the end
my $offset = -s $node->logfile;
$node->safe_psql('postgres',
	"SET maintenance_work_mem = '1MB'; SET log_min_messages = notice; CHECKPOINT; REINDEX INDEX big_l2;");
like(slurp_file($node->logfile, $offset), qr/graph no longer fits into maintenance_work_mem/,
	'(d1) REINDEX spilled to disk too');
crash_restart('(d1) after a spilled REINDEX');
is(sql("SELECT indisvalid FROM pg_index WHERE indexrelid = 'big_l2'::regclass"),
	't', '(d1) REINDEX made the index valid');
check_index('(d1)', 'big_l2');
compare_exact('(d1)', 'big', '<->', 'big_l2');

crash_during_build('(d2) in CREATE INDEX',
	'CREATE INDEX big_cosine ON big USING hnsw (v vector_cosine_ops)');
is(sql("SELECT to_regclass('big_cosine') IS NULL"), 't', '(d2) the interrupted build left no index');
sql('CREATE INDEX big_cosine ON big USING hnsw (v vector_cosine_ops)');
check_clean('(d2) built again', 'big_cosine');
compare_exact('(d2) built again', 'big', '<=>', 'big_cosine');

# ---------------------------------------------------------------------------
# (e) After a bulk load
# ---------------------------------------------------------------------------

my $file = PostgreSQL::Test::Utils::tempdir() . '/bulk.txt';
open my $fh, '>', $file or die "could not write $file: $!";
print $fh "$_\t" . random_vector() . "\n" foreach 201 .. 2200;
close $fh;
chmod 0644, $file;

sql("CREATE TABLE bulk (id integer, v vector($dim));\n"
	  . random_rows_sql('bulk', 1, 200, 0.8)
	  . "CREATE INDEX bulk_l1 ON bulk USING hnsw (v vector_l1_ops);
	CHECKPOINT;
	COPY bulk (id, v) FROM '$file';");
my $bulk = sql("SELECT count(*), md5(string_agg(id || ':' || v::text, ',' ORDER BY id)) FROM bulk");
like($bulk, qr/^2200\|/, '(e) 2200 rows loaded');
crash_restart('(e) after COPY');
is(sql("SELECT count(*), md5(string_agg(id || ':' || v::text, ',' ORDER BY id)) FROM bulk"),
	$bulk, '(e) every loaded row is there');
check_index('(e)', 'bulk_l1');
compare_exact('(e)', 'bulk', '<+>', 'bulk_l1');

# ---------------------------------------------------------------------------
# (f) During concurrent inserts
# ---------------------------------------------------------------------------

sql("CREATE TABLE conc (id integer, v vector($dim));\n"
	  . random_rows_sql('conc', 1, 300, 0.9)
	  . 'CREATE INDEX conc_l2 ON conc USING hnsw (v vector_l2_ops); CHECKPOINT;');

# Session s inserts ids s * 100000 + 1, + 2, ..., committing each row
my @writers;
foreach my $s (1 .. 3)
{
	my $w = $node->background_psql('postgres');
	$w->query_until(
		qr/inserting/, "SELECT setseed(0.$s);\n\\echo inserting\n"
		  . "DO \$\$ BEGIN FOR i IN 1 .. 5000 LOOP
			INSERT INTO conc SELECT $s * 100000 + i,
				(SELECT array_agg(random() * 2 - 1) FROM generate_series(1, $dim))::vector($dim);
			COMMIT;
		END LOOP; END \$\$;\n");
	push @writers, $w;
}
# (Each session must have committed rows of its own: with fast inserts the
# first two sessions can reach 600 rows before the third has started.)
is( sql("SELECT wait_until('SELECT count(*) >= 900 AND count(DISTINCT id / 100000) "
		  . "FILTER (WHERE id > 100000) = 3 FROM conc', 60)"),
	't',
	'(f) the three sessions have inserted 600 rows, each some');
my %committed = map { split /\|/ } split /\n/,
  sql('SELECT id / 100000, max(id) % 100000 FROM conc WHERE id > 100000 GROUP BY 1');
is(scalar keys %committed, 3, '(f) all three sessions were inserting');
crash_restart('(f) during concurrent inserts');
eval { $_->quit } foreach @writers;

foreach my $s (1 .. 3)
{
	my ($n, $max) = split /\|/,
	  sql("SELECT count(*), max(id) % 100000 FROM conc WHERE id / 100000 = $s");
	cmp_ok($max, '>=', $committed{$s}, "(f) session $s: the $committed{$s} rows seen committed survived");
	is($n, $max, "(f) session $s: its $n rows have no gaps");
}
check_index('(f)', 'conc_l2');
compare_exact('(f)', 'conc', '<->', 'conc_l2');

# ---------------------------------------------------------------------------
# (g) During a parallel build, and right after one
# ---------------------------------------------------------------------------

# Start a CREATE INDEX with two parallel workers in a session of its own;
# returns the session and 'parallel' once the workers are building, or
# 'serial' if the build ran without any
sub start_parallel_build
{
	my $create = shift;
	my $builder = $node->background_psql('postgres', on_error_stop => 0);
	my $pid = $builder->query_safe('SELECT pg_backend_pid()');
	$builder->query_until(qr/building/,
		"SET max_parallel_maintenance_workers = 2;\nSET maintenance_work_mem = '256MB';\n"
		  . "\\echo building\n$create;\n");
	return ($builder, sql("SELECT wait_for_parallel_build($pid)"));
}

sql("CREATE TABLE huge (id integer, v vector($dim)) WITH (parallel_workers = 2);\n"
	  . random_rows_sql('huge', 1, 20000, 0.95));
my ($builder, $mode) =
  start_parallel_build('CREATE INDEX huge_l2 ON huge USING hnsw (v vector_l2_ops)');
SKIP:
{
	skip "the installed hnsw built without parallel workers ($mode): no parallel crash points", 1
	  unless $mode eq 'parallel';

	crash_restart('(g1) in a parallel CREATE INDEX');
	eval { $builder->quit };
	is(sql("SELECT to_regclass('huge_l2') IS NULL"), 't', '(g1) the interrupted build left no index');
	sql('DROP TABLE huge');

	# Right after a parallel build, on a table small enough for exactness
	sql('ALTER TABLE big SET (parallel_workers = 2); CHECKPOINT;');
	($builder, $mode) =
	  start_parallel_build('CREATE INDEX big_ip ON big USING hnsw (v vector_ip_ops)');
	is($mode, 'parallel', '(g2) big_ip is being built by parallel workers');
	$builder->query_safe('SELECT 1');    # waits for the build to end
	$builder->quit;
	crash_restart('(g2) after a parallel CREATE INDEX');
	check_index('(g2)', 'big_ip');
	compare_exact('(g2)', 'big', '<#>', 'big_ip');
}
eval { $builder->quit } unless $mode eq 'parallel';

cmp_ok($crashes, '>=', 5, "$crashes crash points survived");

$session->quit;
$node->stop;

done_testing();
