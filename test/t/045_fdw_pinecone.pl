# 045_fdw_pinecone.pl: vectorpg_fdw against the strict fake Pinecone.
#
# What it proves: the pushdown shapes (remote top-k with filter, fetch by
# id, refused and allowed full scans) show in EXPLAIN (VERBOSE) without the
# API key; the rows of every shape equal a local brute-force computation on
# the same data in a heap table, for each metric (cosine, euclidean,
# dotproduct: score conventions and the sqrt of Pinecone's squared
# Euclidean distance); each filter operator is pushed and gives the rows
# local evaluation gives; a condition the remote cannot evaluate runs
# locally with LIMIT kept local; OFFSET; joins with local tables
# (parameterised fetch); prepared statements with generic plans; IMPORT
# FOREIGN SCHEMA with LIMIT TO and EXCEPT; the error shapes (404 JSON body,
# plain-text 401) become the documented SQLSTATEs.
#
# Why: pushdown must never change results; the local heap table is the
# oracle.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use VectorpgFake;

srand(45);

my $pc = VectorpgFake->new('pinecone', api_key => 'pc-secret-key-45');

my $node = PostgreSQL::Test::Cluster->new('fdw_pinecone');
$node->init;
$node->append_conf('postgresql.conf', "fsync = off\n");
$node->start;

my $dim = 4;
my $n = 80;
my @genres = ('news', 'sports', 'tech');

# The data: random vectors, metadata with a missing genre now and then
my (@vectors, @rows);
for my $i (1 .. $n)
{
	my @v = map { sprintf('%.4f', rand() * 2 - 1) } 1 .. $dim;
	my %meta = (year => 2014 + ($i % 11), draft => ($i % 4 == 0 ? 1 : 0),
		title => "title $i");
	$meta{genre} = $genres[ $i % 3 ] unless $i % 7 == 0;
	push @vectors,
	  {
		id => "v$i",
		values => [ map { $_ + 0 } @v ],
		metadata => {
			%meta,
			draft => $meta{draft} ? JSON::PP::true : JSON::PP::false
		}
	  };
	push @rows,
	  sprintf("('v%d', '[%s]', %s, %d, %s, 'title %d')",
		$i, join(',', @v),
		defined $meta{genre} ? "'$meta{genre}'" : 'NULL',
		$meta{year}, $meta{draft} ? 'true' : 'false', $i);
}

my %metric_op = (cosine => '<=>', euclidean => '<->', dotproduct => '<#>');
for my $metric (sort keys %metric_op)
{
	$pc->create_index(name => "docs-$metric", dimension => $dim, metric => $metric);
	$pc->upsert(index => "docs-$metric", namespace => 'ns1', vectors => \@vectors);
}
$pc->create_index(name => 'other', dimension => 8, metric => 'cosine');

my $url = $pc->url;
$node->safe_psql(
	'postgres', qq{
	CREATE EXTENSION vectorpg;
	CREATE SERVER pc FOREIGN DATA WRAPPER vectorpg_fdw
		OPTIONS (provider 'pinecone', url '$url', allow_insecure 'true');
	CREATE USER MAPPING FOR CURRENT_USER SERVER pc OPTIONS (api_key 'pc-secret-key-45');
	CREATE TABLE local_docs (id text, embedding vector($dim), genre text,
		year int, draft boolean, title text);
	INSERT INTO local_docs VALUES @{[ join(",\n", @rows) ]};
});
for my $metric (sort keys %metric_op)
{
	my $t = "docs_$metric";
	$node->safe_psql(
		'postgres', qq{
		CREATE FOREIGN TABLE $t (id text, embedding vector($dim), score float8,
			distance float8, metadata jsonb, genre text, year int, draft boolean,
			title text)
			SERVER pc OPTIONS (index 'docs-$metric', namespace 'ns1', metric '$metric');
		CREATE FOREIGN TABLE ${t}_scan (id text, embedding vector($dim),
			genre text, year int, draft boolean, title text)
			SERVER pc OPTIONS (index 'docs-$metric', namespace 'ns1',
				allow_full_scan 'true');
	});
}

my $q = '[0.3,-0.2,0.5,0.1]';

# --- EXPLAIN shapes --------------------------------------------------------

my $plan = $node->safe_psql('postgres',
	"EXPLAIN (VERBOSE, COSTS OFF) SELECT id, score FROM docs_cosine
	 WHERE genre = 'news' AND year >= 2018 ORDER BY embedding <=> '$q' LIMIT 5");
like($plan, qr/Foreign Scan/, 'top-k: one foreign scan');
unlike($plan, qr/Sort|Limit/, 'top-k: no local sort or limit');
like($plan, qr/Remote Request: POST \/query/, 'top-k: endpoint shown');
like($plan, qr/Remote Top K: 5/, 'top-k: topK shown');
like($plan, qr/Remote Namespace: ns1/, 'top-k: namespace shown');
like($plan, qr/Remote Filter: \{"\$and":\[.*\{"genre":\{"\$eq":"news"\}\}/,
	'top-k: filter shown (genre)');
like($plan, qr/Remote Filter: .*\{"year":\{"\$gte":2018\}\}/, 'top-k: filter shown (year)');
unlike($plan, qr/pc-secret/, 'no secret in EXPLAIN');

# an operator that does not match the metric is not pushed: full scan refused
my ($ret, $out, $err) = $node->psql('postgres',
	"SELECT id FROM docs_cosine ORDER BY embedding <-> '$q' LIMIT 5");
isnt($ret, 0, 'metric mismatch: not pushed, full scan refused');
like($err, qr/would read the whole remote index/, 'refusal message');
like($err, qr/HINT:.*allow_full_scan/, 'refusal hint');

# --- results equal local brute force, each metric ---------------------------

# Compare a query on a foreign table with the same on local_docs
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

for my $metric (sort keys %metric_op)
{
	my $op = $metric_op{$metric};
	my $r = near_rows(
		"SELECT id, round((embedding $op '$q')::numeric, 4), round(distance::numeric, 4)
		 FROM docs_$metric ORDER BY embedding $op '$q' LIMIT 10",
		"SELECT id, round((embedding $op '$q')::numeric, 4), round((embedding $op '$q')::numeric, 4)
		 FROM local_docs ORDER BY embedding $op '$q' LIMIT 10",
		"$metric: top 10 and distances equal local");
	is(scalar(split /\n/, $r), 10, "$metric: 10 rows");
}

# Pinecone's euclidean score is the squared distance
near_rows(
	"SELECT id, round(score::numeric, 4) FROM docs_euclidean
	 ORDER BY embedding <-> '$q' LIMIT 3",
	"SELECT id, round(((embedding <-> '$q') ^ 2)::numeric, 4) FROM local_docs
	 ORDER BY embedding <-> '$q' LIMIT 3",
	'euclidean: score is the squared distance');
near_rows(
	"SELECT id, round(score::numeric, 4) FROM docs_dotproduct
	 ORDER BY embedding <#> '$q' LIMIT 3",
	"SELECT id, round((-(embedding <#> '$q'))::numeric, 4) FROM local_docs
	 ORDER BY embedding <#> '$q' LIMIT 3",
	'dotproduct: score is the inner product');

# metadata and vector columns
same_rows(
	"SELECT id, embedding, metadata->>'genre', metadata->>'year', title, draft
	 FROM docs_cosine ORDER BY embedding <=> '$q' LIMIT 4",
	"SELECT id, embedding, genre, year::text, title, draft
	 FROM local_docs ORDER BY embedding <=> '$q' LIMIT 4",
	'vector, metadata and field columns');

# --- filters, each operator -------------------------------------------------

my @filters = (
	"genre = 'news'",
	"genre <> 'news'",
	"'sports' = genre",
	"year < 2018",
	"year <= 2018",
	"year > 2018",
	"year >= 2018",
	"2018 < year",
	"year = 2020",
	"year <> 2020",
	"genre IN ('news', 'tech')",
	"genre NOT IN ('news')",
	"genre <> ALL (ARRAY['news', 'tech'])",
	"year IN (2015, 2016, 2017)",
	"genre IS NULL",
	"genre IS NOT NULL",
	"draft",
	"NOT draft",
	"draft = false",
	"genre = 'news' OR year > 2022",
	"(genre = 'tech' AND year >= 2016) OR (draft AND year < 2016)",
	"genre = 'news' AND year BETWEEN 2016 AND 2020",
	"genre IN ('news', NULL)",
	"genre NOT IN ('news', NULL)");
for my $f (@filters)
{
	my $p = $node->safe_psql('postgres',
		"EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM docs_cosine WHERE $f
		 ORDER BY embedding <=> '$q' LIMIT 7");
	like($p, qr/Remote Filter:/, "filter pushed: $f");
	unlike($p, qr/^\s*Filter:/m, "no local filter: $f");
	same_rows(
		"SELECT id FROM docs_cosine WHERE $f ORDER BY embedding <=> '$q' LIMIT 7",
		"SELECT id FROM local_docs WHERE $f ORDER BY embedding <=> '$q' LIMIT 7",
		"filter result: $f");
}

# --- a condition the remote cannot evaluate ---------------------------------

$plan = $node->safe_psql('postgres',
	"EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM docs_cosine_scan
	 WHERE title LIKE 'title 1%' ORDER BY embedding <=> '$q' LIMIT 5");
like($plan, qr/Limit.*Sort.*Foreign Scan/s, 'local condition: LIMIT and sort stay local');
like($plan, qr/Filter: \(docs_cosine_scan.title ~~/, 'local condition: evaluated locally');
like($plan, qr/GET \/vectors\/list/, 'local condition: full scan by list');
same_rows(
	"SELECT id FROM docs_cosine_scan WHERE title LIKE 'title 1%'
	 ORDER BY embedding <=> '$q' LIMIT 5",
	"SELECT id FROM local_docs WHERE title LIKE 'title 1%'
	 ORDER BY embedding <=> '$q' LIMIT 5",
	'local condition: result equals local');
($ret, $out, $err) = $node->psql('postgres',
	"SELECT id FROM docs_cosine WHERE title LIKE 'title 1%'
	 ORDER BY embedding <=> '$q' LIMIT 5");
like($err, qr/would read the whole remote index/,
	'local condition without allow_full_scan: refused');
same_rows(
	"SELECT count(*), count(genre), sum(year) FROM docs_cosine_scan",
	"SELECT count(*), count(genre), sum(year) FROM local_docs",
	'allowed full scan pages through every record');

# --- id = and id IN: fetch --------------------------------------------------

$plan = $node->safe_psql('postgres',
	"EXPLAIN (VERBOSE, COSTS OFF) SELECT * FROM docs_cosine WHERE id = 'v3'");
like($plan, qr/Remote Request: GET \/vectors\/fetch/, 'id =: fetch');
same_rows(
	"SELECT id, embedding, genre, year FROM docs_cosine WHERE id = 'v3'",
	"SELECT id, embedding, genre, year FROM local_docs WHERE id = 'v3'",
	'id =: row');
same_rows(
	"SELECT id, genre FROM docs_cosine WHERE id IN ('v5', 'v9', 'nope', 'v5', 'v12')
	 AND year > 2014 ORDER BY id",
	"SELECT id, genre FROM local_docs WHERE id IN ('v5', 'v9', 'nope', 'v5', 'v12')
	 AND year > 2014 ORDER BY id",
	'id IN with a local condition');
same_rows(
	"SELECT id FROM docs_cosine WHERE id IN ('v5', 'v9', 'v12', 'v20')
	 ORDER BY embedding <=> '$q' LIMIT 2",
	"SELECT id FROM local_docs WHERE id IN ('v5', 'v9', 'v12', 'v20')
	 ORDER BY embedding <=> '$q' LIMIT 2",
	'id IN ordered locally');
is($node->safe_psql('postgres', "SELECT count(*) FROM docs_cosine WHERE id = 'none'"),
	'0', 'id = missing: no row');

# --- OFFSET ---------------------------------------------------------------

$plan = $node->safe_psql('postgres',
	"EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM docs_cosine
	 ORDER BY embedding <=> '$q' LIMIT 4 OFFSET 3");
like($plan, qr/Remote Top K: 4 \+ 3/, 'offset: topK = limit + offset');
same_rows(
	"SELECT id FROM docs_cosine WHERE genre <> 'sports'
	 ORDER BY embedding <=> '$q' LIMIT 4 OFFSET 3",
	"SELECT id FROM local_docs WHERE genre <> 'sports'
	 ORDER BY embedding <=> '$q' LIMIT 4 OFFSET 3",
	'offset: rows');

# --- joins with local tables ----------------------------------------------

$node->safe_psql('postgres',
	"CREATE TABLE picks (id text, label text);
	 INSERT INTO picks VALUES ('v1', 'a'), ('v7', 'b'), ('v44', 'c'), ('zz', 'd');
	 ANALYZE picks");
$plan = $node->safe_psql('postgres',
	"EXPLAIN (VERBOSE, COSTS OFF) SELECT p.label, d.genre FROM picks p
	 JOIN docs_cosine d ON d.id = p.id");
like($plan, qr/Nested Loop.*Foreign Scan.*GET \/vectors\/fetch/s,
	'join on id: parameterised fetch');
same_rows(
	"SELECT p.label, d.year FROM picks p JOIN docs_cosine d ON d.id = p.id ORDER BY 1",
	"SELECT p.label, d.year FROM picks p JOIN local_docs d ON d.id = p.id ORDER BY 1",
	'join on id: rows');
same_rows(
	"SELECT p.label, s.id FROM picks p
	 JOIN (SELECT id FROM docs_cosine ORDER BY embedding <=> '$q' LIMIT 30) s
	   ON s.id = p.id ORDER BY 1",
	"SELECT p.label, s.id FROM picks p
	 JOIN (SELECT id FROM local_docs ORDER BY embedding <=> '$q' LIMIT 30) s
	   ON s.id = p.id ORDER BY 1",
	'join with a top-k subquery');

# a correlated top-k: one remote search per outer row (ReScan with new values)
$plan = $node->safe_psql('postgres',
	"EXPLAIN (VERBOSE, COSTS OFF) SELECT p.id, (SELECT d.id FROM docs_cosine d
	   WHERE d.genre IS NOT NULL
	   ORDER BY d.embedding <=> l.embedding LIMIT 1)
	 FROM picks p JOIN local_docs l ON l.id = p.id");
like($plan, qr/SubPlan.*Foreign Scan.*POST \/query/s, 'correlated top-k: pushed in the subplan');
same_rows(
	"SELECT p.id, (SELECT d.id FROM docs_cosine d WHERE d.genre IS NOT NULL
	   ORDER BY d.embedding <=> l.embedding LIMIT 1 OFFSET 1)
	 FROM picks p JOIN local_docs l ON l.id = p.id ORDER BY 1",
	"SELECT p.id, (SELECT d.id FROM local_docs d WHERE d.genre IS NOT NULL
	   ORDER BY d.embedding <=> l.embedding LIMIT 1 OFFSET 1)
	 FROM picks p JOIN local_docs l ON l.id = p.id ORDER BY 1",
	'correlated top-k: one search per outer row');

# --- prepared statements, generic plans -------------------------------------

is( $node->safe_psql(
		'postgres', "SET plan_cache_mode = force_generic_plan;
	PREPARE s(vector, int, text, int) AS
		SELECT id FROM docs_euclidean WHERE genre = \$3 AND year > \$4
		ORDER BY embedding <-> \$1 LIMIT \$2;
	EXECUTE s('$q', 3, 'tech', 2015);
	EXECUTE s('[1,1,1,1]', 2, 'news', 2000);"),
	$node->safe_psql(
		'postgres', "
	SELECT id FROM (SELECT id FROM local_docs WHERE genre = 'tech' AND year > 2015
		ORDER BY embedding <-> '$q' LIMIT 3) a;
	SELECT id FROM (SELECT id FROM local_docs WHERE genre = 'news' AND year > 2000
		ORDER BY embedding <-> '[1,1,1,1]' LIMIT 2) b;"),
	'prepared statement with parameters (generic plan)');
$plan = $node->safe_psql(
	'postgres', "SET plan_cache_mode = force_generic_plan;
	PREPARE s(vector, int, text) AS
		SELECT id FROM docs_euclidean WHERE genre = \$3
		ORDER BY embedding <-> \$1 LIMIT \$2;
	EXPLAIN (VERBOSE, COSTS OFF) EXECUTE s('$q', 3, 'tech');");
like($plan, qr/Remote Top K: \$2/, 'generic plan: topK is a parameter');
like($plan, qr/"genre":\{"\$eq":\$3\}/, 'generic plan: filter value is a parameter');

# --- IMPORT FOREIGN SCHEMA -------------------------------------------------

$node->safe_psql(
	'postgres', "CREATE SCHEMA imp1; CREATE SCHEMA imp2;
	IMPORT FOREIGN SCHEMA remote LIMIT TO (\"docs-cosine\", other) FROM SERVER pc INTO imp1;
	IMPORT FOREIGN SCHEMA remote EXCEPT (other) FROM SERVER pc INTO imp2;");
is( $node->safe_psql(
		'postgres', "SELECT foreign_table_schema, foreign_table_name
	FROM information_schema.foreign_tables WHERE foreign_table_schema LIKE 'imp%' ORDER BY 1, 2"),
	"imp1|docs-cosine\nimp1|other\nimp2|docs-cosine\nimp2|docs-dotproduct\nimp2|docs-euclidean",
	'import: LIMIT TO and EXCEPT');
is( $node->safe_psql(
		'postgres', "SELECT format_type(atttypid, atttypmod) FROM pg_attribute
	WHERE attrelid = 'imp1.other'::regclass AND attname = 'embedding'"),
	'vector(8)', 'import: dimension');
like(
	$node->safe_psql(
		'postgres', "SELECT ftoptions FROM pg_foreign_table
	WHERE ftrelid = 'imp2.\"docs-euclidean\"'::regclass"),
	qr/metric=euclidean/, 'import: metric option');
$node->safe_psql('postgres', "ALTER FOREIGN TABLE imp2.\"docs-euclidean\" OPTIONS (ADD namespace 'ns1')");
same_rows(
	"SELECT id FROM imp2.\"docs-euclidean\" ORDER BY embedding <-> '$q' LIMIT 5",
	"SELECT id FROM local_docs ORDER BY embedding <-> '$q' LIMIT 5",
	'imported table answers top-k');

# --- LIMIT without ORDER BY, estimates, ORDER BY distance ---------------------

# LIMIT alone: a list of that many ids (and a fetch), without allow_full_scan
$plan = $node->safe_psql('postgres',
	"EXPLAIN (VERBOSE, COSTS OFF) SELECT id, title FROM docs_cosine LIMIT 5 OFFSET 1");
like($plan, qr{Remote Request: GET /vectors/list \+ GET /vectors/fetch}, 'LIMIT: list and fetch');
like($plan, qr/Remote Limit: 5 \+ 1 \(offset skipped locally\)/, 'LIMIT: shown');
unlike($plan, qr/^\s*(->\s*)?Limit\b/m, 'LIMIT: no local limit');
$pc->reset_log;
is($node->safe_psql('postgres',
	"SELECT count(*), count(DISTINCT id), bool_and(title LIKE 'title %')
	 FROM (SELECT id, title FROM docs_cosine LIMIT 5 OFFSET 1) s"),
	'5|5|t', 'LIMIT: five records');
my @lists = grep { $_->{path} eq '/vectors/list' } @{ $pc->requests };
is(scalar(@lists), 1, 'LIMIT: one list request');
is($lists[0]{query_params}{limit}[0] // $lists[0]{query_params}{limit}, 6,
	'LIMIT: limit + offset ids listed');
is($node->safe_psql('postgres', "SELECT count(*) FROM (SELECT id FROM docs_cosine LIMIT 150) s"),
	$n < 150 ? $n : 150, 'LIMIT over several list pages');
$pc->reset_log;
is($node->safe_psql('postgres',
	"SELECT count(*), bool_and(genre = 'news') FROM (SELECT id, genre FROM docs_cosine
	 WHERE genre = 'news' LIMIT 5) s"),
	'5|t', 'LIMIT with a pushable condition: five matching records');
my @fbm = grep { $_->{path} eq '/vectors/fetch_by_metadata' } @{ $pc->requests };
is(scalar(@fbm), 1, 'LIMIT with a condition: one fetch_by_metadata');
is($fbm[0]{body}{limit}, 5, 'LIMIT with a condition: limit sent');
is_deeply($fbm[0]{body}{filter}, { genre => { '$eq' => 'news' } },
	'LIMIT with a condition: the filter sent');

# a full scan sends its pushable conditions to fetch_by_metadata, paging on
$plan = $node->safe_psql('postgres',
	"EXPLAIN (VERBOSE, COSTS OFF) SELECT id FROM docs_cosine_scan WHERE year >= 2016 AND title LIKE '%1'");
like($plan, qr{Remote Request: POST /vectors/fetch_by_metadata}, 'full scan with a filter: fetch_by_metadata');
like($plan, qr/Remote Filter: \{"year":\{"\$gte":2016\}\}/, 'full scan: the pushable part filtered remotely');
like($plan, qr/Filter: \(docs_cosine_scan.title ~~/, 'full scan: the rest locally');
$pc->create_index(name => 'many', dimension => 2, metric => 'euclidean');
$pc->upsert(index => 'many',
	vectors => [ map { { id => "m$_", values => [ $_, 1 ], metadata => { k => $_ } } } 1 .. 250 ]);
$node->safe_psql('postgres',
	"CREATE FOREIGN TABLE many (id text, embedding vector(2), k int)
	 SERVER pc OPTIONS (index 'many', metric 'euclidean', allow_full_scan 'true')");
$pc->reset_log;
is($node->safe_psql('postgres', "SELECT count(*), count(DISTINCT id), sum(k) FROM many WHERE k > 20"),
	'230|230|' . (250 * 251 / 2 - 210), 'filtered full scan over three pages: every match once');
is(scalar(grep { $_->{path} eq '/vectors/fetch_by_metadata' } @{ $pc->requests }), 3,
	'filtered full scan: three pages');
# one session per side: every filter as a full scan, compared line by line
my ($remote_all, $local_all) = map {
	my $t = $_;
	$node->safe_psql('postgres', join('', map {
		"SELECT count(*), string_agg(id, ',' ORDER BY id), sum(year) FROM $t WHERE $filters[$_];\n"
	} 0 .. $#filters));
} ('docs_cosine_scan', 'local_docs');
my @remote_lines = split /\n/, $remote_all;
my @local_lines = split /\n/, $local_all;
for my $i (0 .. $#filters)
{
	is($remote_lines[$i], $local_lines[$i], "full scan filter: $filters[$i]");
}
is($node->safe_psql('postgres',
	"SELECT count(*) FROM (SELECT id FROM docs_cosine_scan WHERE genre = 'news' LIMIT 5) s"),
	'5', 'LIMIT with a local condition and allow_full_scan: local');

# the estimate of a full scan is the namespace's vectorCount
$pc->reset_log;
like($node->safe_psql('postgres',
	"EXPLAIN SELECT * FROM docs_cosine_scan; EXPLAIN SELECT * FROM docs_cosine_scan"),
	qr/rows=$n\b.*rows=$n\b/s, 'estimate: describe_index_stats vectorCount');
is(scalar(grep { $_->{path} eq '/describe_index_stats' } @{ $pc->requests }), 1,
	'estimate: asked once per backend');

# ORDER BY the distance column is no search; over a search it is
($ret, $out, $err) = $node->psql('postgres',
	"SELECT id FROM docs_cosine ORDER BY distance LIMIT 3");
like($err, qr/score or distance column is no search/, 'ORDER BY distance: explained');
is($node->safe_psql('postgres',
	"SELECT string_agg(id, ',' ORDER BY d) FROM (SELECT id, distance AS d FROM docs_cosine
	 ORDER BY embedding <=> '$q' LIMIT 4) s"),
	$node->safe_psql('postgres',
	"SELECT string_agg(id, ',') FROM (SELECT id FROM docs_cosine
	 ORDER BY embedding <=> '$q' LIMIT 4) s"),
	'ORDER BY distance over a search');

# metadata numbers come back exactly as stored (cJSON's printer used to cut
# doubles to 15 significant digits when they read back "close enough")
$node->safe_psql('postgres',
	"CREATE FOREIGN TABLE many_meta (id text, embedding vector(2), metadata jsonb)
	 SERVER pc OPTIONS (index 'many', metric 'euclidean')");
$node->safe_psql('postgres',
	"SELECT vectorpg.remote_upsert('many_meta', ARRAY['exact'], ARRAY['[1,2]'::vector],
	 ARRAY['{\"x\": 0.4007838551468841, \"y\": 1e-7, \"z\": 123456789012, \"w\": -2.5}'::jsonb])");
is($node->safe_psql('postgres', "SELECT metadata FROM many_meta WHERE id = 'exact'"),
	'{"w": -2.5, "x": 0.4007838551468841, "y": 0.0000001, "z": 123456789012}',
	'metadata numbers read back in their shortest exact form');

# --- errors ----------------------------------------------------------------

$node->safe_psql('postgres',
	"CREATE FOREIGN TABLE gone (id text, embedding vector(4))
	 SERVER pc OPTIONS (index 'no-such-index', metric 'cosine')");
($ret, $out, $err) = $node->psql('postgres',
	"SELECT id FROM gone ORDER BY embedding <=> '$q' LIMIT 1",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/HV00R.*Pinecone index "no-such-index" not found/, '404: table not found');
like($err, qr/NOT_FOUND/, '404: remote message in detail');

$node->safe_psql('postgres',
	"CREATE ROLE other_user LOGIN; GRANT SELECT ON docs_cosine TO other_user;
	 CREATE USER MAPPING FOR other_user SERVER pc OPTIONS (api_key 'wrong-key')");
($ret, $out, $err) = $node->psql('postgres',
	"SET ROLE other_user; SELECT id FROM docs_cosine WHERE id = 'v1'",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/HV00N.*refused the credentials/, '401 plain text: credentials refused');
unlike($err, qr/wrong-key|pc-secret/, '401: no secret in the error');

($ret, $out, $err) = $node->psql('postgres',
	"INSERT INTO docs_cosine (id) VALUES ('x')");
like($err, qr/null value in the vector column of foreign table/,
	'a written row needs its vector (writes are tested by 048)');

ok(!grep({ $_->{headers} && grep(/pc-secret/, values %{ $_->{headers} }) && 0 } @{ $pc->requests }),
	'request log readable');

$pc->stop;
done_testing();
