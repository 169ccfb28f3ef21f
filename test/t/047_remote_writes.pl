# 047_remote_writes.pl: the remote write core against both strict fakes.
#
# What it proves: vectorpg.remote_upsert and remote_delete (RemoteWriteMany
# underneath) leave the fake's state equal to what was sent, float32 values
# bit for bit, metadata exactly, Int64 keys above 2^53 digit for digit,
# VarChar keys with quotes and backslashes; chunks respect write_batch_size
# and, at 768 dimensions, the 2 MB body limit; write_parallelism puts
# several requests in flight (a 300 ms latency fault on 8 chunks takes about
# two rounds at parallelism 4, not eight); 429 and 503 bursts are retried
# until the state is complete; a permanent 400 fails with HV00L and the
# remote's reason in DETAIL, a 503 beyond the retries is transient, and
# vectorpg.remote_last_failure names the failed chunk; every validation
# error has its SQLSTATE and a message naming the record, and nothing is
# sent when one item is invalid; Pinecone sparse values round-trip (indices
# exact, values float32 bit for bit, 1 to 2,048 entries, indices up to
# 2^32-1) and come back by fetch and top-k query, and so do Milvus sparse
# values, written into a collection's SparseFloatVector field as
# {"<index>": value}; a malformed sparse object, a non-dotproduct Pinecone
# index, a Milvus collection without a sparse field, and a record without
# the sparse values a collection requires are refused before anything is
# sent; remote_delete_where and remote_delete_all
# on both providers; privileges; no secret in any error or in the server
# log.
#
# Why: the FDW's write path and the mirror worker are built on these
# functions; they must lose nothing, corrupt nothing and fail clearly.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(time);
use FindBin;
use lib "$FindBin::RealBin/../perl";
use VectorpgFake;

srand(47);

my $pc_key = 'pc-secret-key-47';
my $mv_token = 'root:MilvusSecret47';
my $pc = VectorpgFake->new('pinecone', api_key => $pc_key);
my $mv = VectorpgFake->new('milvus', token => $mv_token);

my $node = PostgreSQL::Test::Cluster->new('remote_writes');
$node->init;
$node->append_conf('postgresql.conf', "fsync = off\n");
$node->start;

my $dim = 4;
$pc->create_index(name => 'docs', dimension => $dim, metric => 'cosine');
$pc->create_index(name => 'big', dimension => 768, metric => 'cosine');
$mv->create_collection(
	name => 'docs',
	dimension => $dim,
	metric => 'COSINE',
	id_type => 'Int64',
	fields => { title => 'VarChar', year => 'Int64' },
	max_length => 16,
	dynamic => 1);
$mv->create_partition(collection => 'docs', partition => 'p1');
# VarChar keys of at most 8 bytes, no dynamic field, a required field
$mv->milvus_call(
	'collections/create',
	{
		collectionName => 'strict',
		schema => {
			autoId => JSON::PP::false,
			enableDynamicField => JSON::PP::false,
			fields => [
				{
					fieldName => 'pk',
					dataType => 'VarChar',
					isPrimary => JSON::PP::true,
					elementTypeParams => { max_length => 8 }
				},
				{
					fieldName => 'vec',
					dataType => 'FloatVector',
					elementTypeParams => { dim => $dim }
				},
				{ fieldName => 'n', dataType => 'Int8', nullable => JSON::PP::false },
				{
					fieldName => 'tags',
					dataType => 'Array',
					elementDataType => 'VarChar',
					elementTypeParams => { max_capacity => 3, max_length => 4 },
					nullable => JSON::PP::true
				},
				{ fieldName => 'score', dataType => 'Float', nullable => JSON::PP::true },
			]
		},
		indexParams => [
			{
				fieldName => 'vec',
				indexName => 'vec',
				metricType => 'L2',
				params => { index_type => 'HNSW' }
			}
		]
	});

my ($pu, $mu) = ($pc->url, $mv->url);
$node->safe_psql(
	'postgres', qq{
	CREATE EXTENSION vectorpg;
	CREATE SERVER pc FOREIGN DATA WRAPPER vectorpg_fdw
		OPTIONS (provider 'pinecone', url '$pu', allow_insecure 'true', max_retries '10');
	-- the test's own statements are logged (log_statement = all): not this one
	SET log_statement = 'none';
	CREATE USER MAPPING FOR CURRENT_USER SERVER pc OPTIONS (api_key '$pc_key');
	RESET log_statement;
	CREATE FOREIGN TABLE pdocs (id text, embedding vector($dim), metadata jsonb)
		SERVER pc OPTIONS (index 'docs', namespace 'ns1', write_batch_size '7');
	CREATE FOREIGN TABLE pdocs2 (id text, embedding vector($dim), metadata jsonb)
		SERVER pc OPTIONS (index 'docs', namespace 'ns2');
	CREATE FOREIGN TABLE pbig (id text, embedding vector(768), metadata jsonb)
		SERVER pc OPTIONS (index 'big', write_batch_size '1000');
	CREATE SERVER mv FOREIGN DATA WRAPPER vectorpg_fdw
		OPTIONS (provider 'milvus', url '$mu', allow_insecure 'true', max_retries '10',
				 write_batch_size '6');
	SET log_statement = 'none';
	CREATE USER MAPPING FOR CURRENT_USER SERVER mv OPTIONS (token '$mv_token');
	RESET log_statement;
	CREATE FOREIGN TABLE mdocs (id bigint, embedding vector($dim), metadata jsonb)
		SERVER mv OPTIONS (collection 'docs');
	CREATE FOREIGN TABLE mdocs_p1 (id bigint, embedding vector($dim), metadata jsonb)
		SERVER mv OPTIONS (collection 'docs', partition 'p1');
	CREATE FOREIGN TABLE mstrict (id text, embedding vector($dim), metadata jsonb)
		SERVER mv OPTIONS (collection 'strict');
	CREATE TABLE local_t (id text);
	-- the SQLSTATE and message of a statement, or 'ok'
	CREATE FUNCTION try(q text) RETURNS text LANGUAGE plpgsql AS \$\$
	BEGIN
		EXECUTE q;
		RETURN 'ok';
	EXCEPTION WHEN OTHERS THEN
		RETURN SQLSTATE || ': ' || SQLERRM;
	END \$\$;
});

# --- helpers ---------------------------------------------------------------

# A random float32, printed so that vector_in reads exactly that float32
sub rand_f32
{
	my $x = unpack('f', pack('f', (rand() * 2 - 1) * (rand() < 0.1 ? 1e-20 : 1)));
	return sprintf('%.9g', $x);
}

sub f32_bits { return join(',', map { unpack('H8', pack('f', $_)) } @{ $_[0] }); }

# SQL array literals
sub sql_text_array { return 'ARRAY[' . join(',', map { "'$_'" } @_) . ']::text[]'; }

sub sql_vector_array
{
	return 'ARRAY[' . join(',', map { "'[" . join(',', @$_) . "]'" } @_) . ']::vector[]';
}

my $json = JSON::PP->new->canonical->allow_nonref;

sub sql_jsonb_array
{
	return 'ARRAY[' . join(',', map {
			my $t = defined $_ ? $json->encode($_) : undef;
			defined $t ? do { $t =~ s/'/''/g; "'$t'" } : 'NULL'
	} @_) . ']::jsonb[]';
}

sub pc_records
{
	my ($index, $ns) = @_;
	return $pc->state->{indexes}{$index}{namespaces}{$ns} // {};
}

sub mv_rows
{
	my ($coll, $part) = @_;
	return $mv->state->{collections}{$coll}{partitions}{ $part // '_default' } // [];
}

# --- Pinecone round trip ---------------------------------------------------

my (%p_sent, @ids, @vecs, @metas);
for my $i (1 .. 50)
{
	my $id = $i == 1 ? 'id with space' : $i == 2 ? q{id'quote"dq\\bs} : "p$i";
	my @v = map { rand_f32() } 1 .. $dim;
	my $meta =
	  $i % 5 == 0 ? undef
	  : {
		genre => ('news', 'sports', 'tech')[ $i % 3 ],
		year => 2000 + $i,
		score => $i / 8,
		draft => ($i % 2 ? JSON::PP::true : JSON::PP::false),
		tags => [ "t$i", "t" . ($i + 1) ],
		title => "Ünïcode \"$i\"",
		gone => undef,
	  };
	push @ids, $id;
	push @vecs, \@v;
	push @metas, $meta;
	my %m = $meta ? %$meta : ();
	delete $m{gone};
	$p_sent{$id} = { values => \@v, metadata => ($meta ? \%m : undef) };
}
my $sql_ids = sql_text_array(map { s/'/''/gr } @ids);
$pc->reset_log;
my $n = $node->safe_psql('postgres',
	"SELECT vectorpg.remote_upsert('pdocs', $sql_ids, "
	  . sql_vector_array(@vecs) . ', '
	  . sql_jsonb_array(@metas) . ')');
is($n, '50', 'pinecone: remote_upsert returns the number of records');

sub check_pc_state
{
	my ($index, $ns, $sent, $what) = @_;
	my $got = pc_records($index, $ns);
	is_deeply([ sort keys %$got ], [ sort keys %$sent ], "$what: the same ids");
	my ($bad_values, $bad_meta) = (0, 0);
	for my $id (keys %$sent)
	{
		next unless $got->{$id};
		$bad_values++
		  unless f32_bits($got->{$id}{values}) eq f32_bits($sent->{$id}{values});
		my $gm = $got->{$id}{metadata};
		my $sm = $sent->{$id}{metadata};
		$bad_meta++
		  unless $json->encode($gm // {}) eq $json->encode($sm // {});
	}
	is($bad_values, 0, "$what: every vector equal as float32");
	is($bad_meta, 0, "$what: every metadata object equal");
}
check_pc_state('docs', 'ns1', \%p_sent, 'pinecone upsert');

my @upserts = grep { $_->{path} eq '/vectors/upsert' } @{ $pc->requests };
is(scalar(@upserts), 8, 'pinecone: 50 records in 8 requests at write_batch_size 7');
is((grep { @{ $_->{body}{vectors} } > 7 } @upserts), 0, 'pinecone: no request carries more than 7 records');
is((grep { ($_->{body}{namespace} // '') ne 'ns1' } @upserts), 0, 'pinecone: namespace sent');

# delete some ids (one twice: sent once)
my @del = (@ids[ 0 .. 9 ], 'p3', 'no-such-id');
my $sql_del = sql_text_array(map { s/'/''/gr } @del);
$pc->reset_log;
$n = $node->safe_psql('postgres', "SELECT vectorpg.remote_delete('pdocs', $sql_del)");
is($n, '11', 'pinecone: remote_delete counts distinct ids');
delete $p_sent{$_} for @del;
check_pc_state('docs', 'ns1', \%p_sent, 'pinecone delete');
my @dels = grep { $_->{path} eq '/vectors/delete' } @{ $pc->requests };
is(scalar(@dels), 2, 'pinecone: 11 deletes in 2 requests');
is_deeply([ sort map { @{ $_->{body}{ids} } } @dels ], [ sort(@ids[ 0 .. 9 ], 'no-such-id') ],
	'pinecone: each id deleted once');

# --- Milvus round trip (Int64 keys, scalar fields, dynamic keys) -----------

my $big = '9007199254740993';
my (%m_sent, @mids, @mvecs, @mmetas);
for my $i (1 .. 20)
{
	my $id = $i <= 3 ? "922337203685477580$i" : $i == 4 ? $big : $i == 5 ? '-42' : "$i";
	my @v = map { rand_f32() } 1 .. $dim;
	my %meta = (title => "t$i", year => ($i == 6 ? '9007199254740995' : 2000 + $i));
	$meta{genre} = "g$i" if $i % 2;
	$meta{nested} = { a => [ 1, 'x' ] } if $i == 7;
	push @mids, $id;
	push @mvecs, \@v;
	push @mmetas, \%meta;
	$m_sent{$id} = { vector => \@v, meta => \%meta };
}
# year above 2^53 is sent as a JSON number with every digit
my $mmeta_sql = sql_jsonb_array(@mmetas);
$mmeta_sql =~ s/"year":"9007199254740995"/"year":9007199254740995/;
$mv->reset_log;
$n = $node->safe_psql('postgres',
	'SELECT vectorpg.remote_upsert(\'mdocs\', ' . sql_text_array(@mids) . ', '
	  . sql_vector_array(@mvecs) . ", $mmeta_sql)");
is($n, '20', 'milvus: remote_upsert returns the number of rows');

sub check_mv_state
{
	my ($sent, $what, $part) = @_;
	my %got = map { $_->{id} => $_ } @{ mv_rows('docs', $part) };
	is_deeply([ sort keys %got ], [ sort keys %$sent ], "$what: the same keys");
	my ($bad_values, $bad_meta) = (0, 0);
	for my $id (keys %$sent)
	{
		my $g = $got{$id} or next;
		$bad_values++ unless f32_bits($g->{vector}) eq f32_bits($sent->{$id}{vector});
		my %m = %{ $sent->{$id}{meta} };
		my %dyn = map { $_ => $m{$_} } grep { $_ ne 'title' && $_ ne 'year' } keys %m;
		$bad_meta++
		  unless $g->{title} eq $m{title}
		  && $g->{year} eq "$m{year}"
		  && $json->encode($g->{'$meta'}) eq $json->encode(\%dyn);
	}
	is($bad_values, 0, "$what: every vector equal as float32");
	is($bad_meta, 0, "$what: every scalar field and dynamic key equal");
}
check_mv_state(\%m_sent, 'milvus upsert');
my @mup = grep { $_->{path} =~ /entities\/upsert/ } @{ $mv->requests };
is(scalar(@mup), 4, 'milvus: 20 rows in 4 requests at the server\'s write_batch_size 6');
like($mup[0]{body}{data}[0]{id}, qr/^-?\d+$/,
	'milvus: Int64 keys are sent as numbers');

$mv->reset_log;
my @mdel = ($mids[0], $big, '-42', '5', '123456');
$n = $node->safe_psql('postgres',
	"SELECT vectorpg.remote_delete('mdocs', " . sql_text_array(@mdel) . ')');
is($n, '5', 'milvus: remote_delete');
delete $m_sent{$_} for @mdel;
check_mv_state(\%m_sent, 'milvus delete');
my ($mdreq) = grep { $_->{path} =~ /entities\/delete/ } @{ $mv->requests };
is($mdreq->{body}{filter}, "id in [$mids[0], $big, -42, 5, 123456]",
	'milvus: delete by key is a filter with exact Int64 literals');

# VarChar keys with quotes and backslashes, delete escaping
my @skeys = ('a"b', 'c\\d', "e'f", 'plain');
my @srows = map { [ map { rand_f32() } 1 .. $dim ] } @skeys;
my $skeys_sql = sql_text_array(map { s/'/''/gr } @skeys);
$n = $node->safe_psql('postgres',
	"SELECT vectorpg.remote_upsert('mstrict', $skeys_sql, "
	  . sql_vector_array(@srows) . ', '
	  . sql_jsonb_array(map { { n => 1, tags => [ 'x', 'y' ], score => 0.5 } } @skeys) . ')');
is_deeply([ sort map { $_->{pk} } @{ mv_rows('strict') } ], [ sort @skeys ],
	'milvus: VarChar keys with quotes and backslashes stored');
my $sdel_sql = sql_text_array(map { s/'/''/gr } @skeys[ 0 .. 2 ]);
$node->safe_psql('postgres', "SELECT vectorpg.remote_delete('mstrict', $sdel_sql)");
is_deeply([ map { $_->{pk} } @{ mv_rows('strict') } ], ['plain'],
	'milvus: VarChar keys with quotes and backslashes deleted');

# --- chunking at 768 dimensions: the 2 MB body limit ------------------------

$pc->reset_log;
$n = $node->safe_psql(
	'postgres', q{
	SELECT vectorpg.remote_upsert('pbig', array_agg('b' || i ORDER BY i),
		array_agg(v ORDER BY i),
		array_agg(jsonb_build_object('n', i, 'genre', 'g' || i % 7) ORDER BY i))
	FROM (SELECT i, (SELECT array_agg((random() * 2 - 1)::real / 3) FROM generate_series(1, 768)
					 WHERE i > 0)::vector AS v
		  FROM generate_series(1, 600) i) s});
is($n, '600', 'pinecone 768 dims: 600 records upserted');
my @big = grep { $_->{path} eq '/vectors/upsert' } @{ $pc->requests };
ok(@big >= 3, 'pinecone 768 dims: cut into ' . scalar(@big) . ' requests by size');
is((grep { $_->{body_bytes} > 2_000_000 } @big), 0, 'pinecone 768 dims: every body is at most 2 MB');
ok((grep { $_->{body_bytes} > 1_500_000 } @big) >= 2, 'pinecone 768 dims: bodies are filled up');
my $bigrecs = pc_records('big', '');
is(scalar(keys %$bigrecs), 600, 'pinecone 768 dims: all records stored');
is($bigrecs->{b599}{metadata}{n}, 599, 'pinecone 768 dims: metadata stored');
# a large index makes every state dump slow
$pc->delete_index('big');

# --- parallelism ------------------------------------------------------------

sub timed_upsert
{
	my ($table, $prefix, $count) = @_;
	my $t0 = time;
	$node->safe_psql(
		'postgres', qq{
		SELECT vectorpg.remote_upsert('$table', array_agg('$prefix' || i),
			array_agg('[1,2,3,4]'::vector), NULL) FROM generate_series(1, $count) i});
	return time - $t0;
}

$node->safe_psql('postgres',
	"ALTER FOREIGN TABLE pdocs2 OPTIONS (ADD write_batch_size '5', ADD write_parallelism '4')");
$pc->fault(mode => 'latency', delay_ms => 300, path => '/vectors/upsert');
$pc->reset_log;
my $t4 = timed_upsert('pdocs2', 'par', 40);
my %conns = map { $_->{connection} => 1 } grep { $_->{path} eq '/vectors/upsert' } @{ $pc->requests };
$node->safe_psql('postgres', "ALTER FOREIGN TABLE pdocs2 OPTIONS (SET write_parallelism '1')");
my $t1 = timed_upsert('pdocs2', 'ser', 40);
$pc->clear_faults;
note sprintf('8 chunks with 300 ms latency: %.2f s at parallelism 4, %.2f s at 1', $t4, $t1);
ok($t4 < 1.6, sprintf('parallelism 4: 8 slow chunks take about two rounds (%.2f s)', $t4));
ok($t1 >= 2.4, sprintf('parallelism 1: 8 slow chunks take eight rounds (%.2f s)', $t1));
ok(keys(%conns) >= 4, 'parallelism 4: requests on ' . keys(%conns) . ' connections');
is(scalar(keys %{ pc_records('docs', 'ns2') }), 80, 'parallelism: every record stored');

# many waves: one record per request, two in flight, 30 records (4 waves of 8)
$node->safe_psql('postgres',
	"ALTER FOREIGN TABLE pdocs2 OPTIONS (SET write_batch_size '1', SET write_parallelism '2')");
$pc->reset_log;
timed_upsert('pdocs2', 'wave', 30);
is(scalar(grep { /^wave/ } keys %{ pc_records('docs', 'ns2') }), 30, 'waves: every record stored');
is(scalar(grep { $_->{path} eq '/vectors/upsert' } @{ $pc->requests }), 30, 'waves: one request per record');
$node->safe_psql('postgres',
	"ALTER FOREIGN TABLE pdocs2 OPTIONS (SET write_batch_size '5', SET write_parallelism '1')");

# the same for Milvus
$node->safe_psql('postgres',
	"ALTER FOREIGN TABLE mdocs_p1 OPTIONS (ADD write_batch_size '5', ADD write_parallelism '8')");
$mv->fault(mode => 'latency', delay_ms => 300, path => 'entities/upsert');
my $tm = do {
	my $t0 = time;
	$node->safe_psql(
		'postgres', q{
		SELECT vectorpg.remote_upsert('mdocs_p1', array_agg((1000 + i)::text),
			array_agg('[1,2,3,4]'::vector),
			array_agg(jsonb_build_object('title', 'x', 'year', i))) FROM generate_series(1, 40) i});
	time - $t0;
};
$mv->clear_faults;
ok($tm < 1.6, sprintf('milvus parallelism 8: 8 slow chunks in about one round (%.2f s)', $tm));
is(scalar(@{ mv_rows('docs', 'p1') }), 40, 'milvus parallelism: every row stored in the partition');

# cancel (statement_timeout) while 4 requests hang: every transfer is
# aborted at once, and the session's handles work for the next request
$node->safe_psql('postgres', "ALTER FOREIGN TABLE pdocs2 OPTIONS (SET write_parallelism '4')");
$pc->fault(mode => 'hang', path => '/vectors/upsert');
my $tc = time;
my ($ret, $out, $err) = $node->psql(
	'postgres', q{
	SET statement_timeout = '500ms';
	SELECT vectorpg.remote_upsert('pdocs2', array_agg('hang' || i),
		array_agg('[1,2,3,4]'::vector), NULL) FROM generate_series(1, 40) i;
	RESET statement_timeout;
	SELECT vectorpg.remote_delete('pdocs2', ARRAY['par1', 'par2']);},
	on_error_stop => 0);
$tc = time - $tc;
$pc->clear_faults;
like($err, qr/canceling statement due to statement timeout/, 'cancel: statement_timeout ends hanging writes');
ok($tc < 5, sprintf('cancel: within %.2f s', $tc));
is($out, '2', 'cancel: the session writes again afterwards');
ok(!exists pc_records('docs', 'ns2')->{par1}, 'cancel: the write after the cancel was applied');
$node->safe_psql('postgres', "ALTER FOREIGN TABLE pdocs2 OPTIONS (SET write_parallelism '1')");

# --- retries, permanent and transient failures --------------------------------

$pc->fault(mode => 'status', status => 429, count => 3, path => '/vectors/upsert');
$pc->fault(mode => 'status', status => 503, count => 4, path => '/vectors/upsert');
$pc->reset_log;
$node->safe_psql('postgres', "ALTER FOREIGN TABLE pdocs2 OPTIONS (SET write_parallelism '4')");
timed_upsert('pdocs2', 'retry', 40);
$node->safe_psql('postgres', "ALTER FOREIGN TABLE pdocs2 OPTIONS (SET write_parallelism '1')");
is(scalar(grep { /^retry/ } keys %{ pc_records('docs', 'ns2') }), 40,
	'pinecone: state complete after a burst of 429 and 503');
is(scalar(grep { ($_->{status} // 0) != 200 } @{ $pc->requests }), 7, 'pinecone: the 7 faults were retried');
$pc->clear_faults;

$mv->fault(mode => 'envelope_error', code => 8, count => 3, path => 'entities/upsert');
$mv->fault(mode => 'status', status => 503, count => 2, path => 'entities/upsert');
$node->safe_psql(
	'postgres', q{
	SELECT vectorpg.remote_upsert('mdocs_p1', array_agg((2000 + i)::text),
		array_agg('[1,2,3,4]'::vector),
		array_agg(jsonb_build_object('title', 'y', 'year', i))) FROM generate_series(1, 30) i});
is(scalar(@{ mv_rows('docs', 'p1') }), 70, 'milvus: state complete after rate-limit codes and 503');
$mv->clear_faults;

# a permanent 400: HV00L with the remote's reason; not transient
$pc->fault(mode => 'status', status => 400, path => '/vectors/upsert',
	message => 'the remote says no to this batch');
($ret, $out, $err) = $node->psql(
	'postgres', q{
	\set VERBOSITY verbose
	SELECT vectorpg.remote_upsert('pdocs2', array_agg('perm' || i),
		array_agg('[1,2,3,4]'::vector), NULL) FROM generate_series(1, 12) i;
	SELECT * FROM vectorpg.remote_last_failure();},
	on_error_stop => 0);
$pc->clear_faults;
like($err, qr/ERROR:  HV00L: Pinecone rejected the request/, 'permanent 400: HV00L');
like($err, qr/DETAIL:  Remote message: HTTP 400.*the remote says no to this batch/,
	'permanent 400: the remote\'s reason in DETAIL');
like($out, qr/^t\|400\|f\|0\|5$/m, 'permanent 400: remote_last_failure: 400, not transient, first chunk');
unlike($err . $out, qr/$pc_key/, 'permanent 400: no secret in the error');

# 503 beyond the retries: transient, the failed chunk named
$node->safe_psql('postgres', "ALTER SERVER pc OPTIONS (SET max_retries '1')");
$pc->fault(mode => 'status', status => 503, path => '/vectors/upsert');
($ret, $out, $err) = $node->psql(
	'postgres', q{
	SELECT vectorpg.remote_delete('pdocs2', ARRAY['x']);
	SELECT vectorpg.remote_upsert('pdocs2', array_agg('tr' || i),
		array_agg('[1,2,3,4]'::vector), NULL) FROM generate_series(1, 3) i;
	SELECT * FROM vectorpg.remote_last_failure();},
	on_error_stop => 0);
$pc->clear_faults;
$node->safe_psql('postgres', "ALTER SERVER pc OPTIONS (SET max_retries '10')");
like($err, qr/failed with HTTP status 503/, 'transient 503: the transport\'s error');
like($err, qr/Gave up after 2 attempts/, 'transient 503: retried within max_retries');
like($out, qr/^t\|503\|t\|0\|3$/m, 'transient 503: remote_last_failure says transient');

# Milvus: a rejected row (code 1804) after the retries of nothing
$mv->fault(mode => 'envelope_error', code => 1804, message => 'bad row data here',
	path => 'entities/upsert');
($ret, $out, $err) = $node->psql(
	'postgres', q{
	\set VERBOSITY verbose
	SELECT vectorpg.remote_upsert('mdocs', ARRAY['77'], ARRAY['[1,2,3,4]']::vector[],
		ARRAY['{"title":"z","year":1}']::jsonb[]);
	SELECT * FROM vectorpg.remote_last_failure();},
	on_error_stop => 0);
$mv->clear_faults;
like($err, qr/ERROR:  HV00L: Milvus rejected the request/, 'milvus 1804: HV00L');
like($err, qr/code 1804: bad row data here/, 'milvus 1804: the remote\'s reason in DETAIL');
like($out, qr/^t\|200\|f\|0\|1$/m, 'milvus 1804: permanent');
unlike($err . $out, qr/MilvusSecret47/, 'milvus: no secret in the error');

# --- validation: SQLSTATE and message, nothing sent ---------------------------

my $long_meta = '{"text":"' . ('x' x 41000) . '"}';
my @checks = (
	[ 'pdocs', "ARRAY['']", "ARRAY['[1,2,3,4]']", undef, '22023', 'record id must not be empty' ],
	[ 'pdocs', "ARRAY[repeat('a', 513)]", "ARRAY['[1,2,3,4]']", undef, '22001', 'record id "a+\.\.\." is too long' ],
	[ 'pdocs', "ARRAY[U&'caf\\00e9']", "ARRAY['[1,2,3,4]']", undef, '22021', 'record id "café" is not ASCII' ],
	[ 'pdocs', "ARRAY['d']", "ARRAY['[1,2,3]']", undef, '22000',
		'vector of record "d" has 3 dimensions, but Pinecone index "docs" has 4' ],
	[ 'pdocs', "ARRAY['z']", "ARRAY['[0,0,0,0]']", undef, '22000', 'vector of record "z" is all zeros' ],
	[ 'pdocs', "ARRAY['m']", "ARRAY['[1,2,3,4]']", q{ARRAY['[1]']}, '22023', 'metadata of record "m" is not a JSON object' ],
	[ 'pdocs', "ARRAY['m']", "ARRAY['[1,2,3,4]']", q{ARRAY['{"$x":1}']}, '22023', 'metadata key "\$x" of record "m" starts with "\$"' ],
	[ 'pdocs', "ARRAY['m']", "ARRAY['[1,2,3,4]']", q{ARRAY['{"o":{"a":1}}']}, '22023', 'metadata value "o" of record "m" is a nested object' ],
	[ 'pdocs', "ARRAY['m']", "ARRAY['[1,2,3,4]']", q{ARRAY['{"l":[1,2]}']}, '22023', 'metadata value "l" of record "m" is a list of non-strings' ],
	[ 'pdocs', "ARRAY['m']", "ARRAY['[1,2,3,4]']", q{ARRAY['{"n":1e400}']}, '22003', 'metadata value "n" of record "m" is out of range' ],
	[ 'pdocs', "ARRAY['m']", "ARRAY['[1,2,3,4]']", "ARRAY['$long_meta']", '54000', 'metadata of record "m" is too large' ],
	[ 'pdocs', "ARRAY['a','a']", "ARRAY['[1,2,3,4]','[1,2,3,4]']", undef, '21000', 'id "a" appears more than once' ],
	[ 'pdocs', "ARRAY['a','b']", "ARRAY['[1,2,3,4]']", undef, '2202E', 'ids, vectors, metadata and sparse_values must have the same length' ],
	[ 'pdocs', "ARRAY['a']", "ARRAY[NULL]", undef, '22004', 'vector of record "a" is null' ],
	[ 'mdocs', "ARRAY['12x']", "ARRAY['[1,2,3,4]']", q{ARRAY['{"title":"t","year":1}']}, '22P02', 'record id "12x" is not an integer' ],
	[ 'mdocs', "ARRAY['9223372036854775808']", "ARRAY['[1,2,3,4]']", q{ARRAY['{"title":"t","year":1}']}, '22003', 'record id "9223372036854775808" is out of range for an Int64 key' ],
	[ 'mdocs', "ARRAY['1']", "ARRAY['[1,2,3,4,5]']", q{ARRAY['{"title":"t","year":1}']}, '22000', 'vector of record "1" has 5 dimensions, but field "vector" of Milvus collection "docs" has 4' ],
	[ 'mdocs', "ARRAY['1']", "ARRAY['[1,2,3,4]']", q{ARRAY['{"title":5,"year":1}']}, 'HV004', 'metadata value "title" of record "1" is a number, but Milvus field "title" is VarChar' ],
	[ 'mdocs', "ARRAY['1']", "ARRAY['[1,2,3,4]']", q{ARRAY['{"title":"t","year":1.5}']}, '22P02', 'metadata value "year" of record "1" is not an integer for Milvus field "year" \(Int64\)' ],
	[ 'mdocs', "ARRAY['1']", "ARRAY['[1,2,3,4]']", q{ARRAY['{"title":"seventeen bytes!!","year":1}']}, '22001', 'metadata value "title" of record "1" is too long for Milvus field "title"' ],
	[ 'mdocs', "ARRAY['1']", "ARRAY['[1,2,3,4]']", q{ARRAY['{"id":3,"title":"t","year":1}']}, '22023', 'metadata key "id" of record "1" names the primary key field' ],
	[ 'mstrict', "ARRAY['123456789']", "ARRAY['[1,2,3,4]']", q{ARRAY['{"n":1}']}, '22001', 'record id "123456789" is too long' ],
	[ 'mstrict', "ARRAY['k']", "ARRAY['[1,2,3,4]']", q{ARRAY['{"n":1,"other":2}']}, 'HV005', 'Milvus collection "strict" has no field "other" \(metadata of record "k"\)' ],
	[ 'mstrict', "ARRAY['k']", "ARRAY['[1,2,3,4]']", q{ARRAY['{"tags":["a"]}']}, '23502', 'record "k" has no value for Milvus field "n"' ],
	[ 'mstrict', "ARRAY['k']", "ARRAY['[1,2,3,4]']", q{ARRAY['{"n":null}']}, '23502', 'metadata value "n" of record "k" is null, but Milvus field "n" is not nullable' ],
	[ 'mstrict', "ARRAY['k']", "ARRAY['[1,2,3,4]']", q{ARRAY['{"n":300}']}, '22003', 'metadata value "n" of record "k" is out of range for Milvus field "n" \(Int8\)' ],
	[ 'mstrict', "ARRAY['k']", "ARRAY['[1,2,3,4]']", q{ARRAY['{"n":1,"tags":["a","b","c","d"]}']}, '2202E', 'metadata value "tags" of record "k" has too many elements' ],
	[ 'mstrict', "ARRAY['k']", "ARRAY['[1,2,3,4]']", q{ARRAY['{"n":1,"tags":["toolong"]}']}, 'HV004', 'metadata value "tags" of record "k" has an element that does not fit' ],
	[ 'mstrict', "ARRAY['k']", "ARRAY['[1,2,3,4]']", q{ARRAY['{"n":1,"score":1e39}']}, '22003', 'metadata value "score" of record "k" is out of range for Milvus field "score" \(Float\)' ],
);
$pc->reset_log;
$mv->reset_log;
for my $c (@checks)
{
	my ($table, $ids, $vecs, $metas, $state, $msg) = @$c;
	my $q = "SELECT vectorpg.remote_upsert('$table', $ids, ${vecs}::vector[]"
	  . ($metas ? ", ${metas}::jsonb[]" : '') . ')';
	$q =~ s/'/''/g;
	my $got = $node->safe_psql('postgres', "SELECT try('$q')");
	like($got, qr/^$state: $msg/, "validation $state: $msg");
}
is(scalar(grep { $_->{path} =~ /upsert/ } @{ $pc->requests }, @{ $mv->requests }), 0,
	'validation: nothing was sent');

# the invalid item of a batch is named; nothing of the batch is sent
$pc->reset_log;
($ret, $out, $err) = $node->psql(
	'postgres', q{
	SELECT vectorpg.remote_upsert('pdocs', ARRAY['v1','v2','v3'],
		ARRAY['[1,2,3,4]','[1,2,3,4]','[1,2,3]']::vector[]);
	SELECT * FROM vectorpg.remote_last_failure();},
	on_error_stop => 0);
like($out, qr/^t\|0\|f\|2\|1$/m, 'validation: remote_last_failure names item 2');
like($err, qr/HINT:  Vectors written to an index must have the index's dimension/,
	'validation: the error has a hint');
like($err, qr/CONTEXT:  remote write to server "pc"/, 'validation: the error names the server');
is(scalar(grep { $_->{path} =~ /upsert/ } @{ $pc->requests }), 0,
	'validation: no part of an invalid batch is sent');

# --- sparse values (Pinecone, dotproduct indexes) ----------------------------

# Records with sparse values round-trip exactly: indices as given, values
# as float32 bit for bit, up to 2,048 entries and index 2^32-1; a NULL
# leaves a record dense only; fetch and query return them.
$pc->create_index(name => 'hyb', dimension => $dim, metric => 'dotproduct');
$node->safe_psql('postgres', qq{
	CREATE FOREIGN TABLE phyb (id text, embedding vector($dim), score float8,
		metadata jsonb, sparse_values jsonb)
		SERVER pc OPTIONS (index 'hyb', metric 'dotproduct');
	CREATE FOREIGN TABLE mhyb (id bigint, embedding vector($dim), sparse_values jsonb)
		SERVER mv OPTIONS (collection 'docs');
});
my (%s_sent, @sids, @svecs, @sparse);
for my $i (1 .. 12)
{
	my @v = map { rand_f32() } 1 .. $dim;
	my $n = 1 + int(rand(40));
	my %seen;
	my @idx =
	    $i == 1 ? map { $_ * 7 } 0 .. 2047
	  : $i == 2 ? (4294967295)
	  :           grep { !$seen{$_}++ } map { int(rand(100000)) } 1 .. $n;
	my @val = map { rand_f32() } @idx;
	my $sv = $i % 4 == 0 ? undef : { indices => [ map { $_ + 0 } @idx ], values => [ map { $_ + 0 } @val ] };
	push @sids, "h$i";
	push @svecs, \@v;
	push @sparse, $sv;
	$s_sent{"h$i"} = { values => \@v, sparse => $sv };
}
$node->safe_psql('postgres',
	"SELECT vectorpg.remote_upsert('phyb', " . sql_text_array(@sids) . ', '
	  . sql_vector_array(@svecs) . ', NULL, ' . sql_jsonb_array(@sparse) . ')');
my $hyb = pc_records('hyb', '');
is(scalar(keys %$hyb), 12, 'sparse: all 12 records stored');
my $sparse_ok = 0;
for my $id (@sids)
{
	my ($got, $want) = ($hyb->{$id}, $s_sent{$id});
	my $same = f32_bits($got->{values}) eq f32_bits($want->{values});
	if ($want->{sparse})
	{
		$same &&= $got->{sparseValues}
		  && join(',', @{ $got->{sparseValues}{indices} }) eq join(',', @{ $want->{sparse}{indices} })
		  && f32_bits($got->{sparseValues}{values}) eq f32_bits($want->{sparse}{values});
	}
	else
	{
		$same &&= !exists $got->{sparseValues};
	}
	$sparse_ok++ if $same;
}
is($sparse_ok, 12, 'sparse: indices exact, values float32 bit for bit, NULL stays dense-only');
is($node->safe_psql('postgres',
		q{SELECT jsonb_array_length(sparse_values->'indices'), sparse_values->'indices'->>0,
				 (SELECT count(*) FROM phyb WHERE id = 'h4' AND sparse_values IS NULL)
		  FROM phyb WHERE id = 'h2'}),
	'1|4294967295|1', 'sparse: a fetch returns them (NULL for a dense-only record)');
is($node->safe_psql('postgres',
		q{SELECT (SELECT sparse_values FROM phyb WHERE id = 'h3') =
				 (SELECT sparse_values FROM phyb ORDER BY embedding <#> (SELECT embedding FROM phyb WHERE id = 'h3') LIMIT 1)}),
	't', 'sparse: a top-k query returns them as a fetch does');

my @sparse_checks = (
	[ 'phyb', q{'[1,2]'}, '22023', 'sparse values of record "s" are not a JSON object' ],
	[ 'phyb', q{'{"indices":[1],"values":[1],"extra":1}'}, '22023', 'sparse values of record "s" have an unknown key "extra"' ],
	[ 'phyb', q{'{"indices":[1]}'}, '22023', 'sparse values of record "s" need the arrays "indices" and "values"' ],
	[ 'phyb', q{'{"indices":[1,2],"values":[1]}'}, '22023', 'sparse values of record "s" have 2 indices but 1 values' ],
	[ 'phyb', q{'{"indices":[],"values":[]}'}, '22023', 'sparse values of record "s" have 0 entries' ],
	[ 'phyb', q{jsonb_build_object('indices', to_jsonb(array(SELECT generate_series(1, 2049))), 'values', to_jsonb(array_fill(1, ARRAY[2049])))},
		'54000', 'sparse values of record "s" have 2049 entries' ],
	[ 'phyb', q{'{"indices":[-1],"values":[1]}'}, '22003', 'sparse index at position 1 of record "s" is not an integer between 0 and 4294967295' ],
	[ 'phyb', q{'{"indices":[0,1.5],"values":[1,1]}'}, '22003', 'sparse index at position 2 of record "s" is not an integer' ],
	[ 'phyb', q{'{"indices":[4294967296],"values":[1]}'}, '22003', 'sparse index at position 1 of record "s" is not an integer' ],
	[ 'phyb', q{'{"indices":["3"],"values":[1]}'}, '22003', 'sparse index at position 1 of record "s" is not an integer' ],
	[ 'phyb', q{'{"indices":[3],"values":["x"]}'}, '22003', 'sparse value at position 1 of record "s" is not a number in the range of type real' ],
	[ 'phyb', q{'{"indices":[3,4],"values":[1,1e39]}'}, '22003', 'sparse value at position 2 of record "s" is not a number' ],
	[ 'phyb', q{'{"indices":[9,3,9],"values":[1,2,3]}'}, '22023', 'sparse index 9 appears more than once in record "s"' ],
	[ 'pdocs', q{'{"indices":[1],"values":[1]}'}, '0A000', 'record "s" has sparse values, but Pinecone index "docs" does not use the dotproduct metric' ],
	[ 'mdocs', q{'{"indices":[1],"values":[1]}'}, '0A000', 'record "s" has sparse values, but Milvus collection "docs" has no sparse vector field' ],
);
$pc->reset_log;
$mv->reset_log;
for my $c (@sparse_checks)
{
	my ($table, $sv, $state, $msg) = @$c;
	my $id = $table eq 'mdocs' ? "'1'" : "'s'";
	$msg =~ s/"s"/"1"/ if $table eq 'mdocs';
	my $meta = $table eq 'mdocs' ? q{ARRAY['{"title":"t","year":1}']::jsonb[]} : 'NULL';
	my $q = "SELECT vectorpg.remote_upsert('$table', ARRAY[$id], ARRAY['[1,2,3,4]']::vector[], "
	  . "$meta, ARRAY[$sv]::jsonb[])";
	$q =~ s/'/''/g;
	my $got = $node->safe_psql('postgres', "SELECT try('$q')");
	like($got, qr/^$state: \Q$msg\E/, "sparse validation $state: $msg");
}
is(scalar(grep { $_->{path} =~ /upsert/ } @{ $pc->requests }, @{ $mv->requests }), 0,
	'sparse validation: nothing was sent');
# Fuzz: random sparse objects, valid and not, decided by a Perl oracle of
# the rules above; every invalid one is a data exception (class 22) or a
# limit (54000), never anything else, and every valid one is stored.
{
	my @good_idx = (0, 1, 17, 65535, 4294967295);
	my @bad_idx = (-1, 1.5, 4294967296, '"3"', 'null', 'true', '[1]');
	my @good_val = (0, 1, -2.5, 1e-30, 3.0e38, -1e-45);
	my @bad_val = (1e39, -1e39, '"x"', 'null', 'false', '{}');
	my ($ok, $total) = (0, 400);
	my @stmts;
	my @want;
	for my $k (1 .. $total)
	{
		my $n = (0, 1, 2, 3, 5, 2048, 2049)[ int(rand(7)) ];
		$n = 1 + int(rand(4)) if rand() < 0.6;
		my (@idx, @val, %seen);
		my $valid = $n >= 1 && $n <= 2048;
		for my $j (0 .. $n - 1)
		{
			my $i = rand() < 0.05 ? $bad_idx[ int(rand(@bad_idx)) ]
			  : $n > 5 ? $j * 3 : rand() < 0.5 ? $good_idx[ int(rand(@good_idx)) ] : int(rand(1000));
			$valid = 0 if grep { $_ eq $i } @bad_idx;
			$valid = 0 if $seen{$i}++;
			push @idx, $i;
			my $v = rand() < 0.05 ? $bad_val[ int(rand(@bad_val)) ] : $good_val[ int(rand(@good_val)) ];
			$valid = 0 if grep { $_ eq $v } @bad_val;
			push @val, $v;
		}
		my %obj = (indices => '[' . join(',', @idx) . ']', values => '[' . join(',', @val) . ']');
		my $shape = rand();
		if ($shape < 0.04) { $obj{extra} = '1'; $valid = 0; }
		elsif ($shape < 0.08) { delete $obj{values}; $valid = 0; }
		elsif ($shape < 0.12) { $obj{values} = '[' . join(',', @val, 1) . ']'; $valid = 0; }
		elsif ($shape < 0.14) { $obj{indices} = '"1"'; $valid = 0; }
		my $text = '{' . join(',', map { "\"$_\":$obj{$_}" } sort keys %obj) . '}';
		$text = '[1,2]' if $shape > 0.98 && !($valid = 0);
		push @stmts, "SELECT try(\$q\$SELECT vectorpg.remote_upsert('phyb', ARRAY['f$k'], "
		  . "ARRAY['[1,2,3,4]']::vector[], NULL, ARRAY['$text']::jsonb[])\$q\$);";
		push @want, $valid;
	}
	my @got = split /\n/, $node->safe_psql('postgres', join("\n", @stmts));
	my @wrong;
	for my $k (0 .. $total - 1)
	{
		my $g = $got[$k] // '';
		my $right = $want[$k] ? $g eq 'ok' : $g =~ /^(22\w{3}|54000): /;
		push @wrong, "$k: want " . ($want[$k] ? 'ok' : 'class 22/54') . ", got $g" unless $right;
		$ok++ if $want[$k] && $g eq 'ok';
	}
	is(scalar(@wrong), 0, "sparse fuzz: $total random objects accepted or refused as the rules say")
	  or diag(join("\n", @wrong[ 0 .. ($#wrong < 9 ? $#wrong : 9) ]));
	ok($ok > 100, "sparse fuzz: $ok valid objects among them were stored");
	my $stored = grep { /^f\d+$/ } keys %{ pc_records('hyb', '') };
	is($stored, $ok, 'sparse fuzz: the remote holds exactly the accepted records');
}

($ret, $out, $err) = $node->psql('postgres',
	q{SELECT vectorpg.remote_upsert('mdocs', ARRAY['1'], ARRAY['[1,2,3,4]']::vector[],
		NULL, ARRAY['{"indices":[1],"values":[1]}']::jsonb[])});
like($err, qr/HINT:  Write NULL sparse values, or add a SparseFloatVector field to the collection/,
	'sparse on Milvus without a sparse field: the refusal has a hint');

# Milvus: a collection with a SparseFloatVector field takes the same SQL
# form, written as {"<index>": value} into that field and read back.
$mv->create_collection(name => 'mhyb', dimension => $dim, metric => 'IP', primary => 'pk',
	vector_field => 'dense', sparse_field => 'sparse');
$node->safe_psql('postgres', qq{
	CREATE FOREIGN TABLE mhyb_t (id bigint, embedding vector($dim), metadata jsonb, sparse_values jsonb)
		SERVER mv OPTIONS (collection 'mhyb');
});
my (@mids_s, @mvecs_s, @msparse);
for my $i (1 .. 6)
{
	my %seen;
	my @idx = $i == 1 ? (0, 4294967295) : grep { !$seen{$_}++ } map { int(rand(5000)) } 1 .. (1 + int(rand(30)));
	push @mids_s, 100 + $i;
	push @mvecs_s, [ map { rand_f32() } 1 .. $dim ];
	push @msparse, { indices => [ map { $_ + 0 } @idx ], values => [ map { rand_f32() + 0 } @idx ] };
}
$node->safe_psql('postgres',
	"SELECT vectorpg.remote_upsert('mhyb_t', " . sql_text_array(@mids_s) . ', '
	  . sql_vector_array(@mvecs_s) . q{, ARRAY['{"k":1}','{"k":2}','{"k":3}','{"k":4}','{"k":5}','{"k":6}']::jsonb[], }
	  . sql_jsonb_array(@msparse) . ')');
my %mrows = map { $_->{pk} => $_ } @{ mv_rows('mhyb') };
my $msparse_ok = 0;
for my $k (0 .. $#mids_s)
{
	my $row = $mrows{ $mids_s[$k] } or next;
	my $want = $msparse[$k];
	my %got = %{ $row->{sparse} // {} };
	my @order = sort { $a <=> $b } 0 .. $#{ $want->{indices} };
	my $same = scalar(keys %got) == scalar(@{ $want->{indices} });
	for my $j (@order)
	{
		my $g = $got{ $want->{indices}[$j] };
		$same &&= defined $g && f32_bits([$g]) eq f32_bits([ $want->{values}[$j] ]);
	}
	$same &&= f32_bits($row->{dense}) eq f32_bits($mvecs_s[$k]);
	$msparse_ok++ if $same;
}
is($msparse_ok, 6, 'milvus sparse: the SparseFloatVector field holds each index and float32 value');
my $back = $node->safe_psql('postgres', q{SELECT sparse_values, metadata FROM mhyb_t WHERE id = 101});
like($back, qr/^\{"values": \[[^]]+\], "indices": \[0, 4294967295\]\}\|\{"k": 1\}$/,
	'milvus sparse: a fetch reads them back, and the metadata does not show the sparse field');
is($node->safe_psql('postgres', q{
	SELECT count(*) FROM (SELECT sparse_values FROM mhyb_t ORDER BY embedding <#> '[1,1,1,1]' LIMIT 6) s
	WHERE sparse_values IS NOT NULL}), '6', 'milvus sparse: a top-k search returns them');
for my $c (
	[ "NULL", '23502', 'record "107" has no sparse values for Milvus field "sparse"' ],
	[ q{'{"indices":[1,1],"values":[1,2]}'}, '22023', 'sparse index 1 appears more than once in record "107"' ],
	[ q{'{"indices":[4294967296],"values":[1]}'}, '22003', 'sparse index at position 1 of record "107" is not an integer' ])
{
	my ($sv, $state, $msg) = @$c;
	my $q = "SELECT vectorpg.remote_upsert('mhyb_t', ARRAY['107'], ARRAY['[1,2,3,4]']::vector[], NULL, ARRAY[$sv]::jsonb[])";
	$q =~ s/'/''/g;
	like($node->safe_psql('postgres', "SELECT try('$q')"), qr/^$state: \Q$msg\E/, "milvus sparse validation $state: $msg");
}
my $q = q{SELECT vectorpg.remote_upsert('mhyb_t', ARRAY['107'], ARRAY['[1,2,3,4]']::vector[], ARRAY['{"sparse":1}']::jsonb[], ARRAY['{"indices":[1],"values":[1]}']::jsonb[])};
$q =~ s/'/''/g;
like($node->safe_psql('postgres', "SELECT try('$q')"), qr/^22023: metadata key "sparse" of record "107" names the sparse vector field/,
	'milvus sparse: a metadata key naming the sparse field is refused');
ok(!exists $mrows{107} && !grep({ $_->{pk} eq '107' } @{ mv_rows('mhyb') }), 'milvus sparse: the refused records were not sent');

# --- delete by filter, delete all -------------------------------------------

my @with_news = grep { ($p_sent{$_}{metadata}{genre} // '') eq 'news' } keys %p_sent;
ok(@with_news > 0, 'some records have genre news');
$node->safe_psql('postgres',
	q{SELECT vectorpg.remote_delete_where('pdocs', '{"genre":{"$eq":"news"}}')});
delete $p_sent{$_} for @with_news;
check_pc_state('docs', 'ns1', \%p_sent, 'pinecone remote_delete_where');
like($node->safe_psql('postgres', q{SELECT try($$SELECT vectorpg.remote_delete_where('pdocs', '{}')$$)}),
	qr/^22023: filter must be a non-empty JSON object/, 'remote_delete_where refuses an empty filter');

my @after_2010 = grep { $m_sent{$_}{meta}{year} >= 2010 } keys %m_sent;
$node->safe_psql('postgres',
	q{SELECT vectorpg.remote_delete_where('mdocs', '{"year":{"$gte":2010}}')});
delete $m_sent{$_} for @after_2010;
check_mv_state(\%m_sent, 'milvus remote_delete_where');

my $ns2_before = scalar keys %{ pc_records('docs', 'ns2') };
$node->safe_psql('postgres', q{SELECT vectorpg.remote_delete_all('pdocs')});
is(scalar(keys %{ pc_records('docs', 'ns1') }), 0, 'pinecone remote_delete_all: namespace empty');
is(scalar(keys %{ pc_records('docs', 'ns2') }), $ns2_before, 'pinecone remote_delete_all: other namespace untouched');

my $default_before = scalar @{ mv_rows('docs') };
$node->safe_psql('postgres', q{SELECT vectorpg.remote_delete_all('mdocs_p1')});
is(scalar(@{ mv_rows('docs', 'p1') }), 0, 'milvus remote_delete_all on a partition: partition empty');
is(scalar(@{ mv_rows('docs') }), $default_before, 'milvus remote_delete_all on a partition: _default untouched');
$node->safe_psql('postgres', q{SELECT vectorpg.remote_delete_all('mdocs'), vectorpg.remote_delete_all('mstrict')});
is(scalar(@{ mv_rows('docs') }) + scalar(@{ mv_rows('strict') }), 0,
	'milvus remote_delete_all: Int64 and VarChar collections empty');

# --- refusals and privileges --------------------------------------------------

like($node->safe_psql('postgres', q{SELECT try($$SELECT vectorpg.remote_delete_all('local_t')$$)}),
	qr/^42809: "local_t" is not a foreign table/, 'a local table is refused');
$node->safe_psql(
	'postgres', q{
	CREATE ROLE writer LOGIN;
	GRANT USAGE ON SCHEMA vectorpg TO writer;
	GRANT SELECT ON pdocs TO writer;
});
($ret, $out, $err) = $node->psql('postgres',
	q{SET ROLE writer; SELECT vectorpg.remote_delete('pdocs', ARRAY['a'])});
like($err, qr/permission denied for foreign table pdocs/, 'DELETE privilege needed');
$node->safe_psql('postgres', 'GRANT DELETE ON pdocs TO writer');
($ret, $out, $err) = $node->psql('postgres',
	q{SET ROLE writer; SELECT vectorpg.remote_delete('pdocs', ARRAY['a'])});
like($err, qr/permission denied for foreign server pc/, 'USAGE on the server needed');
$node->safe_psql('postgres', 'GRANT USAGE ON FOREIGN SERVER pc TO writer');
($ret, $out, $err) = $node->psql('postgres',
	q{SET ROLE writer; SELECT vectorpg.remote_delete('pdocs', ARRAY['a'])});
like($err, qr/user mapping not found/, 'a user mapping needed');

# --- no secret in the server log ----------------------------------------------

my $log = slurp_file($node->logfile);
unlike($log, qr/$pc_key/, 'no Pinecone key in the server log');
unlike($log, qr/MilvusSecret47/, 'no Milvus token in the server log');

$node->stop;
done_testing();
