# 061_mirror_crash.pl: the mirror loses nothing across crashes and under
# concurrent writers (doc/mirror.md, "Crashes and restarts").
#
# What it proves, each time by waiting for the mirror to catch up and then
# comparing the fake Pinecone's state with the local table exactly (ids,
# float32 values, metadata):
# - kill -9 of the worker while it sends: the postmaster restarts every
#   backend, and the worker comes back by itself (bgw_restart_time);
# - an immediate stop of PostgreSQL while draining, then a restart: the
#   outbox survived, and looking at the status view starts the worker;
# - an immediate stop in the middle of a backfill: the acknowledged progress
#   survived and the backfill resumes from its cursor, not from the start;
# - five pgbench clients mixing inserts (upserts), updates and deletes of
#   overlapping ids while the worker drains;
# - racing launchers end with one worker.

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

my $key = 'pc-mirror-secret-61';
my $pc = VectorpgFake->new('pinecone', api_key => $key);
$pc->create_index(name => 'docs', dimension => 8, metric => 'euclidean');
$pc->config(log => 0);

my $node = PostgreSQL::Test::Cluster->new('mirror_crash');
$node->init;
$node->append_conf('postgresql.conf',
	"fsync = off\nvectorpg.mirror_naptime_ms = 50\nrestart_after_crash = on\nlog_statement = none\n");
$node->start;

my $url = $pc->url;
$node->safe_psql(
	'postgres', qq{
	CREATE EXTENSION vectorpg;
	CREATE SERVER pc FOREIGN DATA WRAPPER vectorpg_fdw
		OPTIONS (provider 'pinecone', url '$url', allow_insecure 'true',
			max_retries '1', retry_budget_ms '2000', timeout_ms '5000');
	CREATE USER MAPPING FOR CURRENT_USER SERVER pc OPTIONS (api_key '$key');
	CREATE FOREIGN TABLE docs_remote (id text, embedding vector(8), metadata jsonb)
		SERVER pc OPTIONS (index 'docs');
	CREATE TABLE docs (id text PRIMARY KEY, embedding vector(8), attrs jsonb);
	INSERT INTO docs SELECT 'd' || i,
		format('[%s,%s,%s,%s,%s,%s,%s,%s]', i, -i, i / 3.0, 1, 2, 3, i % 7, 0.5)::vector,
		jsonb_build_object('n', i, 'kind', 'seed', 'tags', jsonb_build_array('a', 'b' || i % 3))
	FROM generate_series(1, 1500) i;
	SELECT vectorpg.mirror('docs', 'docs_remote', metadata_column => 'attrs',
		batch_size => 200, backoff_cap_ms => 500);
});

my $remote = sub { VectorpgMirror::pinecone_state($pc, 'docs', '') };
my $local = sub { VectorpgMirror::local_state($node, 'docs', metadata_column => 'attrs') };
my $synced = sub {
	my ($what) = @_;
	my $r = VectorpgMirror::wait_synced($node, 'docs', $remote, $local, timeout => 120);
	is($r, '', "$what: the remote equals the local table");
};
my $workers = sub {
	return $node->safe_psql('postgres',
		"SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'vectorpg mirror worker'");
};
$synced->('backfill');

# --- kill -9 of the worker while it sends ------------------------------------------

$pc->fault(mode => 'latency', delay_ms => 300, path => 'vectors/upsert');
$node->safe_psql('postgres',
	"UPDATE docs SET attrs = attrs || '{\"kind\": \"killed\"}' WHERE id LIKE 'd1%'");
$node->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'vectorpg mirror worker'
	   AND query = 'mirror: draining' AND state = 'active'")
  or die 'worker not draining';
my $pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'vectorpg mirror worker'");
ok(kill('KILL', $pid), "kill -9 of the worker ($pid)");
# every backend restarts; wait until the server accepts connections again
$node->poll_query_until('postgres', 'SELECT true') or die 'no restart after the crash';
my $back = 0;
for (my $i = 0; $i < 100; $i++)
{
	my $n = eval { $workers->() } // 0;
	if ($n eq '1') { $back = 1; last; }
	usleep(100_000);
}
ok($back, 'the worker came back by itself after the crash-restart');
like(slurp_file($node->logfile), qr/terminated by signal 9: Killed/, 'the postmaster saw the crash');
$pc->clear_faults;
$synced->('after kill -9 of the worker');

# --- immediate stop while draining ------------------------------------------------

$pc->fault(mode => 'latency', delay_ms => 300, path => 'vectors/upsert');
$node->safe_psql('postgres',
	"INSERT INTO docs SELECT 'i' || i, format('[%s,1,1,1,1,1,1,%s]', i, i)::vector,
		jsonb_build_object('n', i, 'kind', 'stopped') FROM generate_series(1, 600) i;
	 DELETE FROM docs WHERE id LIKE 'd2%'");
$node->poll_query_until('postgres',
	"SELECT count(*) > 0 FROM pg_stat_activity WHERE backend_type = 'vectorpg mirror worker'
	   AND query = 'mirror: draining' AND state = 'active'")
  or die 'worker not draining';
$node->stop('immediate');
$node->start;
is($workers->(), '0', 'after an immediate stop and restart no worker runs yet');
ok($node->safe_psql('postgres', 'SELECT pending > 0 FROM vectorpg.mirror_status') eq 't',
	'the outbox survived');
$pc->clear_faults;
$synced->('after an immediate stop while draining');
is($workers->(), '1', 'looking at the status view started the worker');

# --- immediate stop in the middle of a backfill: it resumes from its cursor ---------

$pc->fault(mode => 'latency', delay_ms => 300, path => 'vectors/upsert');
$node->safe_psql('postgres', "SELECT vectorpg.mirror_resync('docs')");
$node->poll_query_until('postgres', "SELECT backfill_rows >= 400 FROM vectorpg.mirror_status")
  or die 'backfill not under way';
$node->stop('immediate');
$node->start;
my $rows = $node->safe_psql('postgres', 'SELECT backfill_rows FROM vectorpg.mirror_status');
my $nlocal = $node->safe_psql('postgres', 'SELECT count(*) FROM docs');
cmp_ok($rows, '>=', 400, "backfill: the progress acknowledged before the crash survived ($rows rows)");
cmp_ok($rows, '<', $nlocal, 'backfill: ... and the backfill had not finished');
$pc->reset_log;
$pc->clear_faults;
$synced->('after an immediate stop in the middle of a backfill');
my $resent = 0;
$resent += scalar(@{ $_->{body}{vectors} // [] })
  for grep { $_->{path} =~ m{/vectors/upsert$} } @{ $pc->requests };
cmp_ok($resent, '<=', $nlocal - $rows,
	"backfill: resumed from its cursor ($resent rows sent after the restart, not all $nlocal)");
is($node->safe_psql('postgres', 'SELECT backfilling FROM vectorpg.mirror_status'), 'f',
	'backfill: finished after the restart');

# --- concurrent writers --------------------------------------------------------------

my $script = "${PostgreSQL::Test::Utils::tmp_check}/mirror_mix.sql";
open(my $fh, '>', $script) or die;
print $fh q{\set id random(1, 400)
\set op random(1, 10)
\if :op <= 5
INSERT INTO docs VALUES ('p' || :id, format('[%s,%s,1,1,1,1,1,%s]', :id, random(), :op)::vector, jsonb_build_object('n', :id, 'op', 'insert')) ON CONFLICT (id) DO UPDATE SET embedding = EXCLUDED.embedding, attrs = EXCLUDED.attrs;
\elif :op <= 8
UPDATE docs SET embedding = format('[%s,%s,2,2,2,2,2,2]', :id, random())::vector, attrs = attrs || jsonb_build_object('op', 'update', 'r', random()) WHERE id = 'p' || :id;
\else
DELETE FROM docs WHERE id = 'p' || :id;
\endif
};
close $fh;
$node->command_ok(
	[ 'pgbench', '-n', '-c', '5', '-j', '2', '-T', '8', '-f', $script, 'postgres' ],
	'pgbench: 5 clients mixing inserts, updates and deletes');
my $st = $node->safe_psql('postgres', "SELECT count(*) FROM docs WHERE id LIKE 'p%'");
cmp_ok($st, '>', 50, "pgbench left $st rows of its own");
$synced->('after 5 concurrent writers');
is($node->safe_psql('postgres',
	"SELECT missing, different, extra, in_sync FROM vectorpg.mirror_verify('docs')"),
	'0|0|0|t', 'mirror_verify agrees');

# --- racing launchers ---------------------------------------------------------------

$pid = $node->safe_psql('postgres',
	"SELECT pid FROM pg_stat_activity WHERE backend_type = 'vectorpg mirror worker'");
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
$node->poll_query_until('postgres',
	"SELECT count(*) = 0 FROM pg_stat_activity WHERE pid = $pid") or die;
open($fh, '>', "$script.start") or die;
print $fh "SELECT vectorpg.mirror_worker_start();\n";
close $fh;
$node->command_ok(
	[ 'pgbench', '-n', '-c', '5', '-j', '5', '-t', '1', '-f', "$script.start", 'postgres' ],
	'five sessions launch a worker at once');
sleep(7);    # the terminated worker's own restart comes after 5 s
is($workers->(), '1', 'racing launchers end with one worker');

$node->stop;
unlike(slurp_file($node->logfile), qr/\Q$key\E/, 'the key is not in the server log');
done_testing();
