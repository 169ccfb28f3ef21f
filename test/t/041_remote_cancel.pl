# 041_remote_cancel.pl: cancel, statement_timeout and pg_terminate_backend
# while a remote request is in flight.
#
# What it proves: against a fake that accepts a request and never answers,
# pg_cancel_backend ends the request with 57014 within about a second and
# the same session runs its next query; so does statement_timeout; a cancel
# during the backoff wait before a retry (a long Retry-After) ends it at
# once as well; pg_stat_activity shows the request waiting (wait event
# type Extension) without the secret; pg_terminate_backend ends the backend
# within about a second, and the server log shows no crash and no
# crash-restart.
#
# Why: a remote call that ignores interrupts pins a backend until the remote
# answers or a long timeout fires (the failure reported against pgsql-http,
# steampipe and pg_clickhouse); one that longjmps out of libcurl corrupts it.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time usleep);
use VectorpgFake;

my $key = 'pc-key-' . join('', map { ('a' .. 'z')[ rand 26 ] } 1 .. 16);

my $node = PostgreSQL::Test::Cluster->new('remote_cancel');
$node->init;
$node->append_conf('postgresql.conf', "fsync = off\nlog_statement = none\n");
$node->start;

my $pc = VectorpgFake->new('pinecone', api_key => $key);
my $host = $pc->create_index(name => 'docs', dimension => 4, metric => 'cosine');

$node->safe_psql(
	'postgres', qq{
	CREATE EXTENSION vectorpg;
	CREATE FOREIGN DATA WRAPPER test_fdw VALIDATOR vectorpg.fdw_validator;
	CREATE SERVER pc FOREIGN DATA WRAPPER test_fdw OPTIONS (provider 'pinecone',
		url '$host', allow_insecure 'true', timeout_ms '600000',
		retry_budget_ms '600000');
	CREATE USER MAPPING FOR CURRENT_USER SERVER pc OPTIONS (api_key '$key');
});

my $call = q{SELECT status FROM vectorpg.remote_request('pc', 'POST', '/describe_index_stats', '{}');};

# Wait until backend $pid waits on the remote (wait event type Extension)
sub wait_in_request
{
	my ($pid) = @_;
	for (my $i = 0; $i < 200; $i++)
	{
		my $w = $node->safe_psql('postgres',
			"SELECT wait_event_type FROM pg_stat_activity WHERE pid = $pid");
		return 1 if $w eq 'Extension';
		usleep(50_000);
	}
	return 0;
}

# Start $call in a background session against a hanging fake; returns the
# session and its backend pid once the request is in flight.
sub start_hung_request
{
	my ($fault) = @_;
	my $bg = $node->background_psql('postgres', on_error_stop => 0);
	my $pid = $bg->query_safe('SELECT pg_backend_pid()');
	$bg->query_until(qr/started/, "\\echo started\n$call\n");
	ok(wait_in_request($pid), 'the request is in flight');
	return ($bg, $pid);
}

# --- pg_cancel_backend while the fake hangs -------------------------------------
$pc->fault(mode => 'hang', path => 'describe_index_stats');
my ($bg, $pid) = start_hung_request();
my $activity = $node->safe_psql('postgres',
	"SELECT query FROM pg_stat_activity WHERE pid = $pid");
like($activity, qr/remote_request/, 'pg_stat_activity shows the request');
unlike($activity, qr/\Q$key\E/, 'pg_stat_activity does not show the key');
my $t0 = time;
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
my $out = $bg->query(q{SELECT 'alive'});
my $secs = time - $t0;
like($bg->{stderr}, qr/canceling statement due to user request/, 'cancel: 57014, user request');
is($out, 'alive', 'cancel: the session runs its next query');
cmp_ok($secs, '<', 1.5, 'cancel: the request ended within about a second');
$bg->{stderr} = '';
$pc->clear_faults;
is($bg->query_safe($call), '200', 'cancel: the next remote request works');
$bg->quit;

# --- statement_timeout --------------------------------------------------------------
$pc->fault(mode => 'hang', path => 'describe_index_stats');
$t0 = time;
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	"SET statement_timeout = '500ms';\n$call\nSELECT 'alive';", on_error_stop => 0);
$secs = time - $t0;
like($stderr, qr/canceling statement due to statement timeout/, 'statement_timeout: 57014');
is($stdout, 'alive', 'statement_timeout: the session goes on');
cmp_ok($secs, '<', 2.5, 'statement_timeout: ended soon after 500 ms');
$pc->clear_faults;

# --- cancel during the backoff wait --------------------------------------------------
$pc->fault(mode => 'status', status => 503, retry_after => '60', count => 1,
	path => 'describe_index_stats');
$bg = $node->background_psql('postgres', on_error_stop => 0);
$pid = $bg->query_safe('SELECT pg_backend_pid()');
$bg->query_until(qr/started/, "\\echo started\n$call\n");
# the wait between attempts is a latch wait: PG_WAIT_EXTENSION as well
ok(wait_in_request($pid), 'waiting before the retry');
usleep(300_000);
$t0 = time;
$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
$out = $bg->query(q{SELECT 'alive'});
$secs = time - $t0;
like($bg->{stderr}, qr/canceling statement due to user request/, 'cancel in backoff: 57014');
is($out, 'alive', 'cancel in backoff: the session goes on');
cmp_ok($secs, '<', 1.5, 'cancel in backoff: did not wait for Retry-After');
$bg->quit;
$pc->clear_faults;

# --- pg_terminate_backend while the fake hangs ---------------------------------------
$pc->fault(mode => 'hang', path => 'describe_index_stats');
($bg, $pid) = start_hung_request();
$t0 = time;
$node->safe_psql('postgres', "SELECT pg_terminate_backend($pid)");
my $gone = 0;
for (my $i = 0; $i < 100; $i++)
{
	if ($node->safe_psql('postgres', "SELECT count(*) FROM pg_stat_activity WHERE pid = $pid") eq '0')
	{
		$gone = 1;
		last;
	}
	usleep(20_000);
}
$secs = time - $t0;
ok($gone, 'terminate: the backend is gone');
cmp_ok($secs, '<', 1.5, 'terminate: within about a second');
eval { $bg->quit; };
$pc->clear_faults;
is($node->safe_psql('postgres', $call), '200', 'terminate: the server still serves remote requests');

my $log = slurp_file($node->logfile);
unlike($log, qr/terminated by signal|was terminated|all server processes terminated|reinitializing/,
	'terminate: no crash and no crash-restart in the server log');
like($log, qr/terminating connection due to administrator command/, 'terminate: the ordinary FATAL');
unlike($log, qr/\Q$key\E/, 'the key is not in the log');

$node->stop;
$pc->stop;
done_testing();
