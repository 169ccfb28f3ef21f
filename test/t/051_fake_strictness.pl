# 051_fake_strictness.pl: the fake Pinecone and Milvus servers enforce the
# specifications and their scripted faults behave as documented.
#
# What it proves, with plain HTTP::Tiny requests (no SDK, so it runs even
# without the npm registry):
#
# * Pinecone: a missing or unknown X-Pinecone-Api-Version is a 400 rpcStatus;
#   a missing or wrong Api-Key is a plain-text 401; control-plane errors use
#   the {"error":{...},"status":N} shape; the limits of spec section 6
#   (vectors per upsert, id length, metadata size, request size, topK, ids
#   per fetch, list limit, $in size) are enforced; euclidean scores are
#   squared distances in ascending order; "" and "__default__" are one
#   namespace; a deleted index's host refuses connections.
# * Milvus: business errors are HTTP 200 with the merr code (100 unknown
#   collection, 101 not loaded, 1100 bad parameter/filter, 1801 empty or
#   invalid body, 1802 missing member, 1804 bad row, 1806 wrong key type);
#   unknown routes are the text 404; 401 carries code 1800; Bearer and Basic
#   authentication; Int64 keys are strings unless Accept-Type-Allow-Int64.
# * Every fault mode (latency, hang, drip, status with Retry-After,
#   malformed, truncated, oversized, envelope_error, reset) does what
#   doc/fakes.md says, stops after its count and applies only to its path;
#   X-Fake-Handler-Us excludes the deliberate delay.
# * Keep-alive: 100 queries from one client use one TCP connection, as the
#   stats and the request log both show.
# * Brute force is exact: on 300 random vectors the top 10 of each metric,
#   ids and scores, equal a computation in Perl, for both fakes.
# * TLS: with a throwaway CA and server certificate, a client that trusts
#   the CA connects and one that does not is refused.
#
# Why: the remote clients are tested against these fakes, so a fake that is
# lenient where the real service is strict would hide client bugs.

use strict;
use warnings;

use HTTP::Tiny;
use IO::Socket::INET;
use IPC::Run qw(run);
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);

# test/perl is on prove's include path only when PROVE_FLAGS is not
# overridden on make's command line (run-tests.sh overrides it)
use FindBin;
use lib "$FindBin::RealBin/../perl";
use VectorpgFake;

my $json = JSON::PP->new->utf8->canonical;

# ---------------------------------------------------------------------------
# Pinecone
# ---------------------------------------------------------------------------

my $key = 'pc-strict-key';
my $pc = VectorpgFake->new('pinecone', api_key => $key);
my $host = $pc->create_index(name => 'strict', dimension => 3, metric => 'euclidean');
like($host, qr{^http://127\.0\.0\.1:\d+$}, 'index host is an explicit http URL');

my %pch = ('Api-Key' => $key, 'X-Pinecone-Api-Version' => '2026-07');

# One request through a fresh client; returns (status, decoded body or text, response)
sub call
{
	my ($http, $method, $url, $body, %h) = @_;
	my %opt = (headers => {%h});
	if (defined $body)
	{
		$opt{content} = ref $body ? $json->encode($body) : $body;
		$opt{headers}{'Content-Type'} //= 'application/json';
	}
	my $res = $http->request($method, $url, \%opt);
	my $decoded = eval { $json->decode($res->{content}) };
	return ($res->{status}, $decoded // $res->{content}, $res);
}

my $http = HTTP::Tiny->new(timeout => 10);
my ($st, $b, $res);

($st, $b, $res) = call($http, 'POST', "$host/describe_index_stats", {}, 'Api-Key' => $key);
is($st, 400, 'missing version header: 400');
is_deeply($b, { code => 3, message => 'missing X-Pinecone-Api-Version header', details => [] },
	'missing version header: rpcStatus body');
($st, $b) = call($http, 'POST', "$host/describe_index_stats", {}, 'Api-Key' => $key,
	'X-Pinecone-Api-Version' => '2023-01');
is($st, 400, 'unsupported version: 400');
($st, $b) = call($http, 'POST', "$host/describe_index_stats", {}, %pch, 'X-Pinecone-Api-Version' => '2025-10');
is($st, 200, 'older supported version 2025-10 accepted');
($st, $b, $res) = call($http, 'POST', "$host/describe_index_stats", {}, %pch, 'Api-Key' => 'wrong');
is($st, 401, 'wrong key: 401');
is($b, 'Unauthorized', 'wrong key: plain-text body');
like($res->{headers}{'content-type'}, qr{^text/plain}, 'wrong key: text/plain');
($st, $b) = call($http, 'GET', $pc->url . '/indexes', undef, 'X-Pinecone-Api-Version' => '2026-07');
is($st, 401, 'missing key on the control plane: 401');
($st, $b) = call($http, 'GET', $pc->url . '/indexes/nope', undef, %pch);
is($st, 404, 'unknown index: 404');
is_deeply($b, { error => { code => 'NOT_FOUND', message => 'Index nope not found.' }, status => 404 },
	'control-plane error shape');
($st, $b) = call($http, 'POST', $pc->url . '/indexes',
	{ name => 'Bad_Name', schema => { fields => { _values => { type => 'dense_vector', dimension => 3, metric => 'cosine' } } } }, %pch);
is($st, 400, 'invalid index name: 400');
($st, $b) = call($http, 'POST', $pc->url . '/indexes',
	{ name => 'strict', schema => { fields => { _values => { type => 'dense_vector', dimension => 3, metric => 'cosine' } } } }, %pch);
is($st, 409, 'existing index name: 409');
is($b->{error}{code}, 'ALREADY_EXISTS', 'existing index name: ALREADY_EXISTS');
($st, $b) = call($http, 'POST', $pc->url . '/indexes', { name => 'legacy', dimension => 3, metric => 'cosine',
	spec => { serverless => { cloud => 'aws', region => 'us-east-1' } } }, %pch, 'X-Pinecone-Api-Version' => '2025-10');
is($st, 201, 'legacy create body under 2025-10');
is($b->{dimension}, 3, 'legacy index model has a top-level dimension');

# Limits
my @v1001 = map { { id => "v$_", values => [ 1, 2, 3 ] } } 1 .. 1001;
($st, $b) = call($http, 'POST', "$host/vectors/upsert", { vectors => \@v1001 }, %pch);
is($st, 400, '1001 vectors per upsert: 400');
($st, $b) = call($http, 'POST', "$host/vectors/upsert",
	{ vectors => [ { id => 'x' x 513, values => [ 1, 2, 3 ] } ] }, %pch);
is($st, 400, 'id of 513 characters: 400');
($st, $b) = call($http, 'POST', "$host/vectors/upsert",
	{ vectors => [ { id => 'x' x 512, values => [ 1, 2, 3 ] } ] }, %pch);
is($st, 200, 'id of 512 characters: accepted');
($st, $b) = call($http, 'POST', "$host/vectors/upsert",
	{ vectors => [ { id => 'big', values => [ 1, 2, 3 ], metadata => { t => 'y' x (41 * 1024) } } ] }, %pch);
is($st, 400, 'metadata over 40 KB: 400');
($st, $b) = call($http, 'POST', "$host/vectors/upsert",
	{ vectors => [ { id => 'nul', values => [ 1, 2, 3 ], metadata => { t => undef } } ] }, %pch);
is($st, 400, 'null metadata value: 400');
my @big = map { { id => "b$_", values => [ 1, 2, 3 ], metadata => { t => 'z' x 3000 } } } 1 .. 700;
($st, $b) = call($http, 'POST', "$host/vectors/upsert", { vectors => \@big }, %pch);
is($st, 400, 'request over 2 MB: 400');
like($b->{message}, qr/2097152/, 'request over 2 MB: says the limit');
($st, $b) = call($http, 'POST', "$host/query", { vector => [ 1, 2, 3 ], topK => 0 }, %pch);
is($st, 400, 'topK 0: 400');
($st, $b) = call($http, 'POST', "$host/query", { vector => [ 1, 2, 3 ] }, %pch);
is($st, 400, 'missing topK: 400');
($st, $b) = call($http, 'POST', "$host/query",
	{ vector => [ 1, 2, 3 ], topK => 1, filter => { g => { '$in' => [ 1 .. 10001 ] } } }, %pch);
is($st, 400, '$in with 10001 values: 400');
($st, $b) = call($http, 'GET', "$host/vectors/fetch?" . join('&', map { "ids=f$_" } 1 .. 1001), undef, %pch);
is($st, 400, '1001 ids per fetch: 400');
($st, $b) = call($http, 'GET', "$host/vectors/list?limit=101", undef, %pch);
is($st, 400, 'list limit 101: 400');
($st, $b) = call($http, 'POST', "$host/vectors/delete", { ids => ['a'], deleteAll => JSON::PP::true }, %pch);
is($st, 400, 'delete with ids and deleteAll: 400');
($st, $b) = call($http, 'POST', "$host/describe_index_stats", { filter => { a => 1 } }, %pch);
is($st, 400, 'stats with a filter on serverless: 400');

# Scores, namespaces
$pc->upsert(index => 'strict', namespace => 'md', vectors => [
	{ id => 'm', values => [ 1, 1, 1 ], metadata => { big => 9007199254740993, half => 0.5, n => 3.0 } } ]);
($st, $b, $res) = call($http, 'GET', "$host/vectors/fetch?ids=m&namespace=md", undef, %pch);
like($res->{content}, qr/"big":9007199254740992,"half":0.5,"n":3\b/,
	'metadata numbers are stored as 64-bit floats (2^53+1 rounds), integral ones print as integers');
$pc->upsert(index => 'strict', vectors => [
	{ id => 'near', values => [ 1, 1, 1 ] },
	{ id => 'far', values => [ 3, 1, 1 ] } ]);
($st, $b) = call($http, 'POST', "$host/query",
	{ vector => [ 1, 1, 2 ], topK => 3, namespace => '__default__' }, %pch);
is_deeply([ map { [ $_->{id}, $_->{score} ] } @{ $b->{matches} } ],
	[ [ 'near', 1 ], [ 'x' x 512, 2 ], [ 'far', 5 ] ],
	'euclidean: squared distances, ascending, "__default__" is the default namespace');
($st, $b) = call($http, 'POST', "$host/describe_index_stats", {}, %pch);
is($b->{namespaces}{''}{vectorCount}, 3, 'stats report the default namespace as ""');

# ---------------------------------------------------------------------------
# Fault modes (on Pinecone; envelope_error on Milvus below)
# ---------------------------------------------------------------------------

my $q = { vector => [ 1, 1, 1 ], topK => 1 };

$pc->fault(mode => 'latency', delay_ms => 400, count => 1, path => '^/query$');
my $t0 = time;
($st, $b, $res) = call($http, 'POST', "$host/query", $q, %pch);
my $elapsed = time - $t0;
ok($st == 200 && $elapsed >= 0.4, "latency: answered after ${elapsed}s");
cmp_ok($res->{headers}{'x-fake-handler-us'}, '<', 200_000,
	'latency: X-Fake-Handler-Us excludes the delay');
$t0 = time;
call($http, 'POST', "$host/query", $q, %pch);
cmp_ok(time - $t0, '<', 0.3, 'latency: off after its count');

$pc->fault(mode => 'status', status => 503, count => 2, path => '^/query$', retry_after => 1);
($st, $b, $res) = call($http, 'POST', "$host/vectors/upsert",
	{ vectors => [ { id => 'p', values => [ 1, 2, 3 ] } ] }, %pch);
is($st, 200, 'status: another path is not affected');
($st, $b, $res) = call($http, 'POST', "$host/query", $q, %pch);
is($st, 503, 'status: 503');
is($res->{headers}{'retry-after'}, 1, 'status: Retry-After header');
is($b->{code}, 14, 'status: rpcStatus body on the data plane (UNAVAILABLE)');
($st) = call($http, 'POST', "$host/query", $q, %pch);
is($st, 503, 'status: second 503');
($st) = call($http, 'POST', "$host/query", $q, %pch);
is($st, 200, 'status: off after count 2');
$pc->fault(mode => 'status', status => 401, count => 1);
($st, $b, $res) = call($http, 'GET', $pc->url . '/indexes', undef, %pch);
ok($st == 401 && $b eq 'Unauthorized', 'status 401: plain text as the gateway sends');
$pc->fault(mode => 'status', status => 500, count => 1, path => '^/indexes');
($st, $b) = call($http, 'GET', $pc->url . '/indexes', undef, %pch);
is($b->{status}, 500, 'status on the control plane: error shape with status');

$pc->fault(mode => 'status', status => 500, count => 1, index => 'other-index');
($st) = call($http, 'POST', "$host/query", $q, %pch);
is($st, 200, 'status: a fault for another index leaves this one alone');
$pc->clear_faults;

$pc->fault(mode => 'malformed', count => 1, path => '^/query$');
($st, $b, $res) = call($http, 'POST', "$host/query", $q, %pch);
ok($st == 200 && !ref $b, 'malformed: 200 with a body that is not JSON');

$pc->fault(mode => 'truncated', count => 1, path => '^/query$');
($st, $b, $res) = call($http, 'POST', "$host/query", $q, %pch);
is($st, 599, 'truncated: the client sees a premature end of the body');
like($res->{content}, qr/(?:EOF|Unexpected|closed|short|timeout)/i, 'truncated: client error says so')
  or diag($res->{content});

$pc->fault(mode => 'reset', count => 1, path => '^/vectors/upsert$');
($st, $b, $res) = call(HTTP::Tiny->new(timeout => 5), 'POST', "$host/vectors/upsert",
	{ vectors => [ { id => 'reset-me', values => [ 1, 2, 3 ] } ] }, %pch);
is($st, 599, 'reset: connection closed without an answer');
ok(!exists $pc->state->{indexes}{strict}{namespaces}{''}{'reset-me'},
	'reset: the request was not applied');
$pc->fault(mode => 'reset', count => 1, path => '^/vectors/upsert$', apply => 1);
($st) = call(HTTP::Tiny->new(timeout => 5), 'POST', "$host/vectors/upsert",
	{ vectors => [ { id => 'stored-then-reset', values => [ 1, 2, 3 ] } ] }, %pch);
ok($st == 599 && exists $pc->state->{indexes}{strict}{namespaces}{''}{'stored-then-reset'},
	'reset with apply: stored, but the answer was lost');

$pc->fault(mode => 'oversized', size => 5_000_000, count => 1, path => '^/query$');
($st, $b, $res) = call($http, 'POST', "$host/query", $q, %pch);
is(length($res->{content}), 5_000_000, 'oversized: a body of exactly the size asked');
ok(ref $b && ref $b->{matches} eq 'ARRAY', 'oversized: still valid JSON with the real answer');

$pc->fault(mode => 'drip', bytes_per_sec => 200, count => 1, path => '^/query$');
$t0 = time;
($st, $b, $res) = call($http, 'POST', "$host/query", $q, %pch);
$elapsed = time - $t0;
my $len = length($res->{content});
ok($st == 200 && ref $b && $elapsed >= ($len / 200) * 0.7,
	"drip: $len bytes took ${elapsed}s at 200 bytes/s");

$pc->fault(mode => 'hang', count => 1, path => '^/query$');
$t0 = time;
($st, $b, $res) = call(HTTP::Tiny->new(timeout => 1), 'POST', "$host/query", $q, %pch);
ok($st == 599 && time - $t0 >= 0.9, 'hang: no answer until the client times out');
$pc->clear_faults;
($st) = call($http, 'POST', "$host/query", $q, %pch);
is($st, 200, 'after clear_faults requests are answered again');
is_deeply($pc->faults, [], 'clear_faults removes every fault');

# Keep-alive and connection counting: 100 queries, one connection
$pc->reset_log;
$pc->reset_stats;
my $keep = HTTP::Tiny->new(timeout => 10, keep_alive => 1);
my $all_ok = 1;
for (1 .. 100)
{
	my ($s) = call($keep, 'POST', "$host/query", $q, %pch);
	$all_ok &&= $s == 200;
}
ok($all_ok, '100 queries answered');
my $stats = $pc->stats;
is($stats->{connections}, 1, 'stats: 100 queries used one TCP connection');
is($stats->{requests}, 100, 'stats: 100 requests');
my %conns = map { $_->{connection} => 1 } @{ $pc->requests };
is(scalar keys %conns, 1, 'request log: one connection id');
my $entry = $pc->requests->[0];
is($entry->{headers}{'api-key'}, '***', 'request log masks the API key');
is_deeply($entry->{body}, $q, 'request log keeps the body');

# A deleted index's host refuses connections
my ($port) = $host =~ /:(\d+)$/;
$pc->delete_index('strict');
my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port, Timeout => 2);
ok(!$sock, 'deleted index: its port refuses connections');
$pc->stop;

# ---------------------------------------------------------------------------
# Milvus
# ---------------------------------------------------------------------------

my $mv = VectorpgFake->new('milvus', token => 'root:Milvus');
my $base = $mv->url . '/v2/vectordb';
my %auth = (Authorization => 'Bearer root:Milvus');
$mv->create_collection(name => 'docs', dimension => 2, metric => 'L2',
	fields => { title => 'VarChar' });
$mv->insert(collection => 'docs', rows => [
	{ id => '9223372036854775807', vector => [ 0, 0 ], title => 'max' },
	{ id => 2, vector => [ 1, 1 ], title => 'two', extra => 7 } ]);

($st, $b) = call($http, 'POST', "$base/collections/describe", { collectionName => 'nope' }, %auth);
is($st, 200, 'unknown collection: HTTP 200');
is($b->{code}, 100, 'unknown collection: code 100');
($st, $b, $res) = call($http, 'GET', "$base/collections/list", undef, %auth);
ok($st == 404 && $b eq '404 page not found', 'GET: text 404');
($st, $b) = call($http, 'POST', "$base/collections/nothing", {}, %auth);
is($st, 404, 'unknown route: 404');
($st, $b) = call($http, 'POST', "$base/collections/list", undef, %auth);
is($b->{code}, 1801, 'empty body: code 1801');
($st, $b) = call($http, 'POST', "$base/collections/list", '{"dbName":', %auth);
is($b->{code}, 1801, 'invalid JSON: code 1801');
($st, $b) = call($http, 'POST', "$base/collections/list", '{}', %auth, 'Content-Type' => 'text/plain;charset=UTF-8');
is($b->{code}, 0, 'text/plain body is parsed as JSON');
($st, $b) = call($http, 'POST', "$base/entities/query", { filter => 'id > 0' }, %auth);
is($b->{code}, 1802, 'missing collectionName: code 1802');
($st, $b) = call($http, 'POST', "$base/collections/list", {}, Authorization => 'Bearer root:nope');
is($st, 401, 'wrong token: HTTP 401');
is($b->{code}, 1800, 'wrong token: code 1800');
($st, $b) = call($http, 'POST', "$base/collections/list", {}, Authorization => 'Basic cm9vdDpNaWx2dXM=');
is($b->{code}, 0, 'Basic authentication accepted');
($st, $b) = call($http, 'POST', "$base/entities/query",
	{ collectionName => 'docs', filter => 'id > 0', outputFields => ['id'] }, %auth);
is_deeply([ map { $_->{id} } @{ $b->{data} } ], [ '2', '9223372036854775807' ],
	'Int64 keys as strings by default');
($st, $b, $res) = call($http, 'POST', "$base/entities/query",
	{ collectionName => 'docs', filter => 'id > 0', outputFields => ['id'] }, %auth,
	'Accept-Type-Allow-Int64' => 'true');
like($res->{content}, qr/"id":9223372036854775807\b/, 'Accept-Type-Allow-Int64: numbers');
($st, $b) = call($http, 'POST', "$base/entities/query",
	{ collectionName => 'docs', filter => 'extra == 7', outputFields => [ 'title', 'extra' ] }, %auth);
is_deeply($b->{data}, [ { id => '2', title => 'two', extra => 7 } ], 'dynamic field in filter and output');
($st, $b) = call($http, 'POST', "$base/entities/query", { collectionName => 'docs' }, %auth);
is($b->{code}, 1100, 'query without filter and limit: code 1100');
($st, $b) = call($http, 'POST', "$base/entities/query",
	{ collectionName => 'docs', filter => 'id > 0', limit => 16000, offset => 385 }, %auth);
is($b->{code}, 1100, 'query offset+limit 16385: code 1100');
($st, $b) = call($http, 'POST', "$base/entities/query",
	{ collectionName => 'docs', filter => 'id > 0', consistencyLevel => 'strong' }, %auth);
is($b->{code}, 1100, 'consistencyLevel is case-sensitive: code 1100');
($st, $b) = call($http, 'POST', "$base/entities/query",
	{ collectionName => 'docs', filter => 'id > 0', consistencyLevel => 'Strong' }, %auth,
	'Request-Timeout' => 'soon');
is($b->{code}, 1100, 'non-integer Request-Timeout: code 1100');
($st, $b) = call($http, 'POST', "$base/entities/query",
	{ collectionName => 'docs', filter => 'title = "x"' }, %auth);
is($b->{code}, 1100, 'bad filter: code 1100');
($st, $b) = call($http, 'POST', "$base/entities/insert",
	{ collectionName => 'docs', data => [ { id => 5, vector => [ 1, 2, 3 ] } ] }, %auth);
is($b->{code}, 1804, 'wrong dimension: code 1804');
($st, $b) = call($http, 'POST', "$base/entities/get", { collectionName => 'docs', id => [ 'abc' ] }, %auth);
is($b->{code}, 1806, 'get with a key of the wrong type: code 1806');
($st, $b) = call($http, 'POST', "$base/entities/search",
	{ collectionName => 'docs', data => [ [ 1, 1 ] ], limit => 2 }, %auth);
is_deeply([ map { [ $_->{id}, $_->{distance} ] } @{ $b->{data} } ],
	[ [ '2', 0 ], [ '9223372036854775807', 2 ] ], 'search: L2 squared, ascending');
($st, $b) = call($http, 'POST', "$base/entities/upsert",
	{ collectionName => 'docs', partialUpdate => JSON::PP::true, data => [ { id => 2, title => 'deux' } ] }, %auth);
($st, $b) = call($http, 'POST', "$base/entities/get",
	{ collectionName => 'docs', id => [2], outputFields => [ '*' ] }, %auth);
is_deeply($b->{data}, [ { id => '2', vector => [ 1, 1 ], title => 'deux', extra => 7 } ],
	'upsert with partialUpdate changes only the listed field');
($st, $b) = call($http, 'POST', "$base/entities/upsert",
	{ collectionName => 'docs', data => [ { id => 2, title => 'deux' } ] }, %auth);
is($b->{code}, 1804, 'upsert without partialUpdate needs the whole row: code 1804');
$mv->release('docs');
($st, $b) = call($http, 'POST', "$base/entities/search",
	{ collectionName => 'docs', data => [ [ 1, 1 ] ] }, %auth);
is($b->{code}, 101, 'search on a released collection: code 101');
$mv->load('docs');

$mv->fault(mode => 'envelope_error', code => 8, message => 'rate limit exceeded', count => 1,
	path => 'entities/search');
($st, $b) = call($http, 'POST', "$base/entities/search",
	{ collectionName => 'docs', data => [ [ 1, 1 ] ] }, %auth);
ok($st == 200 && $b->{code} == 8 && $b->{message} eq 'rate limit exceeded',
	'envelope_error: HTTP 200 with the scripted code');
$mv->fault(mode => 'latency', delay_ms => 5000, count => 1, path => 'collections/list');
$t0 = time;
($st, $b) = call($http, 'POST', "$base/collections/list", {}, %auth, 'Request-Timeout' => '1');
ok($st == 408 && $b->{code} == 10001 && time - $t0 < 3,
	'latency beyond Request-Timeout: HTTP 408 code 10001 after the timeout');
$mv->fault(mode => 'status', status => 408, count => 1);
($st, $b) = call($http, 'POST', "$base/collections/list", {}, %auth);
ok($st == 408 && $b->{code} == 10001, 'status 408: Milvus timeout body');
$mv->stop;

# ---------------------------------------------------------------------------
# Brute force is exact: 300 random vectors, 10 queries per metric, both fakes
# ---------------------------------------------------------------------------

srand(51);
my $dim = 8;
my @data = map { [ map { sprintf('%.4f', rand() * 2 - 1) + 0 } 1 .. $dim ] } 1 .. 300;
my @queries = map { [ map { sprintf('%.4f', rand() * 2 - 1) + 0 } 1 .. $dim ] } 1 .. 10;

# float32 rounding, and each metric's score computed here
sub f32 { return unpack('f', pack('f', $_[0])); }

sub score
{
	my ($metric, $u, $v) = @_;
	my ($dot, $na, $nb, $l2) = (0, 0, 0, 0);
	for my $i (0 .. $#$u)
	{
		my ($x, $y) = (f32($u->[$i]), f32($v->[$i]));
		$dot += $x * $y;
		$na += $x * $x;
		$nb += $y * $y;
		$l2 += ($x - $y)**2;
	}
	return $l2 if $metric =~ /^(euclidean|L2)$/;
	return $dot if $metric =~ /^(dotproduct|IP)$/;
	return $dot / sqrt($na * $nb);
}

# Compare one answer (list of [id, score]) with the local ranking
sub exact
{
	my ($label, $metric, $q, $got, $id_of) = @_;
	my $asc = $metric =~ /^(euclidean|L2)$/;
	# ($main::a and $main::b: the file has a lexical $b)
	my @want = sort {
		$asc
		  ? $main::a->[1] <=> $main::b->[1]
		  : $main::b->[1] <=> $main::a->[1]
	}
	  map { [ $id_of->($_), score($metric, $q, $data[$_]) ] } 0 .. $#data;
	my $bad = '';
	for my $i (0 .. 9)
	{
		my ($gid, $gs) = @{ $got->[$i] // [ 'none', 'NaN' ] };
		my ($wid, $ws) = @{ $want[$i] };
		$bad .= "rank $i: got $gid $gs, want $wid $ws; "
		  if $gid ne $wid || abs($gs - $ws) > 1e-6 * (1 + abs($ws));
	}
	return $bad;
}

my $epc = VectorpgFake->new('pinecone', api_key => $key);
my $emv = VectorpgFake->new('milvus');
for my $pair ([ cosine => 'COSINE' ], [ euclidean => 'L2' ], [ dotproduct => 'IP' ])
{
	my ($pm, $mm) = @$pair;
	my $h = $epc->create_index(name => "exact-$pm", dimension => $dim, metric => $pm);
	$epc->upsert(index => "exact-$pm",
		vectors => [ map { { id => "r$_", values => $data[$_] } } 0 .. $#data ]);
	$emv->create_collection(name => "exact_$pm", dimension => $dim, metric => $mm);
	$emv->insert(collection => "exact_$pm",
		rows => [ map { { id => $_, vector => $data[$_] } } 0 .. $#data ]);
	my ($pbad, $mbad) = ('', '');
	for my $q (@queries)
	{
		my ($s1, $b1) = call($http, 'POST', "$h/query", { vector => $q, topK => 10 }, %pch);
		$pbad .= exact('pinecone', $pm, $q,
			[ map { [ $_->{id}, $_->{score} ] } @{ $b1->{matches} } ], sub { "r$_[0]" });
		my ($s2, $b2) = call($http, 'POST', $emv->url . '/v2/vectordb/entities/search',
			{ collectionName => "exact_$pm", data => [$q], limit => 10 });
		$mbad .= exact('milvus', $mm, $q,
			[ map { [ $_->{id}, $_->{distance} ] } @{ $b2->{data} } ], sub { "$_[0]" });
	}
	is($pbad, '', "pinecone $pm: top 10 of 300 exact for 10 queries");
	is($mbad, '', "milvus $mm: top 10 of 300 exact for 10 queries");
}
$epc->stop;
$emv->stop;

# ---------------------------------------------------------------------------
# TLS with a throwaway CA
# ---------------------------------------------------------------------------

my $tls = PostgreSQL::Test::Utils::tempdir('tls');
my $ssl_ok = run([ 'openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
		'-subj', '/CN=vectorpg test CA', '-keyout', "$tls/ca.key", '-out', "$tls/ca.crt" ],
	'>', '/dev/null', '2>', '/dev/null')
  && run([ 'openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1',
		'-subj', '/CN=some other CA', '-keyout', "$tls/other.key", '-out', "$tls/other.crt" ],
	'>', '/dev/null', '2>', '/dev/null')
  && run([ 'openssl', 'req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1',
		'-keyout', "$tls/server.key", '-out', "$tls/server.csr" ],
	'>', '/dev/null', '2>', '/dev/null');
if ($ssl_ok)
{
	open(my $ext, '>', "$tls/ext.cnf") or die;
	print $ext "subjectAltName=IP:127.0.0.1,DNS:localhost\n";
	close $ext;
	$ssl_ok = run([ 'openssl', 'x509', '-req', '-in', "$tls/server.csr", '-CA', "$tls/ca.crt",
			'-CAkey', "$tls/ca.key", '-CAcreateserial', '-days', '1', '-extfile', "$tls/ext.cnf",
			'-out', "$tls/server.crt" ], '>', '/dev/null', '2>', '/dev/null');
}
ok($ssl_ok, 'openssl made two CAs and a server certificate');
my $tpc = VectorpgFake->new('pinecone', api_key => $key, tls_cert => "$tls/server.crt",
	tls_key => "$tls/server.key", tls_ca => "$tls/ca.crt");
like($tpc->url, qr{^https://}, 'TLS fake: https URL');
my $thost = $tpc->create_index(name => 'tls', dimension => 2, metric => 'cosine');
like($thost, qr{^https://127\.0\.0\.1:\d+$}, 'TLS fake: the index host is https too');
($st) = call(HTTP::Tiny->new(verify_SSL => 1, SSL_options => { SSL_ca_file => "$tls/ca.crt" }),
	'POST', "$thost/describe_index_stats", {}, %pch);
is($st, 200, 'TLS: a client trusting the CA connects');
($st, $b, $res) = call(HTTP::Tiny->new(verify_SSL => 1, SSL_options => { SSL_ca_file => "$tls/other.crt" }),
	'POST', "$thost/describe_index_stats", {}, %pch);
is($st, 599, 'TLS: a client not trusting the CA is refused');
like($res->{content}, qr/certificate|SSL/i, 'TLS: the refusal is a certificate error');
$tpc->stop;

done_testing();
