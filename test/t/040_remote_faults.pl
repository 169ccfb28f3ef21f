# 040_remote_faults.pl: the transport against the fake Pinecone and Milvus
# servers, one fault at a time, each with an exact expectation.
#
# What it proves, through vectorpg.remote_request (the path every client
# request takes): a plain request works; a host name that resolves to a
# loopback address is refused at connect time; a redirect is not followed; a refused connection, a hung
# server, a slow drip, truncated and oversized bodies end in their
# documented SQLSTATEs; 429 (with Retry-After, which is waited for), 500,
# 502, 503, 504 and connection resets are retried and then succeed, or end
# in HV00L when the retries run out, and a Retry-After beyond the retry
# budget fails at once; 400, 401 (plain text), 403 and 404 are not retried
# and map to their SQLSTATEs (401/403 HV00N, 404 HV00R, others HV00L); a malformed body and a Milvus 200-with-error
# envelope are handed back as they came (the clients judge them); the
# metrics view counts calls, errors and retries.  Finally the server log,
# written at log_min_messages = debug5, and every error text seen contain
# neither the Pinecone API key nor the Milvus token.
#
# Why: these are the failure modes of a remote service that a backend must
# survive without hanging, crashing, retrying what must not be retried, or
# leaking the secret.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IO::Socket::INET;
use Socket ();
use POSIX ();
use Time::HiRes qw(time);
use FindBin;
use lib "$FindBin::RealBin/../perl";
use VectorpgFake;

my $key = 'pc-key-' . join('', map { ('a' .. 'z')[ rand 26 ] } 1 .. 16);
my $token = 'root:mv-secret-' . join('', map { ('a' .. 'z')[ rand 26 ] } 1 .. 16);

my $node = PostgreSQL::Test::Cluster->new('remote_faults');
$node->init;
# log_statement stays off: the text of CREATE USER MAPPING holds the key,
# and PostgreSQL itself would log it (doc/remote.md, "Secrets")
$node->append_conf('postgresql.conf',
	"fsync = off\nlog_statement = none\nlog_min_messages = debug5\n");
$node->start;

my $pc = VectorpgFake->new('pinecone', api_key => $key);
my $host = $pc->create_index(name => 'docs', dimension => 4, metric => 'cosine');
$pc->upsert(
	index => 'docs',
	vectors => [ map { { id => "v$_", values => [ $_, 1, 0, 0 ] } } 1 .. 20 ]);

my $mv = VectorpgFake->new('milvus', token => $token);
$mv->create_collection(name => 'docs', dimension => 4, metric => 'COSINE');

$node->safe_psql(
	'postgres', qq{
	CREATE EXTENSION vectorpg;
	CREATE FOREIGN DATA WRAPPER test_fdw VALIDATOR vectorpg.fdw_validator;
	CREATE SERVER pc FOREIGN DATA WRAPPER test_fdw OPTIONS (provider 'pinecone',
		url '$host', allow_insecure 'true', max_retries '3', timeout_ms '5000');
	CREATE USER MAPPING FOR CURRENT_USER SERVER pc OPTIONS (api_key '$key');
	CREATE SERVER mv FOREIGN DATA WRAPPER test_fdw OPTIONS (provider 'milvus',
		url '@{[ $mv->url ]}', allow_insecure 'true');
	CREATE USER MAPPING FOR CURRENT_USER SERVER mv OPTIONS (token '$token');
});

my @errors;    # every error text seen, for the leak scan

# Run SQL; returns (stdout, stderr, seconds).  Errors are verbose so that
# stderr carries the SQLSTATE.
sub run_sql
{
	my ($sql) = @_;
	my $t0 = time;
	my ($ret, $out, $err) =
	  $node->psql('postgres', "\\set VERBOSITY verbose\n$sql", on_error_stop => 0);
	push @errors, $err if $err;
	return ($out, $err, time - $t0);
}

my $stats_sql = q{SELECT status, attempts FROM vectorpg.remote_request('pc', 'POST', '/describe_index_stats', '{}')};

# Requests the fake logged since the last reset, on the data plane
sub logged
{
	return scalar grep { !$_->{path} || $_->{path} !~ m{^/_fake} } @{ $pc->requests };
}

# --- a plain request ---------------------------------------------------------
my ($out, $err, $secs) = run_sql(
	q{SELECT status, attempts, (body::jsonb -> 'matches' -> 0 ->> 'id') FROM vectorpg.remote_request('pc', 'POST', '/query',
		'{"vector": [20, 1, 0, 0], "topK": 2}')});
is($out, '200|1|v20', 'a query answers with the nearest vector');
is($err, '', 'no error');
my $req = $pc->requests->[-1];
is($req->{headers}{'api-key'} // $req->{headers}{'Api-Key'}, '***', 'the key travels in the Api-Key header');
is($req->{headers}{'x-pinecone-api-version'} // $req->{headers}{'X-Pinecone-Api-Version'},
	'2026-07', 'the API version header is pinned');

# --- connection refused ----------------------------------------------------
my $dead_port = PostgreSQL::Test::Cluster::get_free_port();
$node->safe_psql(
	'postgres', qq{
	CREATE SERVER dead FOREIGN DATA WRAPPER test_fdw OPTIONS (provider 'pinecone',
		url 'http://127.0.0.1:$dead_port', allow_insecure 'true', max_retries '2');
	CREATE USER MAPPING FOR CURRENT_USER SERVER dead OPTIONS (api_key '$key');});
($out, $err, $secs) = run_sql(q{SELECT * FROM vectorpg.remote_request('dead', 'GET', '/indexes')});
like($err, qr/ERROR:  HV00N: could not connect to server "dead"/, 'connection refused: HV00N');
like($err, qr/Gave up after 3 attempts/, 'connection refused: retried max_retries times');
cmp_ok($secs, '<', 5, 'connection refused: fails fast');

# --- a public-looking name that resolves to loopback is refused at connect ---------
# The validator only judges spellings; the open-socket guard judges the
# address the name resolved to.  This machine's host name usually resolves to
# 127.0.x.x (Debian's /etc/hosts); skip where it does not.
my $hostname = `hostname`;
chomp $hostname;
my $packed = $hostname ? Socket::inet_aton($hostname) : undef;
SKIP:
{
	skip "host name $hostname does not resolve to a loopback address", 2
	  unless $packed && Socket::inet_ntoa($packed) =~ /^127\./ && $hostname !~ /localhost/i;
	my $port = $pc->port;
	$node->safe_psql(
		'postgres', qq{
		CREATE SERVER rebind FOREIGN DATA WRAPPER test_fdw OPTIONS (provider 'pinecone',
			url 'https://$hostname:$port', max_retries '0');
		CREATE USER MAPPING FOR CURRENT_USER SERVER rebind OPTIONS (api_key '$key');});
	$pc->reset_log;
	($out, $err) = run_sql(q{SELECT * FROM vectorpg.remote_request('rebind', 'GET', '/indexes')});
	like($err, qr/ERROR:  HV00N: could not connect to server "rebind": address 127\.[0-9.]+ is loopback, private or link-local/,
		'a name resolving to loopback is refused at connect time');
	is(logged(), 0, 'nothing reached the fake');
}

# --- a redirect is not followed ------------------------------------------------
# A one-line server that answers every request with 302 to the fake
my $redir = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
	Listen => 5, ReuseAddr => 1) or die "cannot listen: $!";
my $redir_port = $redir->sockport;
my $redir_pid = fork();
die "fork failed" unless defined $redir_pid;
if ($redir_pid == 0)
{
	while (my $c = $redir->accept)
	{
		local $/ = "\r\n\r\n";
		my $head = <$c>;
		print $c "HTTP/1.1 302 Found\r\nLocation: $host/describe_index_stats\r\n"
		  . "Content-Length: 0\r\nConnection: close\r\n\r\n";
		close $c;
	}
	POSIX::_exit(0);
}
close $redir;
$node->safe_psql(
	'postgres', qq{
	CREATE SERVER redir FOREIGN DATA WRAPPER test_fdw OPTIONS (provider 'pinecone',
		url 'http://127.0.0.1:$redir_port', allow_insecure 'true', max_retries '0');
	CREATE USER MAPPING FOR CURRENT_USER SERVER redir OPTIONS (api_key '$key');});
$pc->reset_log;
($out, $err) = run_sql(q{SELECT * FROM vectorpg.remote_request('redir', 'GET', '/describe_index_stats')});
like($err, qr/ERROR:  HV00L: raw request to server "redir" failed with HTTP status 302/,
	'a redirect is an error (HV00L), not followed');
is(logged(), 0, 'the redirect target saw no request');
kill 'TERM', $redir_pid;
waitpid($redir_pid, 0);

# --- accept and hang: the total timeout fires --------------------------------
$node->safe_psql('postgres',
	q{ALTER SERVER pc OPTIONS (SET timeout_ms '1000', SET max_retries '0')});
$pc->fault(mode => 'hang', count => 1, path => 'describe_index_stats');
($out, $err, $secs) = run_sql($stats_sql);
like($err, qr/ERROR:  HV00M: raw request to server "pc" timed out after 1000 ms/, 'hang: HV00M after timeout_ms');
cmp_ok($secs, '>=', 0.9, 'hang: waited for the timeout');
cmp_ok($secs, '<', 3, 'hang: not much longer than the timeout');
$pc->clear_faults;

# --- a slow drip: the stall limit fires ----------------------------------------
$node->safe_psql('postgres',
	q{ALTER SERVER pc OPTIONS (SET timeout_ms '60000', ADD low_speed_time_ms '1000')});
$pc->fault(mode => 'drip', count => 1, path => 'describe_index_stats', bytes_per_sec => 2);
($out, $err, $secs) = run_sql($stats_sql);
like($err, qr/ERROR:  HV00M: raw request to server "pc" stalled/, 'drip: HV00M stalled');
cmp_ok($secs, '<', 5, 'drip: aborted by the stall limit, long before timeout_ms');
$pc->clear_faults;
$node->safe_psql('postgres',
	q{ALTER SERVER pc OPTIONS (SET timeout_ms '5000', DROP low_speed_time_ms, SET max_retries '3')});

# --- 429 with Retry-After: waited for, then success ----------------------------
$pc->reset_log;
$pc->fault(mode => 'status', status => 429, retry_after => '1', count => 1,
	path => 'describe_index_stats');
($out, $err, $secs) = run_sql($stats_sql);
is($out, '200|2', '429: retried once, then 200');
cmp_ok($secs, '>=', 1.0, '429: waited at least Retry-After (1 s)');
is(logged(), 2, '429: two requests reached the fake');

# 429 forever: exhausted after max_retries
$pc->fault(mode => 'status', status => 429, retry_after => '1', count => 10,
	path => 'describe_index_stats');
$node->safe_psql('postgres', q{ALTER SERVER pc OPTIONS (SET max_retries '2')});
$pc->reset_log;
($out, $err, $secs) = run_sql($stats_sql);
like($err, qr/ERROR:  HV00L: raw request to server "pc" failed with HTTP status 429/, '429 exhausted: HV00L');
like($err, qr/Gave up after 3 attempts/, '429 exhausted: 1 + max_retries attempts');
is(logged(), 3, '429 exhausted: exactly 3 requests');
cmp_ok($secs, '>=', 2.0, '429 exhausted: waited Retry-After before each retry');
$pc->clear_faults;

# Retry-After beyond the retry budget: fail at once
$node->safe_psql('postgres', q{ALTER SERVER pc OPTIONS (ADD retry_budget_ms '2000')});
$pc->fault(mode => 'status', status => 429, retry_after => '30', count => 1,
	path => 'describe_index_stats');
($out, $err, $secs) = run_sql($stats_sql);
like($err, qr/HV00L.*HTTP status 429/s, 'Retry-After beyond budget: error');
like($err, qr/would exceed retry_budget_ms \(2000 ms\)/, 'Retry-After beyond budget: the hint says why');
cmp_ok($secs, '<', 2, 'Retry-After beyond budget: no wait');
$pc->clear_faults;
$node->safe_psql('postgres', q{ALTER SERVER pc OPTIONS (DROP retry_budget_ms, SET max_retries '3')});

# HTTP-date Retry-After
my @gm = gmtime(time + 2);
my $date = sprintf('%s, %02d %s %04d %02d:%02d:%02d GMT',
	(qw(Sun Mon Tue Wed Thu Fri Sat))[ $gm[6] ], $gm[3],
	(qw(Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec))[ $gm[4] ],
	$gm[5] + 1900, $gm[2], $gm[1], $gm[0]);
$pc->fault(mode => 'status', status => 503, retry_after => $date, count => 1,
	path => 'describe_index_stats');
($out, $err, $secs) = run_sql($stats_sql);
is($out, '200|2', 'Retry-After as an HTTP date: retried, then 200');
cmp_ok($secs, '>=', 0.9, 'Retry-After as an HTTP date: waited');

# --- 5xx: retried ------------------------------------------------------------
for my $status (500, 502, 503, 504)
{
	$pc->reset_log;
	$pc->fault(mode => 'status', status => $status, count => 2, path => 'describe_index_stats');
	($out, $err) = run_sql($stats_sql);
	is($out, '200|3', "$status: retried twice, then 200");
	is(logged(), 3, "$status: three requests");
	$pc->clear_faults;
}
# 5xx forever
$pc->fault(mode => 'status', status => 503, count => 10, path => 'describe_index_stats');
($out, $err) = run_sql($stats_sql);
like($err, qr/ERROR:  HV00L: raw request to server "pc" failed with HTTP status 503/, '503 exhausted: HV00L');
like($err, qr/Gave up after 4 attempts/, '503 exhausted: 1 + max_retries attempts');
$pc->clear_faults;

# connection reset: retried
$pc->fault(mode => 'reset', count => 1, path => 'describe_index_stats');
($out, $err) = run_sql($stats_sql);
is($out, '200|2', 'reset: retried, then 200');
$pc->clear_faults;

# --- 4xx: not retried ----------------------------------------------------------
my %code = (400 => 'HV00L', 401 => 'HV00N', 403 => 'HV00N', 404 => 'HV00R', 409 => 'HV00L', 422 => 'HV00L');
for my $status (sort keys %code)
{
	$pc->reset_log;
	$pc->fault(mode => 'status', status => $status, count => 1, path => 'describe_index_stats');
	($out, $err) = run_sql($stats_sql);
	like($err, qr/ERROR:  $code{$status}: raw request to server "pc" failed with HTTP status $status/,
		"$status: $code{$status}");
	is(logged(), 1, "$status: not retried");
	$pc->clear_faults;
}
# a real 401: wrong key, plain-text body
$node->safe_psql('postgres',
	q{ALTER USER MAPPING FOR CURRENT_USER SERVER pc OPTIONS (SET api_key 'wrong-key')});
($out, $err) = run_sql($stats_sql);
like($err, qr/HV00N: .*HTTP status 401.*DETAIL:  Remote message: Unauthorized.*HINT:  Check the api_key option/s,
	'401 plain text: detail and hint');
$node->safe_psql('postgres',
	qq{ALTER USER MAPPING FOR CURRENT_USER SERVER pc OPTIONS (SET api_key '$key')});
# a 404 from the real handler: its JSON error in the detail
($out, $err) = run_sql(q{SELECT * FROM vectorpg.remote_request('pc', 'POST', '/no/such/route', '{}')});
like($err, qr/HV00R: raw request to server "pc" failed with HTTP status 404/, 'unknown route: HV00R');

# --- bodies -----------------------------------------------------------------------
# malformed: handed back as it came (the client parses)
$pc->fault(mode => 'malformed', count => 1, path => 'describe_index_stats', body => '{"namespaces": {');
($out, $err) = run_sql(q{SELECT status, body FROM vectorpg.remote_request('pc', 'POST', '/describe_index_stats', '{}')});
is($out, '200|{"namespaces": {', 'malformed: the body is returned unchanged');

# truncated (Content-Length longer than what is sent): HV00M, retried
$node->safe_psql('postgres', q{ALTER SERVER pc OPTIONS (SET max_retries '0')});
$pc->fault(mode => 'truncated', count => 1, path => 'describe_index_stats');
($out, $err) = run_sql($stats_sql);
like($err, qr/ERROR:  HV00M: raw request to server "pc" failed: no complete reply/, 'truncated: HV00M');
$node->safe_psql('postgres', q{ALTER SERVER pc OPTIONS (SET max_retries '3')});
$pc->fault(mode => 'truncated', count => 1, path => 'describe_index_stats');
($out, $err) = run_sql($stats_sql);
is($out, '200|2', 'truncated once: retried, then 200');

# oversized: aborted at max_response_bytes, not retried
$node->safe_psql('postgres', q{ALTER SERVER pc OPTIONS (ADD max_response_bytes '65536')});
$pc->reset_log;
$pc->fault(mode => 'oversized', count => 1, path => 'describe_index_stats', size => 10_000_000);
($out, $err, $secs) = run_sql($stats_sql);
like($err, qr/ERROR:  HV090: response to raw request from server "pc" exceeds max_response_bytes \(65536 bytes\)/,
	'oversized: HV090');
is(logged(), 1, 'oversized: not retried');
# just under the cap: fine
$pc->fault(mode => 'oversized', count => 1, path => 'describe_index_stats', size => 65000);
($out, $err) = run_sql(q{SELECT status, length(body) FROM vectorpg.remote_request('pc', 'POST', '/describe_index_stats', '{}')});
is($out, '200|65000', 'a body under the cap is returned whole');
$pc->clear_faults;
$node->safe_psql('postgres', q{ALTER SERVER pc OPTIONS (DROP max_response_bytes)});

# Milvus: a 200 carrying an error envelope is returned to the client as is
$mv->fault(mode => 'envelope_error', count => 1, path => 'collections/describe', code => 1100,
	message => 'collection not found[collection=nope]');
($out, $err) = run_sql(
	q{SELECT status, body::jsonb ->> 'code' FROM vectorpg.remote_request('mv', 'POST', '/v2/vectordb/collections/describe', '{"collectionName": "docs"}')});
is($out, '200|1100', 'milvus envelope error: returned with its code');
($out, $err) = run_sql(
	q{SELECT status, body::jsonb ->> 'code' FROM vectorpg.remote_request('mv', 'POST', '/v2/vectordb/collections/describe', '{"collectionName": "docs"}')});
is($out, '200|0', 'milvus: the token authenticates');

# --- metrics -----------------------------------------------------------------------
($out, $err) = run_sql(q{
	SELECT vectorpg.remote_metrics_reset();
	SELECT count(*) FROM vectorpg.remote_request('pc', 'POST', '/describe_index_stats', '{}');
	SELECT count(*) FROM vectorpg.remote_request('pc', 'POST', '/no/such/route', '{}');
	SELECT server, operation, calls, errors, retries, bytes_sent > 0, bytes_received > 0,
		mean_ms > 0, max_ms >= mean_ms, total_ms >= max_ms
	FROM vectorpg.remote_metrics});
like($out, qr/^pc\|raw\|2\|1\|0\|t\|t\|t\|t\|t$/m, 'metrics: calls, errors, bytes, latency');

# --- secrets -------------------------------------------------------------------------
my $log = slurp_file($node->logfile);
unlike($log, qr/\Q$key\E/, 'the API key is not in the server log (debug5)');
unlike($log, qr/mv-secret/, 'the Milvus token is not in the server log');
my $all = join("\n", @errors);
unlike($all, qr/\Q$key\E/, 'the API key is in no error');
unlike($all, qr/mv-secret/, 'the Milvus token is in no error');
ok(scalar(@errors) > 10, 'errors were collected for the scan');

$node->stop;
$pc->stop;
$mv->stop;
done_testing();
