# 020_hnsw_replica.pl: hnsw indexes replay identically on a streaming replica.
#
# What it proves: for each of the four operator classes (vector_l2_ops,
# vector_ip_ops, vector_cosine_ops, vector_l1_ops), an hnsw index built on
# 2,000 rows and then put through ten rounds of INSERT, DELETE and VACUUM
# gives the same answers on a streaming replica as on the primary: the
# top-10 rows, in order, for ten query vectors, compared after the build
# and after every step of every round (31 comparisons per operator class,
# 124 in all, plus one more after the primary's crash recovery below).
# Both nodes run with wal_consistency_checking = 'generic', so every generic
# WAL record the index writes carries the page images it must produce, and
# the replica compares each page after redo with them; neither log may
# show "inconsistent page found", a PANIC or a FATAL.  At the end
# hnsw_index_check(index, true) finds nothing wrong on either node.  A
# batch of 2,000 rows whose hnsw inserts parallel workers applied
# (src/hnswdefer.c) leaves the replica's index byte-equal too.  An
# UNLOGGED table with an hnsw index then goes through a crash of the
# primary: afterwards it is empty, its index is sound, and it takes inserts
# and answers queries as an index built from scratch would.
#
# Why: every change to an index page after its build is a generic WAL
# record; a page modified outside the record, a change applied to the
# buffer rather than to the registered copy, a metapage whose contents sit
# in the page "hole" (pd_lower too small), or a build that forgets a page
# in log_newpage_range all leave the replica with a different index.  Such
# a difference may well go unnoticed by a query, which is why the
# consistency check compares every page the replica replays byte by byte.
# Identical answers show that the replica's index is usable, not just
# byte-equal.  The rounds are chosen to reach every kind of record: inserts
# into fresh pages and into slots that vacuum freed, back links that prune
# full neighbour lists, all three vacuum passes, the replacement of a
# deleted entry point (every round deletes the entry point's row of each
# index, found with pageinspect, and one round deletes 90% of the rows),
# and the unlogged index's init fork, logged once when it is created.
# After every VACUUM the replica's index pages are also compared with the
# primary's byte for byte.
#
# The round that deletes 90% of the rows once caught VACUUM's repair leaving
# a live element whose whole two-hop neighbourhood was deleted with no
# layer-0 link; as the entry point it trapped scans.  Repair now searches
# the graph for such an element's neighbours, and every query must return
# k rows whenever k are live.
#
# The indexes use the default m = 16 and ef_construction = 64.  With
# consistency checking every generic record carries a full image of each
# page it touches, so the run writes a few hundred megabytes of WAL (the
# amount is printed); the batch sizes are chosen to keep that, and the
# runtime, modest.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

srand(20);

my $dim = 16;
my $initial_rows = 2000;
my $batch = 60;
my $k = 10;
my $n_queries = 10;

# Fraction of the rows each round deletes; round 8 deletes nearly all
my @delete_fraction = (0.1, 0.2, 0.05, 0.5, 0.1, 0.3, 0.1, 0.9, 0.1, 0.2);

# name => [ operator class, ordering operator ]
my @opclasses = (
	[ l2 => 'vector_l2_ops', '<->' ],
	[ ip => 'vector_ip_ops', '<#>' ],
	[ cosine => 'vector_cosine_ops', '<=>' ],
	[ l1 => 'vector_l1_ops', '<+>' ]);

# A random vector literal, components uniform in [-1, 1)
sub random_vector
{
	return '[' . join(',', map { sprintf('%.6f', rand() * 2 - 1) } 1 .. $dim) . ']';
}
my @queries = map { random_vector() } 1 .. $n_queries;

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

# ---------------------------------------------------------------------------
# A primary and a streaming replica, both checking WAL consistency
# ---------------------------------------------------------------------------

my $conf = "wal_consistency_checking = 'generic'
autovacuum = off
";

my $primary = PostgreSQL::Test::Cluster->new('primary');
$primary->init(allows_streaming => 1);
$primary->append_conf('postgresql.conf', $conf);

# Full-page images make this much WAL; on a busy machine the standby can
# fall behind by more than max_wal_size, so keep what it still needs
$primary->append_conf('postgresql.conf', "wal_keep_size = '1GB'");
$primary->start;
$primary->safe_psql(
	'postgres', q{CREATE EXTENSION vectorpg;
	CREATE EXTENSION pageinspect;

	-- The entry point of an hnsw index, from its metapage: entryBlkno and
	-- entryOffno of HnswMetaPageData (src/hnsw.h) are bytes 40-45 of block 0
	-- (little-endian), after the page header and five fields
	CREATE FUNCTION hnsw_entry(idx regclass) RETURNS tid LANGUAGE sql AS $$
		SELECT format('(%s,%s)',
			get_byte(m, 40) + get_byte(m, 41) * 256 + get_byte(m, 42) * 65536,
			get_byte(m, 44) + get_byte(m, 45) * 256)::tid
		FROM get_raw_page(idx::text, 0) AS m
	$$;

	-- The first heap TID of the entry point element: its line pointer gives
	-- the tuple's offset in the page, and the TID follows the four bytes of
	-- type, level, deleted and padding
	CREATE FUNCTION hnsw_entry_heap_tid(idx regclass) RETURNS tid LANGUAGE sql AS $$
		SELECT format('(%s,%s)',
			(get_byte(d, o + 4) + get_byte(d, o + 5) * 256) * 65536 + get_byte(d, o + 6) + get_byte(d, o + 7) * 256,
			get_byte(d, o + 8) + get_byte(d, o + 9) * 256)::tid
		-- (the text form of a tid reads as a point: (block,offset))
		FROM (SELECT hnsw_entry(idx) AS e) AS entry,
			LATERAL get_raw_page(idx::text, (e::text::point)[0]::integer) AS d,
			LATERAL (SELECT 20 + 4 * (e::text::point)[1]::integer AS lp) AS pos,
			LATERAL (SELECT get_byte(d, lp) + (get_byte(d, lp + 1) & 127) * 256 AS o) AS item
	$$;});

$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->append_conf('postgresql.conf', $conf);
$standby->start;

foreach my $node ($primary, $standby)
{
	is($node->safe_psql('postgres', 'SHOW wal_consistency_checking'),
		'generic', $node->name . ' checks generic WAL records');
}

# One long-lived psql session per node: starting psql for every query
# would cost more time than all the queries together
my %sessions;

sub sql
{
	my ($node, $query) = @_;
	$sessions{ $node->name } //= $node->background_psql('postgres');
	return $sessions{ $node->name }->query_safe($query);
}

# Wait until the replica has replayed everything the primary wrote.  A
# replica whose startup process died (as on an inconsistent page) never
# catches up, so give up after a minute, with the reason from its log.
sub catchup
{
	my $what = shift;
	my $lsn = sql($primary, 'SELECT pg_current_wal_insert_lsn()');
	foreach (1 .. 600)
	{
		return
		  if sql($standby, "SELECT pg_last_wal_replay_lsn() >= '$lsn'::pg_lsn") eq 't';
		usleep(100_000);
	}
	my @lines = grep { /inconsistent page|PANIC|FATAL|terminated/ }
	  split /\n/, slurp_file($standby->logfile);
	diag("replica log:\n" . join("\n", @lines[ 0 .. ($#lines < 20 ? $#lines : 19) ]));
	die "replica did not catch up after $what";
}

# ---------------------------------------------------------------------------
# The table and its four indexes
# ---------------------------------------------------------------------------

$primary->safe_psql('postgres',
	"CREATE TABLE items (id integer PRIMARY KEY, v vector($dim) NOT NULL);\n"
	  . random_rows_sql('items', 1, $initial_rows, 0.2));
foreach my $oc (@opclasses)
{
	my ($name, $opclass) = @$oc;
	$primary->safe_psql('postgres',
		"CREATE INDEX items_$name ON items USING hnsw (v $opclass) WITH (m = 16, ef_construction = 64)");
}
my $next_id = $initial_rows + 1;

# Top-k ids of every query vector through the index of each operator
# class, one "opclass|query|id" line per row, in the order the scans
# returned them
sub answers
{
	my $node = shift;
	my $sql = "BEGIN; SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off;
	SET LOCAL hnsw.ef_search = 64; SET LOCAL hnsw.iterative_scan = relaxed_order;\n";
	foreach my $oc (@opclasses)
	{
		my ($name, $opclass, $op) = @$oc;
		for my $i (0 .. $#queries)
		{
			$sql .= "SELECT '$name', $i, id FROM items ORDER BY v $op '$queries[$i]' LIMIT $k;\n";
		}
	}
	return sql($node, $sql . 'COMMIT;');
}

# The plans must be the index scans being compared, on both nodes
catchup('the build');
foreach my $oc (@opclasses)
{
	my ($name, $opclass, $op) = @$oc;
	foreach my $node ($primary, $standby)
	{
		like(
			sql($node,
				"BEGIN; SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off;
				EXPLAIN (COSTS OFF) SELECT id FROM items ORDER BY v $op '$queries[0]' LIMIT $k;
				COMMIT;"),
			qr/Index Scan using items_$name on items/,
			"$name: queries use items_$name on " . $node->name);
	}
}

# Compare the answers of every operator class on both nodes; count the
# comparisons so the total can be checked
my %compared;
my %rows_seen;

sub compare_nodes
{
	my $step = shift;
	catchup($step);
	my $live = sql($primary, 'SELECT count(*) FROM items');
	my $expect_rows = $n_queries * ($live < $k ? $live : $k);
	my %p = per_opclass(answers($primary));
	my %s = per_opclass(answers($standby));
	foreach my $oc (@opclasses)
	{
		my $name = $oc->[0];
		my $rows = () = ($p{$name} // '') =~ /\n/g;
		is($s{$name}, $p{$name}, "$name after $step: replica answers as the primary ($rows rows)");
		my %answered = map { (split /\|/)[0] => 1 } split /\n/, $p{$name} // '';
		is(scalar keys %answered, $n_queries, "$name after $step: every query found rows");

		# An iterative scan finds k rows whenever k are live, even after a
		# VACUUM that deleted nearly everything and the entry point with it
		is($rows, $expect_rows, "$name after $step: $k rows per query (of $live)");
		$compared{$name}++;
		$rows_seen{$name} += $rows;
	}
}

# Split the answers by operator class
sub per_opclass
{
	my %by;
	foreach my $line (split /\n/, shift)
	{
		my ($name, $rest) = split /\|/, $line, 2;
		$by{$name} .= "$rest\n";
	}
	return %by;
}

# An md5 of every page of every index, one "name|md5" line each.  Generic
# WAL zeroes the unused middle of a page on the primary as redo does, and
# index pages have no hint bits, so after catch-up the replica's pages must
# be the primary's byte for byte, LSNs included.
sub page_digests
{
	my $node = shift;
	return sql($node,
		join("\n",
			map {
				"SELECT '$_->[0]', md5(string_agg(md5(get_raw_page('items_$_->[0]', b::integer)), '' ORDER BY b))
				FROM generate_series(0, pg_relation_size('items_$_->[0]') / 8192 - 1) AS b;"
			} @opclasses));
}

# The entry point of each index, one "name|(block,offset)" line each
sub entry_points
{
	return sql($primary,
		join("\n", map { "SELECT '$_->[0]', hnsw_entry('items_$_->[0]');" } @opclasses));
}
my %entry_moved;

compare_nodes('the build');

# ---------------------------------------------------------------------------
# Ten rounds of INSERT, DELETE, VACUUM
# ---------------------------------------------------------------------------

for my $round (1 .. 10)
{
	sql($primary, random_rows_sql('items', $next_id, $batch, 0.01 * $round));
	$next_id += $batch;
	compare_nodes("round $round INSERT");

	# A random fraction of the rows, and the rows of the four entry points,
	# so that every VACUUM has to find new ones
	my $fraction = $delete_fraction[ $round - 1 ];
	my $entry_rows = sql($primary,
		'SELECT array_agg(DISTINCT t) FROM ('
		  . join(' UNION ALL ', map { "SELECT hnsw_entry_heap_tid('items_$_->[0]') AS t" } @opclasses)
		  . ') AS s');
	is(sql($primary, "SELECT count(*) FROM items WHERE ctid = ANY ('$entry_rows'::tid[])"),
		scalar(() = $entry_rows =~ /\(\d+,\d+\)/g),
		"round $round: the entry points are rows $entry_rows");
	my $deleted = sql($primary,
		"SELECT setseed(0.5 + 0.01 * $round);
		WITH d AS (DELETE FROM items WHERE random() < $fraction OR ctid = ANY ('$entry_rows'::tid[])
			RETURNING 1)
		SELECT count(*) FROM d") =~ s/^.*\n//r;
	cmp_ok($deleted, '>', 0, "round $round deleted $deleted rows");
	compare_nodes("round $round DELETE");

	my %entry_before = map { split /\|/ } split /\n/, entry_points();
	sql($primary, 'VACUUM items');
	compare_nodes("round $round VACUUM");
	my %entry_after = map { split /\|/ } split /\n/, entry_points();
	$entry_moved{$_} += $entry_before{$_} ne $entry_after{$_} foreach keys %entry_after;
	is(page_digests($standby), page_digests($primary),
		"round $round: every index page of the replica equals the primary's");

	# The indexes stay sound round after round (cheap: the data is small)
	is( sql($primary,
			join("\n", map { "SELECT '$_->[0]', * FROM hnsw_index_check('items_$_->[0]');" } @opclasses)),
		'', "round $round: all four indexes sound on the primary");
}

foreach my $oc (@opclasses)
{
	my $name = $oc->[0];
	is($entry_moved{$name}, 10, "$name: every VACUUM replaced the deleted entry point");
	cmp_ok($compared{$name}, '>=', 31, "$name: $compared{$name} replica comparisons");
	cmp_ok($rows_seen{$name}, '>', 31 * $n_queries, "$name: comparisons were not of empty answers");
}

# ---------------------------------------------------------------------------
# Inserts that parallel workers applied for a batch (src/hnswdefer.c)
# ---------------------------------------------------------------------------
# A chunk of 2,000 rows or more has its hnsw inserts written by the backend
# and parallel workers together; the workers' records must replay as the
# primary wrote them.  A table of its own, 4 dimensions and m = 4, keeps
# the WAL of the consistency checks small.

$primary->safe_psql('postgres',
	"CREATE TABLE pitems (id integer PRIMARY KEY, v vector(4) NOT NULL);
	CREATE INDEX pitems_v ON pitems USING hnsw (v vector_l2_ops) WITH (m = 4, ef_construction = 16);");
my ($ret, $out, $err) = $primary->psql('postgres',
	"SET client_min_messages = debug1;
	BEGIN;
	SELECT vectorpg._defer_index_inserts('pitems', 2000);
	SELECT setseed(0.42);
	INSERT INTO pitems SELECT i, (SELECT array_agg(random() * 2 - 1) FROM generate_series(1, 4) WHERE i > 0)::vector(4)
	FROM generate_series(1, 2000) i;
	SELECT vectorpg._apply_index_inserts();
	COMMIT;");
is($ret, 0, 'a batch with deferred inserts committed on the primary');
like($out, qr/^2000$/m, 'its 2,000 inserts were applied at the end');
my $cpus = `getconf _NPROCESSORS_ONLN 2>/dev/null` || 1;
SKIP:
{
	skip 'one core: the apply runs without workers', 1 if $cpus < 2;
	like($err, qr/2000 deferred inserts into "pitems_v" with [1-9][0-9]* parallel workers/,
		'parallel workers wrote some of them');
}
catchup('the parallel apply');
my $pitems_pages = "SELECT md5(string_agg(md5(get_raw_page('pitems_v', b::integer)), '' ORDER BY b))
	FROM generate_series(0, pg_relation_size('pitems_v') / 8192 - 1) AS b;";
is(sql($standby, $pitems_pages), sql($primary, $pitems_pages),
	'after the parallel apply every page of the replica\'s index equals the primary\'s');
is($standby->safe_psql('postgres', "SELECT * FROM hnsw_index_check('pitems_v', true)"), '',
	'pitems_v passes hnsw_index_check(heapallindexed) on the replica');

# ---------------------------------------------------------------------------
# Both nodes: sound indexes, and logs free of inconsistencies and crashes
# ---------------------------------------------------------------------------

catchup('the last round');
foreach my $oc (@opclasses)
{
	my $name = $oc->[0];
	foreach my $node ($primary, $standby)
	{
		is($node->safe_psql('postgres', "SELECT * FROM hnsw_index_check('items_$name', true)"),
			'', "items_$name passes hnsw_index_check(heapallindexed) on " . $node->name);
	}
}
is($standby->safe_psql('postgres', 'SELECT count(*) FROM items'),
	$primary->safe_psql('postgres', 'SELECT count(*) FROM items'),
	'replica has the same rows');

# Lines that mean something went wrong, with what went wrong on the replica
my $bad_lines = qr/^.*(?:inconsistent page found|PANIC|FATAL|terminated by signal).*$/m;

foreach my $node ($primary, $standby)
{
	my $log = slurp_file($node->logfile);
	unlike($log, qr/inconsistent page found/, $node->name . ': no inconsistent page found');
	my @bad = $log =~ /($bad_lines)/g;
	is_deeply(\@bad, [], $node->name . ': no PANIC, FATAL or crash in the log');
}

# ---------------------------------------------------------------------------
# UNLOGGED: after a crash the table is empty and its index usable
# ---------------------------------------------------------------------------

# One index built over rows and one built on the empty table before its
# rows, so that both ambuild and aminsert have filled an unlogged main fork
# that the crash throws away; no checkpoint between their creation and the
# crash, so the init forks come back from WAL
$primary->safe_psql('postgres',
	"CREATE UNLOGGED TABLE scratch (id integer PRIMARY KEY, v vector($dim) NOT NULL, w vector($dim));
	CREATE INDEX scratch_w ON scratch USING hnsw (w vector_cosine_ops) WITH (m = 8, ef_construction = 32);\n"
	  . random_rows_sql('scratch', 1, 500, 0.7)
	  . "UPDATE scratch SET w = v;
	CREATE INDEX scratch_v ON scratch USING hnsw (v vector_l2_ops) WITH (m = 8, ef_construction = 32);");
is($primary->safe_psql('postgres', 'SELECT count(*) FROM scratch'), '500', 'unlogged table loaded');
is($primary->safe_psql('postgres',
		"SELECT relpersistence FROM pg_class WHERE relname IN ('scratch_v', 'scratch_w')"),
	"u\nu", 'both indexes are unlogged');

my $log_offset = -s $primary->logfile;
my $standby_log_offset = -s $standby->logfile;
$sessions{ $primary->name }->quit;
delete $sessions{ $primary->name };
$primary->stop('immediate');
$primary->start;

is($primary->safe_psql('postgres', 'SELECT count(*) FROM scratch'), '0',
	'after the crash the unlogged table is empty');
foreach my $idx (qw(scratch_v scratch_w))
{
	is($primary->safe_psql('postgres', "SELECT * FROM hnsw_index_check('$idx', true)"),
		'', "$idx is sound after the crash (its init fork)");
}

# It takes rows again, and finds them as an exact scan does
$primary->safe_psql('postgres', random_rows_sql('scratch', 1, 300, 0.8) . 'UPDATE scratch SET w = v;');
foreach my $t ([ scratch_v => 'v', '<->' ], [ scratch_w => 'w', '<=>' ])
{
	my ($idx, $col, $op) = @$t;
	my $top = "SELECT string_agg(id::text, ',' ORDER BY d, id) FROM
		(SELECT id, $col $op '$queries[1]' AS d FROM scratch ORDER BY $col $op '$queries[1]' LIMIT $k) s";
	like(
		$primary->safe_psql('postgres',
			"SET enable_seqscan = off; SET enable_bitmapscan = off;
			EXPLAIN (COSTS OFF) SELECT id FROM scratch ORDER BY $col $op '$queries[1]' LIMIT $k"),
		qr/Index Scan using $idx/,
		"$idx is used after the crash");
	my $via_index = $primary->safe_psql('postgres',
		"SET enable_seqscan = off; SET enable_bitmapscan = off;
		SET hnsw.ef_search = 400; SET hnsw.iterative_scan = relaxed_order; $top");
	my $exact = $primary->safe_psql('postgres',
		"SET enable_indexscan = off; SET enable_bitmapscan = off; $top");
	is($via_index, $exact, "$idx answers exactly after refilling");
	my @ids = split /,/, $via_index;
	is(scalar @ids, $k, "... with $k rows");
	is($primary->safe_psql('postgres', "SELECT * FROM hnsw_index_check('$idx', true)"),
		'', "$idx is sound after refilling");
}

# The replica follows the recovered primary and still answers alike; the
# replica may only have lost its stream while the primary was down
compare_nodes('the primary\'s crash recovery');
my $plog = slurp_file($primary->logfile, $log_offset);

# While it recovers the primary turns away connections, the replica's too
my @bad = grep { !/the database system is (?:starting up|not yet accepting connections)/ }
  $plog =~ /($bad_lines)/g;
is_deeply(\@bad, [], 'primary: no PANIC, FATAL or inconsistency in crash recovery');
like($plog, qr/database system was not properly shut down; automatic recovery in progress/,
	'primary: the restart was a crash recovery');
my $slog = slurp_file($standby->logfile, $standby_log_offset);
@bad = grep { !/could not receive data from WAL stream|could not connect to the primary server/ }
  $slog =~ /($bad_lines)/g;
is_deeply(\@bad, [], 'replica: no PANIC, inconsistency or unexpected FATAL since');

note('WAL written: '
	  . $primary->safe_psql('postgres',
		"SELECT pg_size_pretty(pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0'))"));

$_->quit foreach values %sessions;
$standby->stop;
$primary->stop;

done_testing();
