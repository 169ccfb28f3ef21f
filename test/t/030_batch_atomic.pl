# 030_batch_atomic.pl: what a batch leaves behind when it fails, is
# cancelled, crashes, or races another session.
#
# What it proves:
#
#	(a) atomic batches that fail leave the table exactly as it was (an md5
#	    of every row): an invalid item found by validation, an unknown id
#	    for update, a null id for delete, and a failure in the middle of the
#	    write itself (a check constraint of a registered table violated by
#	    the last item of a 25,000-item batch, after two chunks were written);
#	(b) a non-atomic batch applies exactly its valid items and reports
#	    exactly the others, with position, id, SQLSTATE and message, also
#	    when a failure is only found by the statement (item-by-item path);
#	(c) a batch cancelled with pg_cancel_backend, atomic or not, leaves
#	    nothing of itself; batches issued one after the other from a client
#	    leave exactly the prefix that the client saw return, after a cancel
#	    and after a crash (stop 'immediate') in the middle of the next one;
#	    vectorpg.load, interrupted the same ways, leaves whole committed
#	    chunks, a prefix at least as long as it reported; the hnsw index is
#	    sound after the crashes;
#	(d) two sessions upserting the same ids concurrently, in different
#	    orders, finish without errors (no deadlock) with one row per id;
#	(d3) the same with chunks of 2,500, whose hnsw inserts parallel workers
#	    apply at the end of each chunk, with VACUUM running beside: one
#	    row per id, each indexed once with its own vector; and again on a
#	    hash-partitioned collection, whose partitions' indexes are deferred;
#	(d4) a crash while parallel workers apply a chunk leaves none of the
#	    uncommitted batch and a sound index that takes more; again on a
#	    hash-partitioned collection;
#	(d2) an update re-sending a row's vector, racing a writer that changes
#	    it, still sets its vector;
#	(e) sql/batch_doc.sql runs exactly the SQL examples of doc/batch.md;
#	(f) pg_dump keeps the collection catalog (extension configuration) and a
#	    restored database serves the same collections.
#
# Why: "nothing is half-applied" and "never silent loss" are promises about
# failures, which the regression tests (one session, no interruptions)
# cannot see.

use strict;
use warnings;

use FindBin;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

my $node = PostgreSQL::Test::Cluster->new('batch');
$node->init;
$node->append_conf('postgresql.conf', "fsync = off\nshared_buffers = 128MB\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION vectorpg');

sub sql { return $node->safe_psql('postgres', $_[0]); }

sub fingerprint
{
	my ($table) = @_;
	return sql("SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM $table t");
}

# Write a script to a file and start psql on it in the background; returns
# [ the IPC::Run handle, \stdout, \stderr ] (the racing sessions of (d), (d3))
sub start_psql_script
{
	my ($file, $script) = @_;
	open my $fh, '>', $file or die "could not write $file: $!";
	print $fh $script;
	close $fh;
	chmod 0644, $file;
	my ($out, $err) = ('', '');
	my $h = IPC::Run::start(
		[ 'psql', '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1', '-d', $node->connstr('postgres'), '-f', $file ],
		'>', \$out, '2>', \$err);
	return [ $h, \$out, \$err ];
}

# a vector literal of dim dimensions from a seed, in SQL
sub vec_sql
{
	my ($dim, $seed) = @_;
	return "(SELECT array_agg(((($seed) * 7919 + j * 104729) % 1000) / 1000.0)::vector FROM generate_series(1, $dim) j)";
}

# ---------------------------------------------------------------------------
# (a) atomic failures leave the table unchanged
# ---------------------------------------------------------------------------

sql("SELECT vectorpg.create_collection('a', 8, 'l2')");
sql("SELECT vectorpg.upsert('a', (SELECT array_agg('k' || i) FROM generate_series(1, 1000) i),
	(SELECT array_agg(" . vec_sql(8, 'i') . ") FROM generate_series(1, 1000) i),
	(SELECT array_agg(jsonb_build_object('i', i)) FROM generate_series(1, 1000) i))");
my $before = fingerprint('a');
like($before, qr/^1000 /, '(a) 1000 items to start with');

my ($ret, $stdout, $stderr) = $node->psql('postgres',
	"SELECT * FROM vectorpg.upsert('a', (SELECT array_agg('k' || i) FROM generate_series(1, 1000) i),
	(SELECT array_agg(CASE WHEN i = 1000 THEN '[1,2]'::vector ELSE " . vec_sql(8, 'i + 1') . " END) FROM generate_series(1, 1000) i))");
like($stderr, qr/item 1000 \(id "k1000"\): expected 8 dimensions, not 2/, '(a) atomic upsert: the last item is invalid');
is(fingerprint('a'), $before, '(a) atomic upsert with an invalid item changed nothing');

($ret, $stdout, $stderr) = $node->psql('postgres',
	"SELECT * FROM vectorpg.update('a', (SELECT array_agg(CASE WHEN i = 500 THEN 'nope' ELSE 'k' || i END) FROM generate_series(1, 1000) i),
	metadata => (SELECT array_agg('{\"changed\": true}'::jsonb) FROM generate_series(1, 1000) i))");
like($stderr, qr/no item with id "nope"/, '(a) atomic update: an unknown id');
is(fingerprint('a'), $before, '(a) atomic update with an unknown id changed nothing (the others were updated first)');

($ret, $stdout, $stderr) = $node->psql('postgres',
	"SELECT * FROM vectorpg.delete('a', (SELECT array_agg(CASE WHEN i = 999 THEN NULL ELSE 'k' || i END) FROM generate_series(1, 1000) i))");
like($stderr, qr/id must not be null/, '(a) atomic delete: a null id');
is(fingerprint('a'), $before, '(a) atomic delete with a null id changed nothing');

# a failure inside the write, after two chunks of 10,000 were written
sql("CREATE TABLE r (id text PRIMARY KEY, v vector(4) NOT NULL, meta jsonb CHECK (meta ->> 'bad' IS NULL));
	SELECT vectorpg.register_collection('r', 'r', vector_column => 'v', metadata_column => 'meta', metric => 'l2');
	SELECT vectorpg.upsert('r', ARRAY['x'], ARRAY['[1,1,1,1]']::vector[]);");
my $rbefore = fingerprint('r');
($ret, $stdout, $stderr) = $node->psql('postgres',
	"SELECT * FROM vectorpg.upsert('r', (SELECT array_agg('r' || i) FROM generate_series(1, 25000) i),
	(SELECT array_agg('[1,2,3,4]'::vector) FROM generate_series(1, 25000) i),
	(SELECT array_agg(CASE WHEN i = 25000 THEN '{\"bad\": 1}'::jsonb ELSE '{}' END) FROM generate_series(1, 25000) i),
	batch_size_limit => 100000)");
like($stderr, qr/upsert into collection "r": 20000 of 25000 items/, '(a) two chunks were written before the failure');
like($stderr, qr/violates check constraint/, '(a) the last item violates the check constraint');
is(fingerprint('r'), $rbefore, '(a) atomic upsert failing in its last chunk changed nothing');

# ---------------------------------------------------------------------------
# (b) non-atomic: exactly the valid items applied, exactly the others reported
# ---------------------------------------------------------------------------

my $res = sql(q{SELECT inserted, updated, failed, status, errors FROM vectorpg.upsert('r',
	'[{"id": "b1", "values": [1, 0, 0, 0]},
	  {"id": "b2", "values": [1, 0, 0]},
	  {"id": "x", "values": [2, 2, 2, 2]},
	  {"id": "b3", "values": [1, 1, 0, 0], "metadata": {"bad": true}},
	  {"id": "b4", "values": [0, 1, 0, "Infinity"]},
	  {"id": "b1", "values": [0, 0, 0, 1]},
	  {"id": "b5", "values": [0, 0, 1, 0], "metadata": {"ok": 1}}]'::jsonb, atomic => false)});
is( $res,
	'2|1|4|partial|[{"id": "b2", "code": "22000", "message": "expected 4 dimensions, not 3", "position": 2}, '
	  . '{"id": "b3", "code": "23514", "message": "new row for relation \"r\" violates check constraint \"r_meta_check\"", "position": 4}, '
	  . '{"id": "b4", "code": "22P01", "message": "NaN and Infinity are not allowed in a vector", "position": 5}, '
	  . '{"id": "b1", "code": "21000", "message": "id repeats item 1 of the batch", "position": 6}]',
	'(b) non-atomic upsert: counts, status and the exact error rows');
is(sql("SELECT string_agg(id || '=' || v::text || coalesce(meta::text, ''), ' ' ORDER BY id) FROM r"),
	'b1=[1,0,0,0]{} b5=[0,0,1,0]{"ok": 1} x=[2,2,2,2]{}',
	'(b) exactly the valid items were applied');

# ---------------------------------------------------------------------------
# (c) cancel and crash
# ---------------------------------------------------------------------------

sql("SELECT vectorpg.create_collection('c', 32, 'l2');
	CREATE TABLE src AS SELECT i, (SELECT array_agg(random()) FROM generate_series(1, 32) j WHERE g.i > 0)::vector AS v
	FROM generate_series(1, 100000) g(i);");

# A batch of 100,000 items, ids prefix || (10000 + i): it runs for seconds
sub long_batch
{
	my ($prefix, $atomic) = @_;
	return "SELECT * FROM vectorpg.upsert('c', (SELECT array_agg('$prefix' || (10000 + i) ORDER BY i) FROM src),
		(SELECT array_agg(v ORDER BY i) FROM src), batch_size_limit => 100000, atomic => $atomic);";
}

# Start the long batch in a session and wait until its first chunk is
# written (its progress NOTICE); return the session and its backend pid
sub start_long_batch
{
	my ($session, $prefix, $atomic) = @_;
	my $pid = $session->query_safe('SELECT pg_backend_pid()');
	$session->{stderr} = '';
	$session->query_until(qr/started/, "\\echo started\n" . long_batch($prefix, $atomic) . "\n");
	my $seen = 0;
	foreach (1 .. 2400)
	{
		$session->{run}->pump_nb;
		$seen = $session->{stderr} =~ /upsert into collection "c": 10000 of 100000 items/;
		last if $seen;
		usleep(50_000);
	}
	ok($seen, "(c) $prefix: the long batch has written its first chunk");
	return $pid;
}

foreach my $atomic ('true', 'false')
{
	my $cbefore = fingerprint('c');
	my $session = $node->background_psql('postgres', on_error_stop => 0);
	my $pid = start_long_batch($session, "cancel$atomic", $atomic);
	sql("SELECT pg_cancel_backend($pid)");
	$session->query('SELECT 1');
	like($session->{stderr}, qr/canceling statement due to user request/, "(c) atomic => $atomic: the batch was cancelled");
	$session->quit;
	is(fingerprint('c'), $cbefore, "(c) atomic => $atomic: the cancelled batch left nothing");
}

# A client loading batch after batch: what is stored is exactly the batches
# that returned.  $interrupt cancels the running batch or crashes the server.
sub prefix_load
{
	my ($prefix, $interrupt) = @_;
	my $session = $node->background_psql('postgres', on_error_stop => 0);
	my $script = '';
	foreach my $b (0 .. 2)
	{
		$script .= "SELECT status FROM vectorpg.upsert('c', (SELECT array_agg('$prefix' || ($b * 1000 + i) ORDER BY i) FROM src WHERE i <= 1000),
			(SELECT array_agg(v ORDER BY i) FROM src WHERE i <= 1000), atomic => false);\n\\echo returned $b\n";
	}
	$session->query_until(qr/returned 2/, $script);
	my $pid = start_long_batch($session, $prefix, 'false');
	$interrupt->($pid);
	eval { $session->quit };
	is(sql("SELECT count(*) FROM c WHERE id LIKE '$prefix%'"), '3000',
		"(c) $prefix: exactly the 3 batches that returned are stored");
	is(sql("SELECT count(*) FROM c WHERE id LIKE '$prefix%' AND substr(id, length('$prefix') + 1)::integer > 3000"),
		'0', "(c) $prefix: nothing of the interrupted one");
}

prefix_load('pcancel', sub { sql("SELECT pg_cancel_backend($_[0])"); });
prefix_load(
	'pcrash',
	sub {
		$node->stop('immediate');
		$node->start;
	});

# vectorpg.load commits chunk by chunk: after a cancel or a crash, what is
# stored is a prefix of whole chunks, at least as long as the NOTICEs said
sql("CREATE TABLE recs AS SELECT jsonb_agg(jsonb_build_object('id', 'ld' || i, 'values', v::text::jsonb) ORDER BY i) AS j FROM src");
sub interrupted_load
{
	my ($label, $interrupt) = @_;
	sql("DELETE FROM c WHERE id LIKE 'ld%'");
	my $session = $node->background_psql('postgres', on_error_stop => 0);
	my $pid = $session->query_safe('SELECT pg_backend_pid()');
	$session->{stderr} = '';
	$session->query_until(qr/started/,
		"\\echo started\nDO \$\$ DECLARE r jsonb; res vectorpg.batch_result; BEGIN SELECT j INTO r FROM recs; CALL vectorpg.load('c', r, 5000, res); END \$\$;\n");
	my $reported = 0;
	foreach (1 .. 2400)
	{
		$session->{run}->pump_nb;
		if ($session->{stderr} =~ /.*load into collection "c": (\d+) of 100000 items committed/s)
		{
			$reported = $1;
			last if $reported >= 10000;
		}
		usleep(50_000);
	}
	cmp_ok($reported, ">=", 10000, "(c) load, $label: two chunks reported committed");
	$interrupt->($pid);
	eval { $session->quit };
	my ($count, $max) = split /\|/, sql("SELECT count(*), coalesce(max(substr(id, 3)::integer), 0) FROM c WHERE id LIKE 'ld%'");
	cmp_ok($count, '>=', $reported, "(c) load, $label: every reported chunk is stored ($count items)");
	is($count % 5000, 0, "(c) load, $label: whole chunks only");
	is($max, $count, "(c) load, $label: a prefix of the records");
}
interrupted_load('cancel', sub { sql("SELECT pg_cancel_backend($_[0])"); });
interrupted_load(
	'crash',
	sub {
		$node->stop('immediate');
		$node->start;
	});

is(sql("SELECT count(*) FROM hnsw_index_check('c_embedding_idx', true)"), '0', '(c) the hnsw index is sound after the crash');
is(sql("SELECT count(*) FROM vectorpg.collection_health('c') WHERE status <> 'ok'"), '0', '(c) the collection is healthy after the crash');

# ---------------------------------------------------------------------------
# (d) two sessions upserting the same ids
# ---------------------------------------------------------------------------

sql("SELECT vectorpg.create_collection('d', 16, 'cosine')");
my $tmp = PostgreSQL::Test::Utils::tempdir();
my @runs;
foreach my $s (1, 2)
{
	my $script = '';
	foreach my $round (1 .. 25)
	{
		# the same 300 ids, in an order of this session's own
		my $order = $s == 1 ? 'i' : '-i';
		$script .= "SELECT status FROM vectorpg.upsert('d', (SELECT array_agg('id' || (i % 300) ORDER BY $order) FROM generate_series(1, 300) i),
			(SELECT array_agg(" . vec_sql(16, "i + $s * 1000 + $round") . " ORDER BY $order) FROM generate_series(1, 300) i),
			(SELECT array_agg(jsonb_build_object('session', $s, 'round', $round) ORDER BY $order) FROM generate_series(1, 300) i));\n";
	}
	push @runs, start_psql_script("$tmp/session$s.sql", $script);
}
foreach my $run (@runs)
{
	my ($h, $out, $err) = @$run;
	$h->finish;
	is($h->result(0), 0, '(d) a session finished without error') or diag($$err);
	is(scalar(() = $$out =~ /success/g), 25, '(d) its 25 batches succeeded');
}
is(sql("SELECT count(*), count(DISTINCT id) FROM d"), '300|300', '(d) one row per id');
like(sql("SELECT DISTINCT metadata ->> 'round' FROM d"), qr/^25$/, '(d) every row holds a last-round value');

# ---------------------------------------------------------------------------
# (d3) the same race with chunks big enough for deferred, parallel inserts
# ---------------------------------------------------------------------------
# Chunks of 2,000 items or more hand their hnsw inserts to the end of the
# chunk, where parallel workers apply them (src/hnswdefer.c).  Racing
# upserts kill speculative insertions, whose TIDs a VACUUM running beside
# them may free for other rows before the apply: the apply must skip
# them.  Every row must end up indexed once, with its own vector.

# The same on a partitioned collection (a registered table hash-partitioned
# by id), whose chunks defer the inserts into each partition's index: with
# 5,000 items a call, since each partition's index is applied on its own
# and a worker is started for 2,000 items or more
sql("SELECT vectorpg.create_collection('dp', 8, 'l2')");

# A collection on a table hash-partitioned by id in two, with an hnsw index
sub partitioned_collection
{
	my ($name, $dim) = @_;
	sql("CREATE TABLE $name (id text PRIMARY KEY, embedding vector($dim) NOT NULL,
			metadata jsonb NOT NULL DEFAULT '{}') PARTITION BY HASH (id);
		CREATE TABLE ${name}_0 PARTITION OF $name FOR VALUES WITH (MODULUS 2, REMAINDER 0);
		CREATE TABLE ${name}_1 PARTITION OF $name FOR VALUES WITH (MODULUS 2, REMAINDER 1);
		CREATE INDEX ON $name USING hnsw (embedding vector_l2_ops);
		SELECT vectorpg.register_collection('$name', '$name')");
}
partitioned_collection('dq', 8);
my $cpus = `getconf _NPROCESSORS_ONLN 2>/dev/null` || 1;

# The problems hnsw_index_check (heapallindexed) finds in every hnsw index
# of a table or of its partitions
sub hnsw_problems
{
	my ($table) = @_;
	return sql("SELECT count(p.*) FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid AND ic.relkind = 'i'
		JOIN pg_am a ON a.oid = ic.relam AND a.amname = 'hnsw'
		CROSS JOIN LATERAL hnsw_index_check(i.indexrelid::regclass, true) p
		WHERE i.indrelid = '$table'::regclass
		   OR i.indrelid IN (SELECT inhrelid FROM pg_inherits WHERE inhparent = '$table'::regclass)");
}

foreach my $coll ('dp', 'dq')
{
	my $what = $coll eq 'dq' ? '(d3, partitioned)' : '(d3)';
	my $n = $coll eq 'dq' ? 5000 : 2500;
	my @bigruns;
	foreach my $s (1, 2)
	{
		my $script = "SET client_min_messages = debug1;\n";
		foreach my $round (1 .. 4)
		{
			my $order = $s == 1 ? 'i' : '-i';
			$script .= "SELECT status FROM vectorpg.upsert('$coll', (SELECT array_agg('id' || i ORDER BY $order) FROM generate_series(1, $n) i),
				(SELECT array_agg((SELECT array_agg(sin((i * 3 + $s * 100000 + $round * 10000) * 0.731 + j * 1.317) ORDER BY j)::vector FROM generate_series(1, 8) j) ORDER BY $order) FROM generate_series(1, $n) i),
				(SELECT array_agg(jsonb_build_object('session', $s, 'round', $round) ORDER BY $order) FROM generate_series(1, $n) i),
				batch_size_limit => $n);\n";
		}
		push @bigruns, start_psql_script("$tmp/big${coll}session$s.sql", $script);
	}
	my $vacuums = 0;
	while (grep { $_->[0]->pumpable } @bigruns)
	{
		$node->psql('postgres', "VACUUM $coll");
		$vacuums++;
		$_->[0]->pump_nb foreach grep { $_->[0]->pumpable } @bigruns;
	}
	my $workers = 0;
	foreach my $run (@bigruns)
	{
		my ($h, $out, $err) = @$run;
		$h->finish;
		is($h->result(0), 0, "$what a session finished without error") or diag($$err);
		is(scalar(() = $$out =~ /success/g), 4, "$what its 4 batches of $n succeeded");
		$workers++ while $$err =~ /deferred inserts into "${coll}_\w*" with [1-9][0-9]* parallel workers/g;
	}
	note("$what $vacuums vacuums ran beside the batches; $workers applies had workers");
	SKIP:
	{
		skip 'one core: the apply runs without workers', 1 if $cpus < 2;
		cmp_ok($workers, '>', 0, "$what parallel workers applied deferred inserts");
	}
	is(sql("SELECT count(*), count(DISTINCT id) FROM $coll"), "$n|$n", "$what one row per id");
	is(hnsw_problems($coll), '0', "$what every row is indexed with its vector, and the index is sound");
}

# (d4) a crash while parallel workers apply a chunk's inserts: the batch
# was never committed, so the table has none of it, and the index (whose
# pages the workers were writing) is sound after recovery and takes more.
# Again on a hash-partitioned collection, whose partitions' indexes are
# applied one after the other (10,000 items each)
sql("SELECT vectorpg.create_collection('cp', 64, 'l2')");
partitioned_collection('cq', 64);
foreach my $coll ('cp', 'cq')
{
	my $what = $coll eq 'cq' ? '(d4, partitioned)' : '(d4)';
	my $items = sub {
		my ($n) = @_;
		return "(SELECT array_agg('c' || i) FROM generate_series(1, $n) i),
			(SELECT array_agg((SELECT array_agg(sin(i * 0.731 + j * 1.317) ORDER BY j)::vector FROM generate_series(1, 64) j)) FROM generate_series(1, $n) i), batch_size_limit => $n";
	};
	SKIP:
	{
		skip 'one core: the apply runs without workers', 5 if $cpus < 2;
		my $session = $node->background_psql('postgres', on_error_stop => 0);
		my $pid = $session->query_safe('SELECT pg_backend_pid()');
		$session->query_until(qr/started/,
			"\\echo started\nSELECT status FROM vectorpg.upsert('$coll', " . $items->(20000) . ");\n");
		my $poller = $node->background_psql('postgres');
		my $seen = 0;
		my $deadline = time() + 120;
		while (time() < $deadline)
		{
			$seen = $poller->query_safe(
				"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'parallel worker' AND leader_pid = $pid");
			last if $seen > 0;
			usleep(5_000);
		}
		ok($seen > 0, "$what a parallel worker is applying the batch's inserts");
		$node->stop('immediate');
		eval { $session->quit };
		eval { $poller->quit };
		$node->start;
		is(sql("SELECT count(*) FROM $coll"), '0', "$what after the crash the table has nothing of the batch");
		is(hnsw_problems($coll), '0', "$what the index the workers were writing is sound after recovery");
		is(sql("SELECT inserted FROM vectorpg.upsert('$coll', " . $items->(2500) . ")"),
			'2500', "$what and takes a new batch");
		sql("VACUUM $coll");
		is(hnsw_problems($coll), '0', "$what sound after the new batch and a VACUUM");
	}
}

# ---------------------------------------------------------------------------
# (d2) an update re-sending a row's vector races a writer that changes it
# ---------------------------------------------------------------------------
# vectorpg.update sends the items whose vector is unchanged through an
# UPDATE that leaves the vector column out (far cheaper for the hnsw index).
# A writer that changes such a row's vector and commits while the batch
# waits for the row's lock must not cost the batch its vector: the item
# falls through to the statement that names the column.

sql("SELECT vectorpg.create_collection('race', 3, 'l2');
	SELECT vectorpg.upsert('race', ARRAY['r1', 'r2'], ARRAY['[1,1,1]', '[2,2,2]']::vector[]);");
{
	my $writer = $node->background_psql('postgres', on_error_stop => 1);
	$writer->query_safe("BEGIN; UPDATE race SET embedding = '[5,5,5]', metadata = '{\"w\": 1}' WHERE id = 'r1';");
	my $batch = $node->background_psql('postgres', on_error_stop => 0);
	$batch->query_until(qr/started/,
		"\\echo started\nSELECT status FROM vectorpg.update('race', ARRAY['r1', 'r2'], "
		  . "vectors => ARRAY['[1,1,1]', '[2,2,2]']::vector[], "
		  . "metadata => ARRAY['{\"b\": 1}', '{\"b\": 2}']::jsonb[]);\n");
	my $waiting = 0;
	foreach (1 .. 600)
	{
		$waiting = sql("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%race%'");
		last if $waiting;
		usleep(50_000);
	}
	is($waiting, '1', '(d2) the batch waits for the row the writer changed');
	$writer->query_safe('COMMIT');
	my $rows = '';
	foreach (1 .. 600)
	{
		$rows = sql("SELECT string_agg(id || '=' || embedding::text || ' ' || metadata::text, ', ' ORDER BY id) FROM race");
		last if $rows =~ /"b": 1/;
		usleep(50_000);
	}
	is($rows, 'r1=[1,1,1] {"b": 1, "w": 1}, r2=[2,2,2] {"b": 2}',
		'(d2) the batch set its vector on the row the writer changed, and merged its metadata into the writer\'s');
	$batch->quit;
	$writer->quit;
	is(sql("SELECT count(*) FROM hnsw_index_check('race_embedding_idx', true)"), '0', '(d2) the index is sound');
}

# ---------------------------------------------------------------------------
# (e) the documentation's examples are the regression test's statements
# ---------------------------------------------------------------------------

my $root = "$FindBin::Bin/../..";
my $doc = slurp_file("$root/doc/batch.md");
my @blocks = $doc =~ /^```sql\n(.*?)^```\n/msg;
my $from_doc = join("\n", @blocks);
my $test = slurp_file("$root/sql/batch_doc.sql");
$test =~ s/\A(?:--[^\n]*\n|\\[^\n]*\n)*\n//;    # the header: comments and psql settings
is($test, $from_doc . "\n", '(e) sql/batch_doc.sql is exactly the SQL blocks of doc/batch.md');

# ---------------------------------------------------------------------------
# (f) dump and restore
# ---------------------------------------------------------------------------

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql(
	'src', q{CREATE EXTENSION vectorpg;
	CREATE SCHEMA app;
	SELECT vectorpg.create_collection('docs', 2, 'cosine', schema => 'app', text_config => 'english');
	SELECT vectorpg.upsert('docs', ARRAY['a', 'b'], ARRAY['[1,0]', '[0,1]']::vector[],
		ARRAY['{"k": 1}', '{"k": 2}']::jsonb[], ARRAY['red apples', 'green pears']);
	CREATE TABLE app.mine (n integer PRIMARY KEY, e vector(2), m jsonb);
	INSERT INTO app.mine VALUES (1, '[1,1]', '{}');
	SELECT vectorpg.register_collection('mine', 'app.mine', id_column => 'n', vector_column => 'e',
		metadata_column => 'm', metric => 'l2');});
my $dump = "$tmp/src.dump";
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('src') ], '(f) pg_dump');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->command_ok([ 'pg_restore', '-d', $node->connstr('dst'), $dump ], '(f) pg_restore');
my $catalog = q{SELECT string_agg(concat_ws(' ', name, relation, id_column, vector_column, metadata_column,
	text_column, text_config, dimension, metric, owns_table, options), '; ' ORDER BY name) FROM vectorpg.collections};
is($node->safe_psql('dst', $catalog), $node->safe_psql('src', $catalog), '(f) the restored catalog is the same');
is( $node->safe_psql(
		'dst', q{SELECT string_agg(id, ',' ORDER BY rank) FROM vectorpg.search('docs', ARRAY['[1,0.1]']::vector[], k => 2)}),
	'a,b',
	'(f) the restored collection answers searches');
is( $node->safe_psql(
		'dst', q{SELECT string_agg(id, ',') FROM vectorpg.hybrid_search('docs', '[0,1]', 'apple', k => 1)}),
	'a', '(f) and hybrid searches through its text column');
is($node->safe_psql('dst', q{SELECT count(*) FROM vectorpg.collection_health() WHERE status = 'error'}),
	'0', '(f) the restored collections are healthy');

$node->stop;
done_testing();
