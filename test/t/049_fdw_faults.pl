# 049_fdw_faults.pl: faults seen through the foreign data wrapper, for each
# provider and for each read shape that has its own client path (a top-k
# search and a fetch by id).
#
# What it proves: 040 and 041 drive the transport through
# vectorpg.remote_request; here the same faults reach a query on a foreign
# table, through the clients' own request building and answer checking:
# a 429 with Retry-After is retried and the query answers the right rows;
# a 503 that outlasts max_retries ends in HV00L with the "Gave up" hint; a
# hung server ends in HV00M after timeout_ms; a 200 whose body is not JSON
# is HV00K; Milvus's 200 with a retriable code (8) is retried and answers;
# pg_cancel_backend during a hung search or fetch ends the query with 57014
# within about a second and the session answers its next query.  No error
# text and no line of the server log (at debug5) contains the API key or the
# token.  A session of searches, fetches, full and bounded scans recorded
# with vectorpg.remote_mode = record replays with both fakes stopped and
# gives identical rows.
#
# Why: a client that parses before checking, or a fetch path that maps
# statuses differently from the search path, would pass the transport tests
# and still fail users; the FDW is what users run.

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
my $token = 'root:mv-secret-' . join('', map { ('a' .. 'z')[ rand 26 ] } 1 .. 16);

my $node = PostgreSQL::Test::Cluster->new('fdw_faults');
$node->init;
# log_statement stays off: CREATE USER MAPPING holds the secrets
$node->append_conf('postgresql.conf',
	"fsync = off\nlog_statement = none\nlog_min_messages = debug5\n");
$node->start;

my $pc = VectorpgFake->new('pinecone', api_key => $key);
$pc->create_index(name => 'docs', dimension => 4, metric => 'cosine');
$pc->upsert(index => 'docs',
	vectors => [ map { { id => "v$_", values => [ $_, 1, 0, 0 ], metadata => { n => $_ } } } 1 .. 20 ]);

my $mv = VectorpgFake->new('milvus', token => $token);
$mv->create_collection(name => 'docs', dimension => 4, metric => 'COSINE', id_type => 'Int64',
	fields => { n => 'Int64' }, dynamic => 0);
$mv->insert(collection => 'docs',
	rows => [ map { { id => $_, vector => [ $_, 1, 0, 0 ], n => $_ } } 1 .. 20 ]);

$node->safe_psql(
	'postgres', qq{
	CREATE EXTENSION vectorpg;
	CREATE SERVER pc FOREIGN DATA WRAPPER vectorpg_fdw OPTIONS (provider 'pinecone',
		url '@{[ $pc->url ]}', allow_insecure 'true', max_retries '2', timeout_ms '1000');
	CREATE USER MAPPING FOR CURRENT_USER SERVER pc OPTIONS (api_key '$key');
	CREATE FOREIGN TABLE pdocs (id text, embedding vector(4), n int)
		SERVER pc OPTIONS (index 'docs', metric 'cosine');
	CREATE SERVER mv FOREIGN DATA WRAPPER vectorpg_fdw OPTIONS (provider 'milvus',
		url '@{[ $mv->url ]}', allow_insecure 'true', max_retries '2', timeout_ms '1000');
	CREATE USER MAPPING FOR CURRENT_USER SERVER mv OPTIONS (token '$token');
	CREATE FOREIGN TABLE mdocs (id bigint, embedding vector(4), n bigint)
		SERVER mv OPTIONS (collection 'docs', metric 'cosine');
});

my @errors;    # every error text seen, for the leak scan

# Run SQL with verbose errors; returns (stdout, stderr, seconds)
sub run_sql
{
	my ($sql) = @_;
	my $t0 = time;
	my ($ret, $out, $err) =
	  $node->psql('postgres', "\\set VERBOSITY verbose\n$sql", on_error_stop => 0);
	push @errors, $err if $err;
	return ($out, $err, time - $t0);
}

# The two shapes per provider: the SQL, the fake's path of its request,
# and the answer without faults
my %fake = (pinecone => $pc, milvus => $mv);
my @cases = (
	[ 'pinecone', 'search', "SELECT id FROM pdocs ORDER BY embedding <=> '[1,0,0,0]' LIMIT 2",
		'^/query$', "v20\nv19" ],
	[ 'pinecone', 'fetch', "SELECT id, n FROM pdocs WHERE id IN ('v3', 'v4') ORDER BY id",
		'^/vectors/fetch$', "v3|3\nv4|4" ],
	[ 'milvus', 'search', "SELECT id FROM mdocs ORDER BY embedding <=> '[1,0,0,0]' LIMIT 2",
		'entities/search', "20\n19" ],
	[ 'milvus', 'fetch', "SELECT id, n FROM mdocs WHERE id IN (3, 4) ORDER BY id",
		'entities/get', "3|3\n4|4" ]);

# How many requests on a path the fake logged since the last reset
sub count_path
{
	my ($f, $path) = @_;
	return scalar grep { $_->{path} =~ /$path/ } @{ $f->requests };
}

for my $c (@cases)
{
	my ($prov, $shape, $sql, $path, $want) = @$c;
	my $f = $fake{$prov};
	my $name = "$prov $shape";
	my ($out, $err, $secs);

	($out, $err) = run_sql($sql);
	is($out, $want, "$name: answers without faults");

	# 429 with Retry-After, once: retried, then the right rows
	$f->reset_log;
	$f->fault(mode => 'status', status => 429, retry_after => '1', count => 1, path => $path);
	($out, $err, $secs) = run_sql($sql);
	is($out, $want, "$name: 429 retried, then answered");
	is($err, '', "$name: 429 retried without an error");
	is(count_path($f, $path), 2, "$name: 429: two requests");
	cmp_ok($secs, '>=', 0.9, "$name: 429: Retry-After waited for");
	$f->clear_faults;

	# 503 beyond max_retries: HV00L with the hint
	$f->fault(mode => 'status', status => 503, count => 100, path => $path);
	($out, $err) = run_sql($sql);
	like($err, qr/ERROR:  HV00L: \w+ request to server "(pc|mv)" failed with HTTP status 503/,
		"$name: 503 beyond the retries: HV00L");
	like($err, qr/HINT:  .*Gave up after 3 attempts\./, "$name: 503: the hint counts the attempts");
	$f->clear_faults;

	# a hung server: HV00M once timeout_ms has passed (retried: max_retries)
	$f->fault(mode => 'hang', path => $path);
	($out, $err, $secs) = run_sql($sql);
	like($err, qr/ERROR:  HV00M: \w+ request to server "(pc|mv)" timed out after 1000 ms/,
		"$name: hang: HV00M");
	cmp_ok($secs, '<', 8, "$name: hang: bounded by timeout_ms and max_retries");
	$f->clear_faults;

	# a 200 whose body is not JSON: HV00K, not retried
	$f->reset_log;
	$f->fault(mode => 'malformed', body => '{"matches": [', count => 1, path => $path);
	($out, $err) = run_sql($sql);
	like($err, qr/ERROR:  HV00K: invalid response from the remote service/,
		"$name: malformed 200: HV00K");
	is(count_path($f, $path), 1, "$name: malformed 200: not retried");
	$f->clear_faults;

	# Milvus: 200 with the retriable code 8, once: retried, then answered
	if ($prov eq 'milvus')
	{
		$f->reset_log;
		$f->fault(mode => 'envelope_error', code => 8, message => 'rate limit exceeded',
			count => 1, path => $path);
		($out, $err) = run_sql($sql);
		is($out, $want, "$name: 200 with code 8 retried, then answered");
		is(count_path($f, $path), 2, "$name: code 8: two requests");
		$f->clear_faults;
	}

	# cancel during a hung request: 57014 within about a second, the session lives
	$f->fault(mode => 'hang', path => $path);
	$node->safe_psql('postgres', "ALTER SERVER " . ($prov eq 'pinecone' ? 'pc' : 'mv')
		  . " OPTIONS (SET timeout_ms '600000')");
	my $bg = $node->background_psql('postgres', on_error_stop => 0);
	my $pid = $bg->query_safe('SELECT pg_backend_pid()');
	$bg->query_until(qr/started/, "\\echo started\n$sql;\n");
	my $waiting = 0;
	for (my $i = 0; $i < 200 && !$waiting; $i++)
	{
		$waiting = $node->safe_psql('postgres',
			"SELECT wait_event_type FROM pg_stat_activity WHERE pid = $pid") eq 'Extension';
		usleep(50_000) unless $waiting;
	}
	ok($waiting, "$name: the request is in flight");
	my $t0 = time;
	$node->safe_psql('postgres', "SELECT pg_cancel_backend($pid)");
	$out = $bg->query(q{SELECT 'alive'});
	$secs = time - $t0;
	like($bg->{stderr}, qr/canceling statement due to user request/, "$name: cancel: 57014");
	push @errors, $bg->{stderr};
	is($out, 'alive', "$name: cancel: the session runs its next query");
	cmp_ok($secs, '<', 1.5, "$name: cancel: within about a second");
	$f->clear_faults;
	$bg->{stderr} = '';
	is($bg->query_safe($sql), $want, "$name: cancel: the next query on the table answers");
	$bg->quit;
	$node->safe_psql('postgres', "ALTER SERVER " . ($prov eq 'pinecone' ? 'pc' : 'mv')
		  . " OPTIONS (SET timeout_ms '1000')");
}

# --- a recorded session replays offline with identical rows -------------------
$node->safe_psql('postgres', q{
	CREATE FOREIGN TABLE pscan (id text, n int)
		SERVER pc OPTIONS (index 'docs', metric 'cosine', allow_full_scan 'true');
	CREATE FOREIGN TABLE mscan (id bigint, n bigint)
		SERVER mv OPTIONS (collection 'docs', metric 'cosine', allow_full_scan 'true');
});
my $session = join(";\n", (map { $_->[2] } @cases),
	"SELECT id, n FROM pscan ORDER BY id",
	"SELECT id, n FROM mscan WHERE n > 5 ORDER BY id",
	"SELECT count(*) FROM (SELECT id FROM pdocs LIMIT 3) s",
	"SELECT count(*) FROM (SELECT id FROM mdocs LIMIT 3) s") . ";\n";
my $live = $node->safe_psql('postgres', "SET vectorpg.remote_mode = 'record';\n$session");
like($live, qr/^v20\nv19\n.*\n3\n3$/s, 'record: the session answered live');
$pc->stop;
$mv->stop;
my ($ret, $replayed, $rerr) = $node->psql('postgres',
	"SET vectorpg.remote_mode = 'replay';\n$session");
push @errors, $rerr if $rerr;
is($replayed, $live, 'replay with both fakes stopped: identical rows');
is($rerr, '', 'replay: no request missed');

# --- no secret anywhere ------------------------------------------------------
my $all = join("\n", @errors);
unlike($all, qr/\Q$key\E|\Q$token\E|mv-secret/, 'no secret in any error text');
my $log = slurp_file($node->logfile);
like($log, qr/DEBUG/, 'the server log is at debug level');
unlike($log, qr/\Q$key\E|\Q$token\E|mv-secret/, 'no secret in the server log at debug5');
unlike($log, qr/terminated by signal|server process .* was terminated/, 'no crash');

$node->stop;
$pc->stop;
$mv->stop;
done_testing();
