# 044_remote_record.pl: record and replay.
#
# What it proves: in record mode every answer is stored in
# vectorpg.remote_recordings under its fingerprint, without the key (a
# request that ends in an error is not: the error rolls the recording
# back); with the fake stopped, replay mode answers the same requests with
# identical statuses and bodies, without any network
# (a request spelled differently but with the same canonical JSON is
# answered too); a request that was never recorded is an error; in
# passthrough mode recorded requests are answered from the table and
# others go to the network (which is down, so they fail) and are not
# recorded; a non-superuser session replays when a superuser set the mode
# for the database; pg_dump keeps the recordings.
#
# Why: recorded sessions make remote tests reproducible offline and let a
# bug report carry the exact remote answers.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use VectorpgFake;

my $key = 'pc-key-' . join('', map { ('a' .. 'z')[ rand 26 ] } 1 .. 16);

my $node = PostgreSQL::Test::Cluster->new('remote_record');
$node->init;
$node->append_conf('postgresql.conf', "fsync = off\nlog_statement = none\n");
$node->start;

my $pc = VectorpgFake->new('pinecone', api_key => $key);
my $host = $pc->create_index(name => 'docs', dimension => 4, metric => 'euclidean');
$pc->upsert(
	index => 'docs',
	vectors => [ map { { id => "v$_", values => [ $_, $_ / 2, 1, 0 ], metadata => { n => $_ } } } 1 .. 50 ]);

$node->safe_psql(
	'postgres', qq{
	CREATE EXTENSION vectorpg;
	CREATE FOREIGN DATA WRAPPER test_fdw VALIDATOR vectorpg.fdw_validator;
	CREATE SERVER pc FOREIGN DATA WRAPPER test_fdw OPTIONS (provider 'pinecone',
		url '$host', allow_insecure 'true', max_retries '0');
	CREATE USER MAPPING FOR PUBLIC SERVER pc OPTIONS (api_key '$key');
	CREATE ROLE bob LOGIN;
	GRANT USAGE ON SCHEMA vectorpg TO bob;
	GRANT USAGE ON FOREIGN SERVER pc TO bob;
});

my @requests = (
	q{'POST', '/query', '{"vector": [10, 5, 1, 0], "topK": 5, "includeMetadata": true}'},
	q{'POST', '/query', '{"vector": [30, 15, 1, 0], "topK": 3, "includeValues": true}'},
	q{'POST', '/describe_index_stats', '{}'},
	q{'GET', '/vectors/fetch?ids=v3&ids=v4', NULL},
	q{'POST', '/no/such/route', '{}'},
);
my $nrec = scalar(@requests) - 1;    # the 404 is not recorded

# Run every request; returns one line per request: status and body, or the
# error's SQLSTATE and message
sub run_all
{
	my ($mode, $user) = @_;
	my @lines;
	for my $r (@requests)
	{
		my ($ret, $out, $err) = $node->psql(
			'postgres',
			"\\set VERBOSITY verbose\n"
			  . ($mode ? "SET vectorpg.remote_mode = $mode;\n" : '')
			  . "SELECT status || ' ' || body FROM vectorpg.remote_request('pc', $r);",
			on_error_stop => 0,
			extra_params => [ $user ? ('-U', $user) : () ]);
		$err =~ s/\n.*//s;    # the primary message line only
		push @lines, $out ne '' ? $out : $err;
	}
	return @lines;
}

my @live = run_all('record');
like($live[0], qr/^200 \{.*"matches"/, 'record: a query answered');
like($live[3], qr/^200 \{.*"vectors"/, 'record: a fetch answered');
like($live[4], qr/HV00R: raw request to server "pc" failed with HTTP status 404/, 'record: the 404 error');
is($node->safe_psql('postgres', 'SELECT count(*) FROM vectorpg.remote_recordings'),
	$nrec, 'one recording per answered request (an error rolls its recording back)');
my $dump = $node->safe_psql('postgres',
	q{SELECT string_agg(fingerprint || provider || server || operation || method || path || status || convert_from(response, 'UTF8'), '') FROM vectorpg.remote_recordings});
unlike($dump, qr/\Q$key\E/, 'no key in the recordings');
is($node->safe_psql('postgres', q{SELECT string_agg(path, ' ' ORDER BY path) FROM vectorpg.remote_recordings}),
	'/describe_index_stats /query /query /vectors/fetch?ids=v3&ids=v4',
	'paths without the host');

# record again: recordings are replaced, not duplicated
run_all('record');
is($node->safe_psql('postgres', 'SELECT count(*) FROM vectorpg.remote_recordings'),
	$nrec, 'recording again replaces');

# --- offline -----------------------------------------------------------------------
$pc->stop;
my @live_mode = run_all();
like($live_mode[0], qr/HV00N: could not connect/, 'live mode with the fake stopped: no connection');

my @replay = run_all('replay');
is_deeply([ @replay[ 0 .. $nrec - 1 ] ], [ @live[ 0 .. $nrec - 1 ] ], 'replay offline: identical answers');
like($replay[$nrec], qr/HV00N: no recording for raw request/, 'replay: the request that failed was not recorded');

my ($ret, $out, $err) = $node->psql('postgres',
	q{SET vectorpg.remote_mode = replay;
	SELECT status FROM vectorpg.remote_request('pc', 'POST', '/query', '{"topK": 5.0, "includeMetadata": true, "vector": [1e1, 5, 1.0, 0]}');});
is($out, '200', 'replay: same canonical JSON, other spelling');
($ret, $out, $err) = $node->psql('postgres',
	q{SET vectorpg.remote_mode = replay;
	SELECT status FROM vectorpg.remote_request('pc', 'POST', '/query', '{"vector": [1, 1, 1, 1], "topK": 5}');});
like($err, qr/no recording for raw request to server "pc"/, 'replay: an unrecorded request is an error');

# passthrough: recorded ones from the table, the rest live (down) and not recorded
($ret, $out, $err) = $node->psql('postgres',
	q{\set VERBOSITY verbose
	SET vectorpg.remote_mode = passthrough;
	SELECT status FROM vectorpg.remote_request('pc', 'POST', '/describe_index_stats', '{}');
	SELECT status FROM vectorpg.remote_request('pc', 'POST', '/query', '{"vector": [1, 1, 1, 1], "topK": 5}');},
	on_error_stop => 0);
is($out, '200', 'passthrough: a recorded request is answered');
like($err, qr/HV00N: could not connect/, 'passthrough: an unrecorded one goes to the network');
is($node->safe_psql('postgres', 'SELECT count(*) FROM vectorpg.remote_recordings'),
	$nrec, 'passthrough records nothing');

# a non-superuser cannot choose the mode, but replays when the database says so
($ret, $out, $err) = $node->psql('postgres',
	'SELECT count(*) FROM vectorpg.remote_metrics; SET vectorpg.remote_mode = replay',
	extra_params => [ '-U', 'bob' ]);
like($err, qr/permission denied to set parameter "vectorpg.remote_mode"/, 'the mode is superuser-only');
$node->safe_psql('postgres', 'ALTER DATABASE postgres SET vectorpg.remote_mode = replay');
my @bob = run_all(undef, 'bob');
is_deeply([ @bob[ 0 .. $nrec - 1 ] ], [ @live[ 0 .. $nrec - 1 ] ], 'a non-superuser session replays identically');
$node->safe_psql('postgres', 'ALTER DATABASE postgres RESET vectorpg.remote_mode');

# pg_dump keeps the recordings (configuration table of the extension)
my ($dout, $derr);
IPC::Run::run([ 'pg_dump', '-d', $node->connstr('postgres') ], '>', \$dout, '2>', \$derr);
like($dout, qr/COPY vectorpg\.remote_recordings/, 'pg_dump dumps the recordings');
unlike($dout, qr/CREATE TABLE vectorpg\.remote_recordings/, 'as extension data, not as a table of its own');

$node->stop;
done_testing();
