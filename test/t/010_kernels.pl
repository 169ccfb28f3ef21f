# 010_kernels.pl: differential test of the SIMD distance kernels.
#
# What it proves: for every SIMD kernel set this CPU can run (avx2, avx512),
# every distance function and operator (l2_distance, inner_product,
# cosine_distance, l1_distance, vector_l2_squared_distance, vector_norm, <->,
# <#>, <=>, <+>) returns the same answer as the scalar reference kernels, on
# over 10,000 deterministic random vector pairs across dimensions that hit
# every code path of the kernels (1, 3, 7 and 15: tails only or register plus
# tail; 8 and 16: exact multiples of one and two registers; 17: two
# registers plus a one-element tail; 784, 1536, 16000: long main loops).
#
# Why: the SIMD kernels differ from the scalar loops only in summation order
# and in fusing multiply-adds, so on small integers (every intermediate value
# exact in float8) they must agree bit for bit, and on floats of widely
# spread magnitudes they must agree to 1e-6 relative.  A wrong tail mask, a
# dropped or doubled element, an accumulator that is never reduced or a
# kernel silently not selected shows up here as a mismatch.  The test also
# checks the vectorpg.kernel setting itself: that a bad value and a kernel
# the CPU lacks are refused, that the choice reaches parallel workers, and
# that RESET goes back to the widest kernel available.
#
# A note on the float tolerance: cosine distance is 1 - similarity, so for
# nearly parallel vectors (common in low dimensions when one element dwarfs
# the others) it is tiny while its absolute error stays about 1e-16, one
# rounding of the similarity.  With this seed the worst such pair (dim 3,
# distance 5.9e-9) differs by 1.9e-8 relative, well inside 1e-6; a different
# seed could in principle produce a pair closer to parallel than 1e-10 and
# exceed the tolerance without any kernel being wrong.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# Pairs per dimension and data family; each family has 6,200 pairs, so the
# two families together have 12,400
my @dims = (
	[ 1, 800 ], [ 3, 800 ], [ 7, 800 ], [ 8, 800 ],
	[ 15, 800 ], [ 16, 800 ], [ 17, 800 ],
	[ 784, 300 ], [ 1536, 200 ], [ 16000, 100 ]);

# Result columns computed under each kernel: name => SQL expression
my @metrics = (
	[ l2_distance => 'l2_distance(a, b)' ],
	[ inner_product => 'inner_product(a, b)' ],
	[ cosine_distance => 'cosine_distance(a, b)' ],
	[ l1_distance => 'l1_distance(a, b)' ],
	[ l2_squared => 'vector_l2_squared_distance(a, b)' ],
	[ norm_a => 'vector_norm(a)' ],
	[ norm_b => 'vector_norm(b)' ],
	[ op_l2 => 'a <-> b' ],
	[ op_neg_ip => 'a <#> b' ],
	[ op_cosine => 'a <=> b' ],
	[ op_l1 => 'a <+> b' ]);

# Largest relative difference allowed between a SIMD and the scalar result
# on the float family
my $tolerance = 1e-6;

my $node = PostgreSQL::Test::Cluster->new('kernels');
$node->init;
$node->append_conf('postgresql.conf', "fsync = off\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION vectorpg');

# Every session first calls vectorpg_kernel(): until the library is loaded,
# vectorpg.kernel is only a placeholder that accepts any string.
my $load = 'SELECT vectorpg_kernel();';

# ---------------------------------------------------------------------------
# The setting itself
# ---------------------------------------------------------------------------

my ($ret, $stdout, $stderr) = $node->psql('postgres',
	"\\set VERBOSITY verbose\n$load\nSET vectorpg.kernel = 'nonsense';");
isnt($ret, 0, "SET vectorpg.kernel = 'nonsense' fails");
like(
	$stderr,
	qr/ERROR:  22023: invalid value for parameter "vectorpg.kernel": "nonsense"/,
	'... with invalid_parameter_value');

is( $node->safe_psql(
		'postgres', "$load
		SET vectorpg.kernel = 'scalar'; SELECT vectorpg_kernel();"
	  ) =~ s/^.*\n//r,
	'scalar',
	'the scalar kernels can always be selected');

# Which SIMD kernels can this CPU run?  Ask the server, and cross-check with
# the kernel's view of the CPU where there is one: a kernel the CPU lacks
# must be refused, or the first distance computed would die of SIGILL.
my %cpu_flags;
if (open my $fh, '<', '/proc/cpuinfo')
{
	while (<$fh>)
	{
		if (/^flags\s*:\s*(.*)$/)
		{
			$cpu_flags{$_} = 1 for split ' ', $1;
			last;
		}
	}
	close $fh;
}
my %cpu_needs = (avx2 => [qw(avx avx2 fma)], avx512 => [qw(avx avx2 fma avx512f avx512bw avx512vl)]);

my @simd;
foreach my $kernel (qw(avx2 avx512))
{
	my ($r, $out, $err) = $node->psql('postgres',
		"\\set VERBOSITY verbose\n$load\nSET vectorpg.kernel = '$kernel';\nSELECT vectorpg_kernel();"
	);
	my $cpu_has = !grep { !$cpu_flags{$_} } @{ $cpu_needs{$kernel} };

	if ($r == 0)
	{
		is((split /\n/, $out)[-1], $kernel, "SET vectorpg.kernel = '$kernel' selects it");
		ok($cpu_has || !%cpu_flags,
			"$kernel is only selectable where /proc/cpuinfo lists @{$cpu_needs{$kernel}}");
		push @simd, $kernel;
	}
	else
	{
		like($err, qr/ERROR:  22023: invalid value for parameter "vectorpg.kernel": "$kernel"/,
			"SET vectorpg.kernel = '$kernel' is refused with invalid_parameter_value");
		like($err, qr/DETAIL:  This CPU or build does not support the "$kernel" kernels/,
			'... and says why');
		note("kernel $kernel not available here"
			  . ($cpu_has ? ' although /proc/cpuinfo lists it (build without SIMD?)' : '')
			  . '; not compared');
	}
}

# RESET (and the default, auto) must take the widest kernels available
my $widest = @simd ? $simd[-1] : 'scalar';
is( $node->safe_psql(
		'postgres', "$load SET vectorpg.kernel = 'scalar'; RESET vectorpg.kernel; SELECT vectorpg_kernel();"
	  ) =~ s/^.*\n//r,
	$widest,
	"after RESET the kernels are the widest available ($widest)");
is($node->safe_psql('postgres', 'SELECT vectorpg_kernel()'),
	$widest, "a new session starts with the widest kernels ($widest)");

# The choice must reach parallel workers, which load the library themselves:
# with force_parallel_mode the query runs in a worker (the plan says so)
my @parallel = split /\n/,
  $node->safe_psql(
	'postgres', "$load SET vectorpg.kernel = 'scalar'; SET force_parallel_mode = on;
	EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) SELECT vectorpg_kernel();
	SELECT vectorpg_kernel();");
ok((grep { /Workers Launched: 1/ } @parallel), 'the query below ran in a parallel worker')
  or diag(join("\n", @parallel));
is($parallel[-1], 'scalar', 'a parallel worker runs the kernels the leader chose');

# ---------------------------------------------------------------------------
# Test data: two families of random pairs, generated by a seeded random()
# ---------------------------------------------------------------------------

# Small integers -8..8: products and sums stay exact in float8, so any
# summation order gives the same result.  Floats: a sign, a uniform mantissa
# and a decimal exponent uniform in -3..3, so that every vector mixes
# magnitudes from 1e-3 to 1e3 (with zeros impossible, cosine is never NaN).
my %element = (
	int => 'floor(random() * 17)::int - 8',
	float => '(CASE WHEN random() < 0.5 THEN -1 ELSE 1 END)'
	  . ' * (0.1 + 0.9 * random()) * power(10, floor(random() * 7) - 3)');

my $values = join(', ', map { "($_->[0], $_->[1])" } @dims);
my $gen = "SET max_parallel_workers_per_gather = 0;
SELECT setseed(0.4242);
CREATE TABLE pairs (
	id integer PRIMARY KEY,
	family text NOT NULL,
	dim integer NOT NULL,
	a vector NOT NULL,
	b vector NOT NULL);
";
my $base = 0;
foreach my $family (qw(int float))
{
	# The subqueries refer to s.n so that they run once per row
	my $vec = "(SELECT array_agg($element{$family}) FROM generate_series(1, s.dim) WHERE s.n > 0)::vector";
	$gen .= "INSERT INTO pairs
SELECT $base + row_number() OVER (ORDER BY s.dim, s.n), '$family', s.dim, $vec, $vec
FROM (VALUES $values) AS c(dim, cnt),
	LATERAL (SELECT c.dim, n FROM generate_series(1, c.cnt) AS n) AS s;
";
	$base += 1_000_000;
}
$gen .= "ANALYZE pairs;\n";
$node->safe_psql('postgres', $gen);

# The data must be what the test means it to be
my $expected_total = 0;
$expected_total += 2 * $_->[1] for @dims;
cmp_ok($expected_total, '>=', 10_000, 'at least 10,000 pairs in total');
my $layout = join("\n", map { "$_->[0]|$_->[1]|$_->[1]" } @dims);
foreach my $family (qw(int float))
{
	is( $node->safe_psql(
			'postgres', "SELECT dim, count(*), count(*) FILTER (WHERE vector_dims(a) = dim AND vector_dims(b) = dim)
			FROM pairs WHERE family = '$family' GROUP BY dim ORDER BY dim"),
		$layout,
		"$family family: pairs per dimension as planned");
}
is( $node->safe_psql(
		'postgres', "SELECT count(*) FROM pairs WHERE family = 'float'
		AND (a::real[] && '{0}'::real[] OR b::real[] && '{0}'::real[])"),
	'0',
	'float family has no zero elements');

# ---------------------------------------------------------------------------
# Results under each kernel
# ---------------------------------------------------------------------------

my $columns = join(",\n\t", map { "$_->[1] AS $_->[0]" } @metrics);
foreach my $kernel ('scalar', @simd)
{
	$node->safe_psql(
		'postgres', "$load
		SET vectorpg.kernel = '$kernel';
		CREATE TABLE r_$kernel AS
		SELECT id, vectorpg_kernel() AS kernel,\n\t$columns
		FROM pairs;");

	# vectorpg_kernel() ran once per row, so this proves which kernels
	# computed every result, including in any parallel worker
	is( $node->safe_psql(
			'postgres', "SELECT count(*), count(*) FILTER (WHERE kernel = '$kernel') FROM r_$kernel"),
		($expected_total . '|' . $expected_total),
		"every result in r_$kernel was computed by the $kernel kernels");

	# Under one kernel, each operator is its function (<#> negated)
	is( $node->safe_psql(
			'postgres', "SELECT count(*) FROM r_$kernel WHERE
			op_l2 IS DISTINCT FROM l2_distance
			OR op_neg_ip IS DISTINCT FROM -inner_product
			OR op_cosine IS DISTINCT FROM cosine_distance
			OR op_l1 IS DISTINCT FROM l1_distance"),
		'0',
		"$kernel: <->, <#>, <=> and <+> equal their functions");
}

# The reference results must not be degenerate
is( $node->safe_psql(
		'postgres', "SELECT count(*) > 0, count(*) FILTER (WHERE cosine_distance = 'NaN') > 0,
		count(DISTINCT l2_distance) > 500, count(*) FILTER (WHERE inner_product < 0) > 1000
		FROM r_scalar JOIN pairs USING (id) WHERE family = 'int'"),
	't|t|t|t',
	'int family: reference results vary, some cosines of zero vectors are NaN');
is( $node->safe_psql(
		'postgres', "SELECT count(*) FILTER (WHERE cosine_distance = 'NaN'),
		count(*) FILTER (WHERE l2_distance > 1e3) > 0, count(*) FILTER (WHERE l2_distance < 1) > 0
		FROM r_scalar JOIN pairs USING (id) WHERE family = 'float'"),
	'0|t|t',
	'float family: no NaN, results span magnitudes');

# ---------------------------------------------------------------------------
# Comparison with the scalar reference
# ---------------------------------------------------------------------------

# Relative error of column m: 0 when equal (in SQL, NaN = NaN), else
# |s - k| / max(|s|, |k|), which is NaN, and so greater than any tolerance,
# when only one side is NaN
sub relerr
{
	my $m = shift;
	return "CASE WHEN s.$m = k.$m THEN 0::float8
		ELSE abs(s.$m - k.$m) / greatest(abs(s.$m), abs(k.$m)) END";
}

# Compare column m of r_<kernel> with r_scalar: the number of integer pairs
# and how many differ at all, the number of float pairs, how many differ by
# more than the tolerance, and the largest relative difference
sub compare
{
	my ($kernel, $m) = @_;
	my $err = relerr($m);
	my $from = "pairs p JOIN r_scalar s USING (id) JOIN r_$kernel k USING (id)";
	return split /\|/,
	  $node->safe_psql('postgres',
		"SET extra_float_digits = 3;
		SELECT count(*) FILTER (WHERE p.family = 'int'),
			count(*) FILTER (WHERE p.family = 'int' AND s.$m IS DISTINCT FROM k.$m),
			count(*) FILTER (WHERE p.family = 'float'),
			count(*) FILTER (WHERE p.family = 'float' AND $err > $tolerance),
			max($err) FILTER (WHERE p.family = 'float')
		FROM $from");
}

# First, the comparison must be able to fail: plant differences in a copy
# of the reference results and count them
$node->safe_psql(
	'postgres', "CREATE TABLE r_planted AS SELECT * FROM r_scalar;
	UPDATE r_planted SET l1_distance = l1_distance + 1
		WHERE id = (SELECT min(id) FROM pairs WHERE family = 'int' AND dim = 17);
	UPDATE r_planted SET cosine_distance = 0
		WHERE id = (SELECT min(id) FROM r_scalar JOIN pairs USING (id)
			WHERE family = 'int' AND cosine_distance = 'NaN');
	UPDATE r_planted SET l1_distance = l1_distance * (1 + 2e-6)
		WHERE id = (SELECT max(id) FROM pairs WHERE family = 'float' AND dim = 16000);
	UPDATE r_planted SET l2_distance = l2_distance * (1 + 5e-7)
		WHERE id = (SELECT max(id) FROM pairs WHERE family = 'float');
	UPDATE r_planted SET cosine_distance = 'NaN'
		WHERE id = (SELECT min(id) FROM pairs WHERE family = 'float');");
is(join(' ', (compare('planted', 'l1_distance'))[ 1, 3 ]), '1 1',
	'planted differences in l1_distance are caught (integer and float)');
is(join(' ', (compare('planted', 'cosine_distance'))[ 1, 3 ]), '1 1',
	'planted NaN and non-NaN cosine differences are caught');
is(join(' ', (compare('planted', 'l2_distance'))[ 1, 3 ]), '0 0',
	'a planted difference within the tolerance passes');

foreach my $kernel (@simd)
{
	foreach my $metric (@metrics)
	{
		my $m = $metric->[0];
		my ($n, $bad, $nf, $badf, $maxerr) = compare($kernel, $m);

		# int family: exactly equal
		is($bad, '0', "$kernel $m: equal to scalar on all $n integer pairs")
		  or diag(worst($kernel, $m, 'int'));

		# float family: within the tolerance
		is($badf, '0', "$kernel $m: within $tolerance relative of scalar on all $nf float pairs")
		  or diag(worst($kernel, $m, 'float'));
		note("$kernel $m: largest relative difference on floats $maxerr");
	}
}

# The rows that differ most, for the failure message
sub worst
{
	my ($kernel, $m, $family) = @_;
	my $err = relerr($m);
	my $from = "pairs p JOIN r_scalar s USING (id) JOIN r_$kernel k USING (id)";
	return "worst offenders (id, dim, scalar, $kernel, relative error):\n"
	  . $node->safe_psql('postgres',
		"SET extra_float_digits = 3;
		SELECT p.id, p.dim, s.$m, k.$m, $err AS err FROM $from
		WHERE p.family = '$family' AND s.$m IS DISTINCT FROM k.$m
		ORDER BY err DESC NULLS FIRST, p.id LIMIT 10");
}

$node->stop;

done_testing();
