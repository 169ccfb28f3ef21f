# 042_remote_connections.pl: connection reuse and invalidation.
#
# What it proves: 100 sequential queries in one session, each a remote
# request, travel over one TCP connection (counted by the fake, and by the
# metrics view); so do 100 requests in one statement; a second user
# mapping gets its own connection; ALTER SERVER and ALTER USER MAPPING
# close the cached connection, so the next request opens a new one and uses
# the new options at once (a smaller max_response_bytes, a wrong and then
# the right key), all within one session; a dropped server's handle is
# invalidated.  The metrics view is per session without preloading, and
# instance-wide (superuser reset) with vectorpg in shared_preload_libraries.
#
# Why: a new TCP and TLS handshake per request would cost more than the
# whole request on a nearby service, and a connection kept across a change
# of key or CA would keep using settings the administrator removed.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use VectorpgFake;

my $key = 'pc-key-' . join('', map { ('a' .. 'z')[ rand 26 ] } 1 .. 16);

my $node = PostgreSQL::Test::Cluster->new('remote_conn');
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
		url '$host', allow_insecure 'true');
	CREATE USER MAPPING FOR CURRENT_USER SERVER pc OPTIONS (api_key '$key');
	CREATE ROLE alice;
	GRANT USAGE ON SCHEMA vectorpg TO alice;
	GRANT USAGE ON FOREIGN SERVER pc TO alice;
	CREATE USER MAPPING FOR alice SERVER pc OPTIONS (api_key '$key');
});

my $call = q{SELECT status FROM vectorpg.remote_request('pc', 'POST', '/describe_index_stats', '{}');};

sub connections { return $pc->stats->{connections}; }

# --- 100 sequential queries, one connection -----------------------------------------
$pc->reset_stats;
my $script = join("\n", map { $call } 1 .. 100)
  . "\nSELECT calls, connections, errors FROM vectorpg.remote_metrics;";
my $out = $node->safe_psql('postgres', $script);
my @lines = split /\n/, $out;
is(scalar(grep { $_ eq '200' } @lines), 100, '100 queries answered');
is($lines[-1], '100|1|0', 'metrics: 100 calls over 1 new connection');
is(connections(), 1, 'the fake saw one TCP connection for 100 queries');
is($pc->stats->{requests}, 100, 'and 100 requests');

# --- 100 requests in one statement ---------------------------------------------------
$pc->reset_stats;
$out = $node->safe_psql('postgres',
	qq{DO \$\$ BEGIN FOR i IN 1..100 LOOP PERFORM vectorpg.remote_request('pc', 'POST', '/describe_index_stats', '{}'); END LOOP; END \$\$;
	SELECT calls, connections FROM vectorpg.remote_metrics;});
is($out, '100|1', 'one statement, 100 requests, one connection');
is(connections(), 1, 'the fake agrees');

# --- invalidation, in one session ------------------------------------------------------
$pc->reset_stats;
my ($ret, $stdout, $stderr) = $node->psql(
	'postgres', qq{
	$call
	$call
	SELECT 'conns', count(*), bool_and(valid), sum(requests) FROM vectorpg.remote_connections();
	ALTER SERVER pc OPTIONS (ADD timeout_ms '4000');
	$call
	ALTER USER MAPPING FOR CURRENT_USER SERVER pc OPTIONS (SET api_key '$key');
	$call
	SELECT 'conns', count(*), bool_and(valid) FROM vectorpg.remote_connections();
	SET ROLE alice;
	$call
	RESET ROLE;
	SELECT 'conns', count(*), bool_and(valid) FROM vectorpg.remote_connections();
	SELECT 'metrics', calls, connections FROM vectorpg.remote_metrics;
}, on_error_stop => 0);
is($stderr, '', 'no errors');
like($stdout, qr/^conns\|1\|t\|2$/m, 'one handle, two requests');
like($stdout, qr/^conns\|2\|t$/m, 'a second user mapping has its own handle');
like($stdout, qr/^metrics\|5\|4$/m, 'metrics: ALTER SERVER, ALTER USER MAPPING and a second mapping each opened a connection');
is(connections(), 4, 'the fake saw four connections');

# new options are used at once
$pc->fault(mode => 'oversized', path => 'describe_index_stats', size => 100_000);
($ret, $stdout, $stderr) = $node->psql(
	'postgres', qq{
	\\set VERBOSITY verbose
	$call
	ALTER SERVER pc OPTIONS (ADD max_response_bytes '65536');
	$call
	ALTER SERVER pc OPTIONS (DROP max_response_bytes);
	$call
}, on_error_stop => 0);
is($stdout, "200\n200", 'the first and third requests succeed');
like($stderr, qr/HV090/, 'the second used the new max_response_bytes');
$pc->clear_faults;

($ret, $stdout, $stderr) = $node->psql(
	'postgres', qq{
	\\set VERBOSITY verbose
	$call
	ALTER USER MAPPING FOR CURRENT_USER SERVER pc OPTIONS (SET api_key 'wrong-key');
	$call
	ALTER USER MAPPING FOR CURRENT_USER SERVER pc OPTIONS (SET api_key '$key');
	$call
}, on_error_stop => 0);
is($stdout, "200\n200", 'the right key works before and after');
like($stderr, qr/HV00N: .*HTTP status 401/, 'the wrong key was used at once');
unlike($stderr, qr/\Q$key\E|wrong-key/, 'no key in the error');

# DROP SERVER with a cached handle: no error, the handle goes away
($ret, $stdout, $stderr) = $node->psql(
	'postgres', qq{
	CREATE SERVER pc2 FOREIGN DATA WRAPPER test_fdw OPTIONS (provider 'pinecone',
		url '$host', allow_insecure 'true');
	CREATE USER MAPPING FOR CURRENT_USER SERVER pc2 OPTIONS (api_key '$key');
	SELECT status FROM vectorpg.remote_request('pc2', 'POST', '/describe_index_stats', '{}');
	DROP SERVER pc2 CASCADE;
	SELECT 'conns', count(*) FROM vectorpg.remote_connections() WHERE valid;
	$call
}, on_error_stop => 0);
like($stdout, qr/^conns\|0$/m, 'the dropped server\'s handle is no longer valid');
like($stdout, qr/200\Z/, 'requests to other servers go on');

# metrics are per session without preloading ...
$out = $node->safe_psql('postgres', "$call SELECT scope, calls FROM vectorpg.remote_metrics;");
is($out, "200\nsession|1", 'not preloaded: metrics per session');
$node->stop;

# ... and instance-wide with vectorpg in shared_preload_libraries
my $pre = PostgreSQL::Test::Cluster->new('remote_preload');
$pre->init;
$pre->append_conf('postgresql.conf',
	"fsync = off\nlog_statement = none\nshared_preload_libraries = 'vectorpg'\n");
$pre->start;
$pre->safe_psql(
	'postgres', qq{
	CREATE EXTENSION vectorpg;
	CREATE FOREIGN DATA WRAPPER test_fdw VALIDATOR vectorpg.fdw_validator;
	CREATE SERVER pc FOREIGN DATA WRAPPER test_fdw OPTIONS (provider 'pinecone',
		url '$host', allow_insecure 'true');
	CREATE USER MAPPING FOR PUBLIC SERVER pc OPTIONS (api_key '$key');
	CREATE ROLE carol LOGIN;
	GRANT USAGE ON SCHEMA vectorpg TO carol;
	GRANT USAGE ON FOREIGN SERVER pc TO carol;
});
$pre->safe_psql('postgres', $call) for 1 .. 3;
$pre->psql('postgres', $call, extra_params => [ '-U', 'carol' ]);
is($pre->safe_psql('postgres',
		'SELECT scope, server, operation, calls, connections FROM vectorpg.remote_metrics'),
	'instance|pc|raw|4|4', 'preloaded: metrics of all sessions (four sessions, four connections)');
($ret, $stdout, $stderr) = $pre->psql('postgres', 'SELECT vectorpg.remote_metrics_reset()',
	extra_params => [ '-U', 'carol' ]);
like($stderr, qr/permission denied to reset the instance's remote metrics/,
	'preloaded: only a superuser resets');
$pre->safe_psql('postgres', 'SELECT vectorpg.remote_metrics_reset()');
is($pre->safe_psql('postgres', 'SELECT count(*) FROM vectorpg.remote_metrics'), '0',
	'preloaded: reset clears');
$pre->stop;

$pc->stop;
done_testing();
