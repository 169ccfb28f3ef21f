# 060_mirror_pinecone.pl: mirroring a local table to the strict fake
# Pinecone (doc/mirror.md).
#
# What it proves: vectorpg.mirror refuses bad arguments with the documented
# SQLSTATEs; a backfill interrupted by a remote outage (503s) backs off and
# finishes, after which the remote equals the local table exactly (ids,
# float32 values, metadata); inserts, updates, deletes, a changed id and
# TRUNCATE reach the remote; a rolled-back transaction enqueues and sends
# nothing (the fake's request log shows no write); a 429 storm is outlived;
# items the remote rejects become dead letters with its reason and HTTP
# status, the mirror parks after max_errors and mirror_retry sends them
# again; pause and resume; mirror_verify finds drift (a changed and a
# missing record) and mirror_resync repairs it; mirror_doctor reports a
# wrong dimension and refused credentials in plain words; mirror_drop with
# remote_cleanup removes the triggers and the remote records; a sparse_column
# is sent as sparseValues (NULL removes them, invalid ones become a dead
# letter with the reason) and mirror_verify compares it; the API key
# appears nowhere: not in the catalog, the outbox, the dead letters, the
# status view or the server log.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use VectorpgFake;
use VectorpgMirror;
use Time::HiRes qw(usleep);

my $key = 'pc-mirror-secret-60';
my $pc = VectorpgFake->new('pinecone', api_key => $key);
$pc->create_index(name => 'docs', dimension => 4, metric => 'cosine');
$pc->create_index(name => 'wide', dimension => 8, metric => 'cosine');

my $node = PostgreSQL::Test::Cluster->new('mirror_pinecone');
$node->init;
$node->append_conf('postgresql.conf',
	"fsync = off\nvectorpg.mirror_naptime_ms = 50\nlog_min_messages = debug1\nlog_statement = none\n");
$node->start;

my $url = $pc->url;
$node->safe_psql(
	'postgres', qq{
	CREATE EXTENSION vectorpg;
	CREATE SERVER pc FOREIGN DATA WRAPPER vectorpg_fdw
		OPTIONS (provider 'pinecone', url '$url', allow_insecure 'true',
			max_retries '1', retry_budget_ms '2000', timeout_ms '5000');
	CREATE USER MAPPING FOR CURRENT_USER SERVER pc OPTIONS (api_key '$key');
	CREATE FOREIGN TABLE docs_remote (id text, embedding vector(4), metadata jsonb)
		SERVER pc OPTIONS (index 'docs', namespace 'ns');
	CREATE TABLE docs (id text PRIMARY KEY, embedding vector(4), genre text, year int);
	INSERT INTO docs SELECT 'd' || i,
		format('[%s,%s,%s,%s]', i, (i * 7) % 13 - 6.5, 1.0 / i, 0.1 * i)::vector,
		CASE WHEN i % 5 <> 0 THEN 'g' || (i % 3) END, 2000 + i % 25
	FROM generate_series(1, 300) i;
	CREATE INDEX ON docs USING hnsw (embedding vector_cosine_ops);
});

my $remote = sub { VectorpgMirror::pinecone_state($pc, 'docs', 'ns') };
my $local = sub { VectorpgMirror::local_state($node, 'docs', metadata => [qw(genre year)]) };
my $synced = sub {
	my ($what) = @_;
	my $r = VectorpgMirror::wait_synced($node, 'docs', $remote, $local, timeout => 90);
	is($r, '', "$what: the remote equals the local table");
};

# --- argument errors ----------------------------------------------------------

my @bad = (
	[ "SELECT vectorpg.mirror('docs', 'docs')", qr/is not a foreign table of vectorpg_fdw/, '42809' ],
	[ "SELECT vectorpg.mirror('docs_remote', 'docs_remote')", qr/is not a table/, '42809' ],
	[ "SELECT vectorpg.mirror('docs', 'docs_remote', id_column => 'genre')",
		qr/has no unique index/, '42P10' ],
	[ "SELECT vectorpg.mirror('docs', 'docs_remote', id_column => 'nope')",
		qr/column "nope" of relation "(public\.)?docs" does not exist/, '42703' ],
	[ "SELECT vectorpg.mirror('docs', 'docs_remote', batch_size => 0)",
		qr/batch_size must be between 1 and 10000/, '22023' ],
	[ "SELECT vectorpg.mirror('docs', 'docs_remote', metadata_columns => '{genre}', metadata_column => 'genre')",
		qr/cannot both be given/, '22023' ],
	[ "SELECT vectorpg.mirror('docs', 'docs_remote', sparse_column => 'genre')",
		qr/has no json or jsonb column "genre"/, '42703' ],
	[ "SELECT vectorpg.mirror_pause('nope')", qr/mirror "nope" does not exist/, '42704' ]);
for my $b (@bad)
{
	my ($ret, $out, $err) = $node->psql('postgres', "\\set VERBOSITY verbose\n$b->[0]");
	like($err, $b->[1], "refused: $b->[0]");
	like($err, qr/$b->[2]/, "SQLSTATE $b->[2]: $b->[0]");
}
my $limits = $node->safe_psql('postgres',
	"SELECT string_agg(format('%s=%s..%s', name, min, max), ' ' ORDER BY name) FROM vectorpg.mirror_limits()");
like($limits, qr/batch_size=1\.\.10000/, 'mirror_limits lists the ranges');

# --- a backfill interrupted by an outage ------------------------------------

# the first chunks are slow and succeed, then the remote fails 8 times with 503
$pc->fault(mode => 'latency', delay_ms => 150, count => 2, path => 'vectors/upsert');
$pc->fault(mode => 'status', status => 503, count => 8, path => 'vectors/upsert');
$node->safe_psql('postgres',
	"SELECT vectorpg.mirror('docs', 'docs_remote', metadata_columns => '{genre,year}',
		batch_size => 50, max_errors => 3, backoff_cap_ms => 400)");
my ($saw_backoff, $saw_partial) = (0, 0);
for (my $i = 0; $i < 300; $i++)
{
	my $s = $node->safe_psql('postgres',
		"SELECT state, backfill_rows, last_error IS NOT NULL FROM vectorpg.mirror_status");
	my ($state, $rows, $err) = split /\|/, $s;
	$saw_partial = 1 if $rows > 0 && $rows < 300 && $err eq 't';
	$saw_backoff = 1 if $state eq 'backoff';
	last if $saw_backoff && $saw_partial;
	usleep(20_000);
}
ok($saw_partial, 'outage: the backfill was interrupted part of the way');
ok($saw_backoff, 'outage: the status view shows the backoff');
$synced->('after an outage in the middle of the backfill');
my $st = $node->safe_psql('postgres',
	"SELECT state, backfill_pct, error_count, backfill_rows, rows_sent >= 300 FROM vectorpg.mirror_status");
is($st, 'running|100.0|0|300|t', 'outage: transient failures are not counted as errors');
is($pc->faults->[-1]{fired}, 8, 'outage: every 503 was met');
like($node->safe_psql('postgres', 'SELECT last_error FROM vectorpg.mirror_status'),
	qr/503|unavailable|Service/i, 'outage: the last error is shown');
$pc->clear_faults;

# --- changes, and rollback -------------------------------------------------------

$pc->reset_log;
$node->safe_psql('postgres', "BEGIN; INSERT INTO docs VALUES ('rolled', '[1,2,3,4]', 'x', 1);
	UPDATE docs SET year = 0 WHERE id = 'd1'; DELETE FROM docs WHERE id = 'd2'; ROLLBACK;");
is($node->safe_psql('postgres', 'SELECT count(*) FROM vectorpg.mirror_outbox'), '0',
	'rollback: nothing enqueued');
sleep(1);
my @writes = grep { $_->{path} =~ m{/vectors/(upsert|delete)} } @{ $pc->requests };
is(scalar @writes, 0, 'rollback: the fake received no write');

$node->safe_psql(
	'postgres', q{
	INSERT INTO docs VALUES ('alt1', '[1,1,1,2]', 'a', 1);
	ALTER TABLE docs ADD COLUMN note text;
	INSERT INTO docs VALUES ('alt2', '[1,1,1,3]', 'b', 2, 'a column was added');
	INSERT INTO docs VALUES ('new1', '[1,2,3,4]', 'fresh', 1999), ('new2', '[0.5,0.25,0.125,1e-3]', NULL, NULL);
	UPDATE docs SET genre = 'changed', embedding = '[9,8,7,6]' WHERE id IN ('d3', 'd4');
	UPDATE docs SET year = year + 1 WHERE id = 'd5';
	UPDATE docs SET year = year + 1 WHERE id = 'd5';
	DELETE FROM docs WHERE id IN ('d6', 'd7');
	UPDATE docs SET id = 'd8-renamed' WHERE id = 'd8';
	UPDATE docs SET embedding = NULL WHERE id = 'd9';
	BEGIN; INSERT INTO docs VALUES ('sp', '[1,1,1,1]', 'a', 1); SAVEPOINT s;
	INSERT INTO docs VALUES ('sp-gone', '[1,1,1,1]', 'a', 1); ROLLBACK TO s; COMMIT;
});
$synced->('after inserts (around an ALTER TABLE), updates, deletes, a changed id and a NULL vector');
my $r = $remote->();
ok(!exists $r->{d8} && exists $r->{'d8-renamed'}, 'a changed id deletes the old record');
ok(!exists $r->{d9}, 'a NULL vector deletes the record');
ok(!exists $r->{'sp-gone'}, 'a rolled-back savepoint sends nothing');

# --- a 429 storm --------------------------------------------------------------

$pc->fault(mode => 'status', status => 429, count => 10, retry_after => 0, path => 'vectors/');
for my $i (1 .. 10)
{
	$node->safe_psql('postgres',
		"UPDATE docs SET year = year + 1 WHERE id IN (SELECT id FROM docs ORDER BY id LIMIT 20 OFFSET $i * 20);
		 INSERT INTO docs VALUES ('storm$i', '[$i,1,1,1]', 'storm', $i)");
}
$synced->('after a 429 storm');
is($pc->faults->[-1]{fired}, 10, '429 storm: every 429 was met');
is($node->safe_psql('postgres', 'SELECT state || error_count FROM vectorpg.mirror_status'),
	'running0', '429 storm: no permanent error counted');
$pc->clear_faults;

# --- dead letters, parking, retry --------------------------------------------------

$pc->fault(mode => 'status', status => 400, count => 1, path => 'vectors/upsert',
	message => 'vector rejected by the test');
$node->safe_psql('postgres', "INSERT INTO docs VALUES ('bad1', '[1,2,3,5]', 'x', 1)");
$node->poll_query_until('postgres',
	'SELECT count(*) = 1 FROM vectorpg.mirror_dead_letters') or die 'no dead letter';
my $dl = $node->safe_psql('postgres',
	"SELECT row_id, operation, http_status, reason FROM vectorpg.mirror_dead_letters");
like($dl, qr/^bad1\|upsert\|400\|.*vector rejected by the test/, 'dead letter: the id, the HTTP status and the remote\'s reason');
$node->poll_query_until('postgres',
	"SELECT pending = 0 AND error_count = 1 AND state = 'running' FROM vectorpg.mirror_status")
  or die 'dead letter not counted';
pass('dead letter: counted as one permanent error; the mirror goes on');

# every upsert rejected from now on: two more rejections park the mirror
$pc->fault(mode => 'status', status => 400, path => 'vectors/upsert',
	message => 'rejected again');
$node->safe_psql('postgres', "INSERT INTO docs VALUES ('bad2', '[2,2,3,5]', 'x', 1), ('bad3', '[3,2,3,5]', 'x', 1), ('bad4', '[4,2,3,5]', 'x', 1)");
$node->poll_query_until('postgres', "SELECT state = 'parked' FROM vectorpg.mirror_status")
  or die 'not parked';
$st = $node->safe_psql('postgres',
	'SELECT error_count, dead_letters, pending, last_error FROM vectorpg.mirror_status');
like($st, qr/^3\|3\|1\|item rejected: .*rejected again/,
	'parked after max_errors, the error visible, the rest still pending');
my $doc = $node->safe_psql('postgres',
	"SELECT string_agg(format('%s %s %s', \"check\", ok, detail), E'\\n') FROM vectorpg.mirror_doctor('docs')");
like($doc, qr/state f Parked after 3 permanent errors/, 'doctor: parked, in plain words');
like($doc, qr/dead letters f The remote rejected 3 items/, 'doctor: dead letters');
$node->safe_psql('postgres', "INSERT INTO docs VALUES ('while-parked', '[1,2,3,6]', 'x', 1)");
sleep(1);
ok(!exists $remote->()->{'while-parked'}, 'a parked mirror sends nothing');
$pc->clear_faults;
is($node->safe_psql('postgres', "SELECT vectorpg.mirror_retry('docs')"), '3',
	'retry: the dead letters are re-queued');
$synced->('after mirror_retry');
is($node->safe_psql('postgres',
	'SELECT state, error_count, dead_letters FROM vectorpg.mirror_status'),
	'running|0|0', 'retry: unparked, errors cleared');

# --- pause and resume -------------------------------------------------------------

$node->safe_psql('postgres', "SELECT vectorpg.mirror_pause('docs')");
$node->safe_psql('postgres', "INSERT INTO docs VALUES ('paused', '[1,2,3,7]', 'p', 1)");
sleep(1);
is($node->safe_psql('postgres', 'SELECT state, pending FROM vectorpg.mirror_status'),
	'paused|1', 'pause: changes wait in the outbox');
ok(!exists $remote->()->{paused}, 'pause: nothing sent');
$node->safe_psql('postgres', "SELECT vectorpg.mirror_resume('docs')");
$synced->('after mirror_resume');

# --- verify, drift, resync ------------------------------------------------------------

my $v = $node->safe_psql('postgres',
	"SELECT local_count, remote_count, checked, missing, different, extra, in_sync FROM vectorpg.mirror_verify('docs')");
my $n = $node->safe_psql('postgres', 'SELECT count(*) FROM docs WHERE embedding IS NOT NULL');
is($v, "$n|$n|$n|0|0|0|t", 'verify: in sync, every row compared');
$pc->upsert(index => 'docs', namespace => 'ns',
	vectors => [ { id => 'd10', values => [ 1, 1, 1, 1.5 ], metadata => { genre => 'g1' } } ]);
$pc->pinecone_call(index => 'docs', path => '/vectors/delete',
	body => { ids => ['d11'], namespace => 'ns' });
$pc->upsert(index => 'docs', namespace => 'ns',
	vectors => [ { id => 'stray', values => [ 1, 1, 1, 1 ] } ]);
$v = $node->safe_psql('postgres',
	"SELECT checked, missing, different, extra, in_sync, examples FROM vectorpg.mirror_verify('docs')");
like($v, qr/^$n\|1\|1\|1\|f\|/, 'verify: one missing, one different, one extra');
like($v, qr/"id": "d10", "problem": "vector and metadata differ"/, 'verify: names the changed record');
like($v, qr/"id": "d11", "problem": "missing remotely"/, 'verify: names the missing record');
$v = $node->safe_psql('postgres',
	"SELECT checked, extra IS NULL FROM vectorpg.mirror_verify('docs', sample => 10)");
is($v, '10|t', 'verify: a sample compares that many rows; extra is not knowable');
$node->safe_psql('postgres', "SELECT vectorpg.mirror_resync('docs')");
$node->poll_query_until('postgres',
	"SELECT NOT backfilling FROM vectorpg.mirror_status") or die 'resync did not finish';
$v = $node->safe_psql('postgres',
	"SELECT missing, different, extra FROM vectorpg.mirror_verify('docs')");
is($v, '0|0|1', 'resync: drift repaired; the stray remote record stays (documented)');

$pc->pinecone_call(index => 'docs', path => '/vectors/delete',
	body => { ids => ['stray'], namespace => 'ns' });

# --- doctor ------------------------------------------------------------------------

$doc = $node->safe_psql('postgres',
	"SELECT string_agg(format('%s %s', \"check\", ok), ',') FROM vectorpg.mirror_doctor('docs')");
is($doc, 'source t,capture t,target t,credentials t,dimension t,metric t,worker t,state t,dead letters t',
	'doctor: everything fine');
$node->safe_psql(
	'postgres', qq{
	CREATE FOREIGN TABLE wide_remote (id text, embedding vector(8), metadata jsonb)
		SERVER pc OPTIONS (index 'wide');
	CREATE SERVER pc_bad FOREIGN DATA WRAPPER vectorpg_fdw
		OPTIONS (provider 'pinecone', url '$url', allow_insecure 'true', max_retries '0');
	CREATE USER MAPPING FOR CURRENT_USER SERVER pc_bad OPTIONS (api_key 'wrong-key');
	CREATE FOREIGN TABLE bad_remote (id text, embedding vector(4)) SERVER pc_bad OPTIONS (index 'docs');
	CREATE TABLE small (id int PRIMARY KEY, embedding vector(4));
	SELECT vectorpg.mirror('small', 'wide_remote', name => 'wide', backfill => false);
	SELECT vectorpg.mirror('small', 'bad_remote', name => 'badkey', backfill => false);
});
$doc = $node->safe_psql('postgres',
	"SELECT detail FROM vectorpg.mirror_doctor('wide') WHERE \"check\" = 'dimension' AND NOT ok");
like($doc, qr/The remote has dimension 8 but the local vectors have 4/, 'doctor: wrong dimension in plain words');
$doc = $node->safe_psql('postgres',
	"SELECT detail FROM vectorpg.mirror_doctor('badkey') WHERE \"check\" = 'credentials' AND NOT ok");
like($doc, qr/refused the credentials/, 'doctor: refused credentials in plain words');
unlike($doc, qr/wrong-key/, 'doctor: the key is not shown');
$node->safe_psql('postgres',
	"SELECT vectorpg.mirror_drop('wide'); SELECT vectorpg.mirror_drop('badkey')");

# --- TRUNCATE --------------------------------------------------------------------

$node->safe_psql('postgres', 'SELECT vectorpg.mirror_drop(\'docs\')');
$node->safe_psql('postgres', "SELECT vectorpg.mirror('docs', 'docs_remote', metadata_columns => '{genre,year}', backfill => false)");
$node->safe_psql('postgres', "DELETE FROM docs WHERE id NOT LIKE 'd1%'");
$synced->('after deleting most rows');
$node->safe_psql('postgres', "TRUNCATE docs; INSERT INTO docs VALUES ('after', '[1,2,3,4]', 'a', 1)");
$synced->('after TRUNCATE and an insert');
is(scalar keys %{ $remote->() }, 1, 'truncate: the remote holds only the new row');

# --- sparse values (a dotproduct index) ----------------------------------------------

$pc->create_index(name => 'hyb', dimension => 4, metric => 'dotproduct');
$node->safe_psql(
	'postgres', q{
	CREATE FOREIGN TABLE hyb_remote (id text, embedding vector(4), metadata jsonb,
		sparse_values jsonb) SERVER pc OPTIONS (index 'hyb');
	CREATE TABLE hyb (id text PRIMARY KEY, embedding vector(4), sv jsonb);
	INSERT INTO hyb SELECT 'h' || i, format('[%s,1,2,3]', i)::vector,
		CASE WHEN i % 4 <> 0 THEN jsonb_build_object('indices', jsonb_build_array(i, 4294967295),
			'values', jsonb_build_array(0.1 * i, 1.0 / 3)) END
	FROM generate_series(1, 20) i;
	SELECT vectorpg.mirror('hyb', 'hyb_remote', sparse_column => 'sv', batch_size => 6);
});
$node->poll_query_until('postgres',
	"SELECT NOT backfilling AND pending = 0 FROM vectorpg.mirror_status WHERE name = 'hyb'")
  or die 'the sparse mirror did not catch up';
my $hyb = $pc->state->{indexes}{hyb}{namespaces}{''} // {};
is(scalar(keys %$hyb), 20, 'sparse mirror: every row arrived');
is_deeply([ $hyb->{h5}{sparseValues}{indices}, exists $hyb->{h4}{sparseValues} ? 1 : 0 ],
	[ [ 5, 4294967295 ], 0 ], 'sparse mirror: sparseValues as the row has them; none for a NULL');
$node->safe_psql('postgres', q{UPDATE hyb SET sv = NULL WHERE id = 'h5';
	UPDATE hyb SET sv = '{"indices": [1], "values": [2]}' WHERE id = 'h8'});
$node->poll_query_until('postgres', "SELECT pending = 0 FROM vectorpg.mirror_status WHERE name = 'hyb'")
  or die;
$hyb = $pc->state->{indexes}{hyb}{namespaces}{''} // {};
is_deeply([ exists $hyb->{h5}{sparseValues} ? 1 : 0, $hyb->{h8}{sparseValues}{indices} ], [ 0, [1] ],
	'sparse mirror: an update to NULL removes them, another sets them');
like($node->safe_psql('postgres', "SELECT in_sync, different FROM vectorpg.mirror_verify('hyb')"),
	qr/^t\|0$/, 'sparse mirror: verify finds the remote equal, sparse values included');
$node->safe_psql('postgres', q{UPDATE hyb SET sv = '{"indices": [1, 1], "values": [2, 3]}' WHERE id = 'h9'});
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM vectorpg.mirror_dead_letters WHERE row_id = 'h9'") or die 'no dead letter';
like($node->safe_psql('postgres', "SELECT reason FROM vectorpg.mirror_dead_letters WHERE row_id = 'h9'"),
	qr/sparse index 1 appears more than once/, 'sparse mirror: invalid sparse values are a dead letter with the reason');
$node->safe_psql('postgres', "SELECT vectorpg.mirror_drop('hyb')");

# --- secrets, drop -----------------------------------------------------------------

my $leak = $node->safe_psql(
	'postgres', qq{
	SELECT (SELECT count(*) FROM vectorpg.mirrors m WHERE m::text LIKE '%$key%')
		 + (SELECT count(*) FROM vectorpg.mirror_outbox o WHERE o::text LIKE '%$key%')
		 + (SELECT count(*) FROM vectorpg.mirror_dead_letters d WHERE d::text LIKE '%$key%')
		 + (SELECT count(*) FROM vectorpg.mirror_status s WHERE s::text LIKE '%$key%')});
is($leak, '0', 'the key is in no mirror table or view');

$node->safe_psql('postgres', "SELECT vectorpg.mirror_drop('docs', remote_cleanup => true)");
is(scalar keys %{ $remote->() }, 0, 'drop with remote_cleanup: the remote records are gone');
is($node->safe_psql('postgres',
	"SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'vectorpg_mirror%'"), '0',
	'drop: the triggers are gone');
$node->safe_psql('postgres', "INSERT INTO docs VALUES ('x', '[1,2,3,4]', 'a', 1)");
is($node->safe_psql('postgres', 'SELECT count(*) FROM vectorpg.mirror_outbox'), '0',
	'drop: changes are no longer captured');

$node->stop;
my $log = slurp_file($node->logfile);
unlike($log, qr/\Q$key\E/, 'the key is not in the server log');
like($log, qr/vectorpg mirror worker started/, 'the server log shows the worker');

done_testing();
