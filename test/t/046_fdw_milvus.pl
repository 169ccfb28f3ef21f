# 046_fdw_milvus.pl: vectorpg_fdw against the strict fake Milvus.
#
# What it proves: searches, gets and full-scan queries on Milvus
# collections return what a local brute-force computation on the same data
# returns, for COSINE, L2 and IP; the filter becomes a Milvus expression over
# real scalar fields (year, title) and dynamic keys (genre, draft) and gives
# the rows local evaluation gives; OFFSET is sent to Milvus; Int64 primary
# keys above 2^53 stay exact in both directions; a partition is searched
# alone; an unloaded collection is refused with a hint, or loaded when the
# server says load_collection; a 200-with-error envelope becomes the
# documented SQLSTATE, and a retryable code is retried; VarChar keys;
# IMPORT FOREIGN SCHEMA maps scalar fields to columns.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use VectorpgFake;

srand(46);

my $mv = VectorpgFake->new('milvus', token => 'root:Milvus');

my $node = PostgreSQL::Test::Cluster->new('fdw_milvus');
$node->init;
$node->append_conf('postgresql.conf', "fsync = off\n");
$node->start;

my $dim = 4;
my $n = 80;
my @genres = ('news', 'sports', 'tech');
my $big = 9007199254740993;    # 2^53 + 1: not a double

my (@mrows, @lrows);
for my $i (1 .. $n)
{
	my @v = map { sprintf('%.4f', rand() * 2 - 1) } 1 .. $dim;
	my $id = $i <= 3 ? $big + $i * 2 : $i;
	my $genre = $i % 7 == 0 ? undef : $genres[ $i % 3 ];
	my $year = 2014 + ($i % 11);
	my $draft = $i % 4 == 0 ? 1 : 0;
	my %row = (
		id => $id,
		vector => [ map { $_ + 0 } @v ],
		year => $year,
		title => "title $i",
		draft => $draft ? JSON::PP::true : JSON::PP::false);
	$row{genre} = $genre if defined $genre;
	push @mrows, \%row;
	push @lrows,
	  sprintf("(%s, '[%s]', %s, %d, %s, 'title %d')",
		$id, join(',', @v), defined $genre ? "'$genre'" : 'NULL',
		$year, $draft ? 'true' : 'false', $i);
}

my %metric_op = (COSINE => '<=>', L2 => '<->', IP => '<#>');
for my $metric (sort keys %metric_op)
{
	my $c = 'docs_' . lc $metric;
	$mv->create_collection(
		name => $c,
		dimension => $dim,
		metric => $metric,
		id_type => 'Int64',
		fields => { title => 'VarChar', year => 'Int64' },
		dynamic => 1);
	$mv->insert(collection => $c, rows => \@mrows);
}

my $url = $mv->url;
$node->safe_psql(
	'postgres', qq{
	CREATE EXTENSION vectorpg;
	CREATE SERVER mv FOREIGN DATA WRAPPER vectorpg_fdw
		OPTIONS (provider 'milvus', url '$url', allow_insecure 'true');
	CREATE USER MAPPING FOR CURRENT_USER SERVER mv OPTIONS (token 'root:Milvus');
	CREATE TABLE local_docs (id bigint, embedding vector($dim), genre text,
		year bigint, draft boolean, title text);
	INSERT INTO local_docs VALUES @{[ join(",\n", @lrows) ]};
});
for my $metric (sort keys %metric_op)
{
	my $c = 'docs_' . lc $metric;
	$node->safe_psql(
		'postgres', qq{
		CREATE FOREIGN TABLE $c (id bigint, embedding vector($dim), score float8,
			distance float8, metadata jsonb, genre text, year bigint, draft boolean,
			title text)
			SERVER mv OPTIONS (collection '$c');
		CREATE FOREIGN TABLE ${c}_scan (id bigint, embedding vector($dim),
			genre text, year bigint, draft boolean, title text)
			SERVER mv OPTIONS (collection '$c', allow_full_scan 'true');
	});
}

my $q = '[0.3,-0.2,0.5,0.1]';

sub same_rows
{
	my ($sql_remote, $sql_local, $name) = @_;
	my $r = $node->safe_psql('postgres', $sql_remote);
	my $l = $node->safe_psql('postgres', $sql_local);
	is($r, $l, $name);
	return $r;
}

# Like same_rows, but numbers may differ by 2e-4 (the remote computes in
# float4, the local operators in float8)
sub near_rows
{
	my ($sql_remote, $sql_local, $name) = @_;
	my $r = $node->safe_psql('postgres', $sql_remote);
	my $l = $node->safe_psql('postgres', $sql_local);
	my @a = map { [ split /\|/ ] } split /\n/, $r;
	my @b = map { [ split /\|/ ] } split /\n/, $l;
	my $ok = @a == @b;
	for my $i (0 .. $#a)
	{
		last unless $ok;
		$ok = 0 unless @{ $a[$i] } == @{ $b[$i] // [] };
		for my $j (0 .. $#{ $a[$i] })
		{
			my ($x, $y) = ($a[$i][$j], $b[$i][$j] // '');
			if ($x =~ /^-?[\d.]+(e[-+]?\d+)?$/ && $y =~ /^-?[\d.]+(e[-+]?\d+)?$/)
			{
				$ok = 0 if abs($x - $y) > 2e-4;
			}
			else
			{
				$ok = 0 if $x ne $y;
			}
		}
	}
	ok($ok, $name) or diag("remote:\n$r\nlocal:\n$l");
	return $r;
}

# --- EXPLAIN ---------------------------------------------------------------

my $plan = $node->safe_psql('postgres',
	"EXPLAIN (VERBOSE, COSTS OFF) SELECT id, score FROM docs_cosine
	 WHERE genre = 'news' AND year >= 2018 ORDER BY embedding <=> '$q' LIMIT 5 OFFSET 2");
like($plan, qr{Remote Request: POST /v2/vectordb/entities/search}, 'search endpoint');
like($plan, qr/Remote Limit: 5/, 'limit shown');
like($plan, qr/Remote Offset: 2/, 'offset sent to Milvus');
like($plan, qr/Remote Filter: \((genre == "news" and year >= 2018|year >= 2018 and genre == "news")\)/,
	'filter as a Milvus expression');
unlike($plan, qr/^\s*(->\s*)?(Sort|Limit)\b|root:Milvus/m, 'no local sort or limit, no token');

# --- results, each metric ---------------------------------------------------

for my $metric (sort keys %metric_op)
{
	my $op = $metric_op{$metric};
	my $c = 'docs_' . lc $metric;
	near_rows(
		"SELECT id, round((embedding $op '$q')::numeric, 4), round(distance::numeric, 4)
		 FROM $c ORDER BY embedding $op '$q' LIMIT 10",
		"SELECT id, round((embedding $op '$q')::numeric, 4), round((embedding $op '$q')::numeric, 4)
		 FROM local_docs ORDER BY embedding $op '$q' LIMIT 10",
		"$metric: top 10 and distances equal local");
	same_rows(
		"SELECT id FROM $c ORDER BY embedding $op '$q' LIMIT 6 OFFSET 4",
		"SELECT id FROM local_docs ORDER BY embedding $op '$q' LIMIT 6 OFFSET 4",
		"$metric: offset");
}
same_rows(
	"SELECT id, embedding, genre, year, draft, title, metadata->>'title'
	 FROM docs_l2 ORDER BY embedding <-> '$q' LIMIT 5",
	"SELECT id, embedding, genre, year, draft, title, title
	 FROM local_docs ORDER BY embedding <-> '$q' LIMIT 5",
	'vector, metadata, scalar and dynamic columns');

# --- filters ---------------------------------------------------------------

my @filters = (
	"genre = 'news'",
	"genre <> 'news'",
	"year < 2018",
	"year <= 2018",
	"year > 2018",
	"year >= 2018",
	"year <> 2020",
	"genre IN ('news', 'tech')",
	"genre NOT IN ('news')",
	"year IN (2015, 2016, 2017)",
	"title = 'title 9'",
	"genre IS NULL",
	"genre IS NOT NULL",
	"draft",
	"NOT draft",
	"genre = 'news' OR year > 2022",
	"(genre = 'tech' AND year >= 2016) OR (draft AND year < 2016)",
	"genre NOT IN ('news', NULL)");
for my $f (@filters)
{
	my $p = $node->safe_psql('postgres',
		"EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM docs_cosine WHERE $f
		 ORDER BY embedding <=> '$q' LIMIT 7");
	like($p, qr/Remote Filter:/, "filter pushed: $f");
	same_rows(
		"SELECT id FROM docs_cosine WHERE $f ORDER BY embedding <=> '$q' LIMIT 7",
		"SELECT id FROM local_docs WHERE $f ORDER BY embedding <=> '$q' LIMIT 7",
		"filter result: $f");
}

# --- full scans, ids ---------------------------------------------------------

$plan = $node->safe_psql('postgres',
	"EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM docs_cosine_scan
	 WHERE genre = 'tech' AND title LIKE 'title 1%' ORDER BY embedding <=> '$q' LIMIT 5");
like($plan, qr{Limit.*Sort.*entities/query}s, 'local condition: query, local sort and limit');
like($plan, qr/Remote Filter: genre == "tech"/, 'full scan: pushable part filtered remotely');
same_rows(
	"SELECT id FROM docs_cosine_scan WHERE genre = 'tech' AND title LIKE 'title 1%'
	 ORDER BY embedding <=> '$q' LIMIT 5",
	"SELECT id FROM local_docs WHERE genre = 'tech' AND title LIKE 'title 1%'
	 ORDER BY embedding <=> '$q' LIMIT 5",
	'full scan with a local condition');
same_rows("SELECT count(*), sum(id), sum(year) FROM docs_l2_scan",
	"SELECT count(*), sum(id), sum(year) FROM local_docs",
	'full scan reads every row, int64 ids exact');

is($node->safe_psql('postgres', "SELECT id, year FROM docs_ip WHERE id = $big + 2"),
	($big + 2) . '|' . (2014 + 1), 'get: int64 id above 2^53 exact');
same_rows(
	"SELECT id, title FROM docs_ip WHERE id IN ($big + 4, 5, 6, 404, 5) ORDER BY id",
	"SELECT id, title FROM local_docs WHERE id IN ($big + 4, 5, 6, 404, 5) ORDER BY id",
	'get: id IN');
same_rows(
	"SELECT id FROM docs_cosine ORDER BY embedding <=> (SELECT embedding FROM local_docs WHERE id = $big + 6) LIMIT 3",
	"SELECT id FROM local_docs ORDER BY embedding <=> (SELECT embedding FROM local_docs WHERE id = $big + 6) LIMIT 3",
	'big ids come back exact from search');

$node->safe_psql('postgres',
	"CREATE TABLE picks (id bigint, label text);
	 INSERT INTO picks VALUES ($big + 2, 'a'), (10, 'b'), (999, 'c'); ANALYZE picks");
same_rows(
	"SELECT p.label, d.title FROM picks p JOIN docs_cosine d ON d.id = p.id ORDER BY 1",
	"SELECT p.label, d.title FROM picks p JOIN local_docs d ON d.id = p.id ORDER BY 1",
	'join on id');

# --- partitions, load state ---------------------------------------------------

$mv->create_collection(name => 'parted', dimension => $dim, metric => 'L2',
	fields => { year => 'Int64' });
$mv->create_partition(collection => 'parted', partition => 'p2020');
$mv->insert(collection => 'parted', rows => [ map { { %$_ } } @mrows[ 0 .. 39 ] ]);
$mv->insert(collection => 'parted', partition => 'p2020',
	rows => [ map { { %$_ } } @mrows[ 40 .. 79 ] ]);
$mv->load('parted');
$node->safe_psql('postgres',
	"CREATE FOREIGN TABLE parted (id bigint, embedding vector(4), year bigint)
	 SERVER mv OPTIONS (collection 'parted', partition 'p2020')");
same_rows(
	"SELECT id FROM parted ORDER BY embedding <-> '$q' LIMIT 5",
	"SELECT id FROM local_docs WHERE id NOT IN (SELECT id FROM local_docs ORDER BY ctid LIMIT 40)
	 ORDER BY embedding <-> '$q' LIMIT 5",
	'partition: only its rows');

$mv->create_collection(name => 'cold', dimension => $dim, metric => 'COSINE', load => 0);
$mv->insert(collection => 'cold', rows => [ map { { %$_ } } @mrows[ 0 .. 9 ] ]);
$node->safe_psql('postgres',
	"CREATE FOREIGN TABLE cold (id bigint, embedding vector(4)) SERVER mv OPTIONS (collection 'cold')");
my ($ret, $out, $err) = $node->psql('postgres',
	"SELECT id FROM cold ORDER BY embedding <=> '$q' LIMIT 1",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/HV00L.*collection "cold" is not loaded/, 'unloaded: refused');
like($err, qr/load_collection/, 'unloaded: hint');
$node->safe_psql('postgres',
	"CREATE SERVER mv_load FOREIGN DATA WRAPPER vectorpg_fdw
	 OPTIONS (provider 'milvus', url '$url', allow_insecure 'true', load_collection 'true');
	 CREATE USER MAPPING FOR CURRENT_USER SERVER mv_load OPTIONS (token 'root:Milvus');
	 CREATE FOREIGN TABLE cold2 (id bigint, embedding vector(4)) SERVER mv_load OPTIONS (collection 'cold')");
is($node->safe_psql('postgres', "SELECT count(*) FROM (SELECT id FROM cold2 ORDER BY embedding <=> '$q' LIMIT 3) s"),
	'3', 'load_collection: loaded, then searched');

# --- error envelopes -----------------------------------------------------------

$mv->fault(mode => 'envelope_error', code => 1100, message => 'invalid parameter[bad]',
	path => 'entities/search', count => 1);
($ret, $out, $err) = $node->psql('postgres',
	"SELECT id FROM docs_cosine ORDER BY embedding <=> '$q' LIMIT 1",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/HV00L.*Milvus rejected the request/, '200 with code 1100: HV00L');
like($err, qr/code 1100: invalid parameter\[bad\]/, '200 with code 1100: remote message');
$mv->clear_faults;

$mv->fault(mode => 'envelope_error', code => 100, message => 'collection not found[x]',
	path => 'entities/search', count => 1);
($ret, $out, $err) = $node->psql('postgres',
	"SELECT id FROM docs_cosine ORDER BY embedding <=> '$q' LIMIT 1",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/HV00R.*collection "docs_cosine" not found/, '200 with code 100: HV00R');
$mv->clear_faults;

$mv->reset_log;
$mv->fault(mode => 'envelope_error', code => 8, message => 'rate limit exceeded',
	path => 'entities/search', count => 1);
same_rows(
	"SELECT id FROM docs_cosine ORDER BY embedding <=> '$q' LIMIT 3",
	"SELECT id FROM local_docs ORDER BY embedding <=> '$q' LIMIT 3",
	'retryable code 8: retried, then answered');
my @searches = grep { $_->{path} =~ /entities\/search/ } @{ $mv->requests };
is(scalar(@searches), 2, 'retryable code 8: two search requests');
$mv->clear_faults;

# A retryable code that does not go away: the retries are spent, then the
# same SQLSTATE as the transport's 429 and 5xx
$mv->fault(mode => 'envelope_error', code => 8, message => 'rate limit exceeded',
	path => 'entities/search', count => 100);
($ret, $out, $err) = $node->psql('postgres',
	"SELECT id FROM docs_cosine ORDER BY embedding <=> '$q' LIMIT 1",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/HV00L.*Milvus is unavailable or over its limits/,
	'retryable code 8 that persists: HV00L once the retries are spent');
$mv->clear_faults;

# --- VarChar keys, IMPORT FOREIGN SCHEMA ---------------------------------------

$mv->create_collection(name => 'named', dimension => 3, metric => 'IP', id_type => 'VarChar',
	fields => { score => 'Double', label => 'VarChar', n => 'Int32' }, dynamic => 0);
$mv->insert(collection => 'named', rows => [
	{ id => 'a b', vector => [1, 0, 0], score => 0.5, label => 'x', n => 1 },
	{ id => 'c"d', vector => [0, 1, 0], score => 1.5, label => 'y', n => 2 } ]);
$node->safe_psql('postgres',
	"CREATE SCHEMA imp;
	 IMPORT FOREIGN SCHEMA db LIMIT TO (named, parted) FROM SERVER mv INTO imp");
is( $node->safe_psql(
		'postgres', "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
	WHERE attrelid = 'imp.named'::regclass AND attnum > 0 ORDER BY attnum"),
	"id|text\nembedding|vector(3)\nscore|double precision\ndistance|double precision\nmetadata|jsonb\nlabel|text\nn|integer\nscore_field|double precision",
	'import: scalar fields become columns, a clash gets column_name');
is( $node->safe_psql(
		'postgres', "SELECT id, score_field, label, n, round(score::numeric, 3)
	FROM imp.named ORDER BY embedding <#> '[1,0.5,0]' LIMIT 2"),
	"a b|0.5|x|1|1.000\nc\"d|1.5|y|2|0.500", 'imported VarChar-key table answers');
is( $node->safe_psql(
		'postgres', "SELECT id FROM imp.named WHERE id IN ('c\"d', 'zz')"),
	'c"d', 'VarChar key get');
is( $node->safe_psql(
		'postgres', "SELECT count(*) FROM information_schema.foreign_tables WHERE foreign_table_schema = 'imp'"),
	'2', 'import: LIMIT TO');

# --- full scans beyond a query window, LIMIT without ORDER BY, estimates ------

# 20,000 rows: more than the 16,384 rows one Milvus query may return.  Keys
# are spread over negative and positive Int64 values (a bijection of 1..n).
my $nbig = 20000;
my $key = sub { my $i = shift; return (($i * 2654435761) % 1099511627776) - 549755813888; };
$mv->create_collection(name => 'big', dimension => 2, metric => 'L2',
	id_type => 'Int64', fields => { g => 'Int64' }, dynamic => 0);
for (my $s = 1; $s <= $nbig; $s += 5000)
{
	$mv->insert(collection => 'big', rows => [
		map { { id => $key->($_), vector => [ $_ % 13, $_ % 17 ], g => $_ % 10 } }
		  $s .. $s + 4999 ]);
}
$node->safe_psql('postgres', qq{
	CREATE FOREIGN TABLE big_scan (id bigint, embedding vector(2), g bigint)
		SERVER mv OPTIONS (collection 'big', allow_full_scan 'true');
	CREATE FOREIGN TABLE big (id bigint, embedding vector(2), g bigint)
		SERVER mv OPTIONS (collection 'big');
	CREATE TABLE big_local AS
		SELECT (((i::bigint * 2654435761) % 1099511627776) - 549755813888) AS id, i % 10 AS g
		FROM generate_series(1, $nbig) i;
});
my $expect_all = $node->safe_psql('postgres',
	"SELECT count(*), count(DISTINCT id), sum(id), min(id), max(id) FROM big_local");
for my $order ('pk', 'shuffled')
{
	$mv->query_order($order);
	$mv->reset_log;
	is($node->safe_psql('postgres',
		"SELECT count(*), count(DISTINCT id), sum(id), min(id), max(id) FROM big_scan"),
		$expect_all, "$order order: a full scan of $nbig rows returns each row once");
	my @q = grep { $_->{path} =~ /entities\/query/ } @{ $mv->requests };
	ok(@q < 40, "$order order: the scan took " . scalar(@q) . " queries");
	ok(!grep({ ($_->{body}{offset} // 0) > 0 } @q), "$order order: no offset paging");
	is($node->safe_psql('postgres',
		"SELECT count(*), count(DISTINCT id), sum(id) FROM big_scan WHERE g = 3"),
		$node->safe_psql('postgres',
		"SELECT count(*), count(DISTINCT id), sum(id) FROM big_local WHERE g = 3"),
		"$order order: with a pushed filter");
}
$mv->query_order('pk');

# VarChar keys: the key space is split by string comparison
$mv->create_collection(name => 'bigtext', dimension => 2, metric => 'IP',
	id_type => 'VarChar', dynamic => 0);
my @tkeys = map { ($_ % 3 == 0 ? "\x{e9}t\x{e9}-" : $_ % 3 == 1 ? 'k"' : 'K ') . ($_ * 7919 % 17011) }
  1 .. 17000;
for (my $s = 0; $s < @tkeys; $s += 5000)
{
	my $e = $s + 4999 < $#tkeys ? $s + 4999 : $#tkeys;
	$mv->insert(collection => 'bigtext',
		rows => [ map { { id => $tkeys[$_], vector => [ 1, $_ % 5 ] } } $s .. $e ]);
}
$node->safe_psql('postgres',
	"CREATE FOREIGN TABLE bigtext (id text, embedding vector(2))
	 SERVER mv OPTIONS (collection 'bigtext', allow_full_scan 'true')");
$mv->query_order('shuffled');
is($node->safe_psql('postgres',
	"SELECT count(*), count(DISTINCT id), sum(length(id)) FROM bigtext"),
	join('|', scalar(@tkeys), scalar(@tkeys), eval { my $t = 0; $t += length($_) for @tkeys; $t }),
	'VarChar keys, shuffled order: every row once');
$mv->query_order('pk');

# the planner's estimate of a full scan is the remote count(*), cached
like($node->safe_psql('postgres', "EXPLAIN SELECT * FROM big_scan"),
	qr/rows=$nbig\b/, 'estimate: the remote row count');
$mv->reset_log;
like($node->safe_psql('postgres',
	"EXPLAIN SELECT * FROM big_scan; EXPLAIN SELECT * FROM big_scan WHERE g = 1"),
	qr/rows=$nbig\b.*rows=100\b/s, 'estimate: count times the selectivity of the conditions');
is(scalar(grep { ($_->{body}{outputFields} // [''])->[0] eq 'count(*)' } @{ $mv->requests }),
	1, 'estimate: the count is asked once per backend');

# LIMIT without ORDER BY: one query with that limit, without allow_full_scan
$plan = $node->safe_psql('postgres',
	"EXPLAIN (VERBOSE, COSTS OFF) SELECT id, g FROM big WHERE g = 4 LIMIT 5 OFFSET 2");
like($plan, qr{Remote Request: POST /v2/vectordb/entities/query}, 'LIMIT: a query');
like($plan, qr/Remote Limit: 5 \+ 2 \(offset skipped locally\)/, 'LIMIT: shown');
like($plan, qr/Remote Filter: g == 4/, 'LIMIT: filter pushed');
unlike($plan, qr/^\s*(->\s*)?Limit\b/m, 'LIMIT: no local limit');
$mv->reset_log;
is($node->safe_psql('postgres',
	"SELECT count(*), bool_and(g = 4) FROM (SELECT id, g FROM big WHERE g = 4 LIMIT 5 OFFSET 2) s"),
	'5|t', 'LIMIT: five matching rows');
my @lq = grep { $_->{path} =~ /entities\/query/ } @{ $mv->requests };
is(scalar(@lq), 1, 'LIMIT: one request');
is($lq[0]{body}{limit}, 7, 'LIMIT: limit + offset asked for');
($ret, $out, $err) = $node->psql('postgres', "SELECT id FROM big LIMIT 20000");
like($err, qr/would read the whole remote index/, 'LIMIT beyond the bound: refused');
($ret, $out, $err) = $node->psql('postgres',
	"PREPARE lim(int) AS SELECT id FROM big LIMIT \$1;
	 SET plan_cache_mode = force_generic_plan; EXECUTE lim(3); EXECUTE lim(20000)");
like($out, qr/^(-?\d+\n){2}-?\d+$/, 'LIMIT parameter: three rows');
like($err, qr/would read more than 10000 rows/, 'LIMIT parameter beyond the bound: refused');
is($node->safe_psql('postgres', "SELECT count(*) FROM (SELECT * FROM big_scan LIMIT 18000) s"),
	'18000', 'LIMIT beyond a window with allow_full_scan');
($ret, $out, $err) = $node->psql('postgres',
	"SELECT id FROM big WHERE id % 2 = 0 LIMIT 5");
like($err, qr/would read the whole remote index/, 'LIMIT with a local condition: not pushed');

# ORDER BY the distance column is no search
($ret, $out, $err) = $node->psql('postgres',
	"SELECT id FROM docs_cosine ORDER BY distance LIMIT 5");
like($err, qr/score or distance column is no search/, 'ORDER BY distance: explained');
like($err, qr/HINT:  Write ORDER BY embedding <operator> value LIMIT n/, 'ORDER BY distance: hint');
near_rows(
	"SELECT id, round(distance::numeric, 4) FROM (SELECT id, distance FROM docs_cosine
	 ORDER BY embedding <=> '$q' LIMIT 5) s ORDER BY distance DESC",
	"SELECT id, round((embedding <=> '$q')::numeric, 4) FROM (SELECT * FROM local_docs
	 ORDER BY embedding <=> '$q' LIMIT 5) s ORDER BY embedding <=> '$q' DESC",
	'ORDER BY distance over a search');

$mv->stop;
done_testing();
