# 031_batch_filters.pl: the metadata filter language against a brute-force
# evaluator written here, on random data and random filters.
#
# What it proves: for 600 random filters (every operator, implicit and
# explicit $and, $or, nesting up to 3 levels, operands of the wrong type on
# purpose) over 400 items of random metadata (strings, integers, decimals,
# booleans, lists of strings, JSON nulls, fields missing or of another type),
# the items vectorpg.filter_sql selects are exactly those the evaluator below
# selects; the same filters through the API (vectorpg.count, and a filtered
# vectorpg.search with k = all) agree too.
#
# Why: doc/batch.md states the semantics precisely (types compare within
# their JSON type, lists match by any element, missing fields match $ne and
# $nin but nothing else); the remote clients translate the same language, so
# the local rule must be exactly the documented one.  The evaluator is an
# independent reading of that page, not of the SQL.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

srand(4031);

my $nitems = 400;
my $nfilters = 600;

my $node = PostgreSQL::Test::Cluster->new('filters');
$node->init;
$node->append_conf('postgresql.conf', "fsync = off\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION vectorpg');

# ---------------------------------------------------------------------------
# Typed JSON values: [type, value] with type one of str, num, bool, null,
# list (a Perl array of typed values) and obj (a hash of typed values)
# ---------------------------------------------------------------------------

sub json_of
{
	my ($t) = @_;
	my ($type, $v) = @$t;
	return $v ? 'true' : 'false' if $type eq 'bool';
	return 'null' if $type eq 'null';
	return $v if $type eq 'num';
	return '"' . $v . '"' if $type eq 'str';
	return '[' . join(', ', map { json_of($_) } @$v) . ']' if $type eq 'list';
	return '{' . join(', ', map { "\"$_\": " . json_of($v->{$_}) } sort keys %$v) . '}';
}

sub pick { return $_[ int(rand(@_)) ]; }

my @genres = qw(drama comedy news sport);
my @tags = qw(x y z w);

sub random_number
{
	return rand() < 0.6 ? int(1990 + rand(31)) : sprintf('%.2f', 1990 + rand(31));
}

# One item's metadata: each field present with some probability, sometimes
# with a value of an unexpected type
sub random_metadata
{
	my %m;
	$m{genre} = rand() < 0.1 ? [ 'num', 1 ] : [ 'str', pick(@genres) ] if rand() < 0.8;
	$m{year} = rand() < 0.1 ? [ 'str', int(1990 + rand(31)) ] : [ 'num', random_number() ]
	  if rand() < 0.8;
	$m{flag} = rand() < 0.1 ? [ 'num', pick(0, 1) ] : [ 'bool', rand() < 0.5 ] if rand() < 0.7;
	$m{tags} = [ 'list', [ map { [ 'str', pick(@tags) ] } 1 .. int(rand(4)) ] ] if rand() < 0.7;
	$m{tags} = [ 'str', pick(@tags) ] if !exists $m{tags} && rand() < 0.2;
	$m{note} = rand() < 0.5 ? [ 'null', undef ] : [ 'str', 'n' ] if rand() < 0.3;
	return \%m;
}

# ---------------------------------------------------------------------------
# The evaluator: doc/batch.md's rules
# ---------------------------------------------------------------------------

# Two scalars are equal when they have the same JSON type and value
sub scalar_eq
{
	my ($a, $b) = @_;
	return 0 unless $a->[0] eq $b->[0];
	return $a->[1] == $b->[1] if $a->[0] eq 'num';
	return ($a->[1] ? 1 : 0) == ($b->[1] ? 1 : 0) if $a->[0] eq 'bool';
	return $a->[1] eq $b->[1] if $a->[0] eq 'str';
	return 0;
}

sub field_eq
{
	my ($m, $f, $v) = @_;
	return 0 unless exists $m->{$f};
	my $fv = $m->{$f};
	return scalar(grep { scalar_eq($_, $v) } @{ $fv->[1] }) > 0 if $fv->[0] eq 'list';
	return scalar_eq($fv, $v);
}

sub field_cmp
{
	my ($m, $f, $op, $n) = @_;
	return 0 unless exists $m->{$f} && $m->{$f}[0] eq 'num';
	my $x = $m->{$f}[1];
	return $x > $n if $op eq '$gt';
	return $x >= $n if $op eq '$gte';
	return $x < $n if $op eq '$lt';
	return $x <= $n;
}

sub eval_cond
{
	my ($m, $f, $op, $arg) = @_;
	return field_eq($m, $f, $arg) if $op eq '$eq';
	return !field_eq($m, $f, $arg) if $op eq '$ne';
	return field_cmp($m, $f, $op, $arg->[1]) if $op =~ /^\$(gt|gte|lt|lte)$/;
	return scalar(grep { field_eq($m, $f, $_) } @{ $arg->[1] }) > 0 if $op eq '$in';
	return !(scalar(grep { field_eq($m, $f, $_) } @{ $arg->[1] }) > 0) if $op eq '$nin';
	return (exists $m->{$f}) == ($arg->[1] ? 1 : 0) if $op eq '$exists';
	die "unknown op $op";
}

# A filter is a list of clauses, all of which must hold: [field, [[op, arg], ...]],
# ['$and', [filters]] or ['$or', [filters]]
sub eval_filter
{
	my ($m, $filter) = @_;
	foreach my $clause (@$filter)
	{
		my ($k, $v) = @$clause;
		if ($k eq '$and')
		{
			return 0 if grep { !eval_filter($m, $_) } @$v;
		}
		elsif ($k eq '$or')
		{
			return 0 unless grep { eval_filter($m, $_) } @$v;
		}
		else
		{
			return 0 if grep { !eval_cond($m, $k, $_->[0], $_->[1]) } @$v;
		}
	}
	return 1;
}

# JSON of a filter; a lone $eq on a field is written as the bare value half
# the time (the implicit $eq)
sub filter_json
{
	my ($filter) = @_;
	my @parts;
	foreach my $clause (@$filter)
	{
		my ($k, $v) = @$clause;
		if ($k eq '$and' || $k eq '$or')
		{
			push @parts, "\"$k\": [" . join(', ', map { filter_json($_) } @$v) . ']';
		}
		elsif (@$v == 1 && $v->[0][0] eq '$eq' && $v->[0][2])
		{
			push @parts, "\"$k\": " . json_of($v->[0][1]);
		}
		else
		{
			push @parts,
			  "\"$k\": {" . join(', ', map { "\"$_->[0]\": " . json_of($_->[1]) } @$v) . '}';
		}
	}
	return '{' . join(', ', @parts) . '}';
}

# ---------------------------------------------------------------------------
# Random filters
# ---------------------------------------------------------------------------

sub random_scalar_for
{
	my ($f) = @_;
	my $r = rand();
	# a value of another type now and then
	return pick([ 'num', 2001 ], [ 'str', '2001' ], [ 'bool', 1 ], [ 'str', 'x' ]) if $r < 0.12;
	return [ 'str', pick(@genres) ] if $f eq 'genre';
	return [ 'num', random_number() ] if $f eq 'year';
	return [ 'bool', rand() < 0.5 ] if $f eq 'flag';
	return [ 'str', pick(@tags) ] if $f eq 'tags';
	return [ 'str', 'n' ];
}

sub random_condition
{
	my ($f) = @_;
	my $op = pick('$eq', '$eq', '$ne', '$gt', '$gte', '$lt', '$lte', '$in', '$nin', '$exists');
	if ($op =~ /^\$(gt|gte|lt|lte)$/)
	{
		return [ $op, [ 'num', random_number() ] ];
	}
	if ($op eq '$in' || $op eq '$nin')
	{
		return [ $op, [ 'list', [ map { random_scalar_for($f) } 1 .. int(rand(4)) ] ] ];
	}
	return [ $op, [ 'bool', rand() < 0.5 ] ] if $op eq '$exists';
	return [ $op, random_scalar_for($f), $op eq '$eq' && rand() < 0.5 ];
}

sub random_filter
{
	my ($depth) = @_;
	my @clauses;
	my $n = 1 + int(rand(2));
	my %used;
	for (1 .. $n)
	{
		if ($depth < 3 && rand() < 0.3)
		{
			my $k = pick('$and', '$or');
			next if $used{$k}++;
			push @clauses, [ $k, [ map { random_filter($depth + 1) } 1 .. 1 + int(rand(3)) ] ];
		}
		else
		{
			my $f = pick(qw(genre year flag tags note));
			next if $used{$f}++;
			my @conds = (random_condition($f));
			push @conds, random_condition($f) if rand() < 0.2;
			my %seen;
			@conds = grep { !$seen{ $_->[0] }++ } @conds;
			push @clauses, [ $f, \@conds ];
		}
	}
	return \@clauses;
}

# ---------------------------------------------------------------------------
# Data, filters, and the comparison
# ---------------------------------------------------------------------------

$node->safe_psql('postgres', "SELECT vectorpg.create_collection('items', 2, 'l2')");
my @meta = map { random_metadata() } 1 .. $nitems;
my $records = '['
  . join(', ',
	map { "{\"id\": $_, \"values\": [" . ($_ % 20) . ", " . int($_ / 20) . "], \"metadata\": " . json_of([ 'obj', $meta[ $_ - 1 ] ]) . '}' }
	  1 .. $nitems)
  . ']';
my $r = $node->safe_psql('postgres',
	"SELECT inserted, status FROM vectorpg.upsert('items', \$json\$$records\$json\$::jsonb)");
is($r, "$nitems|success", "$nitems items with random metadata");

my @filters = map { random_filter(1) } 1 .. $nfilters;
my $values = join(",\n", map { "($_, \$f\$" . filter_json($filters[ $_ - 1 ]) . "\$f\$::jsonb)" } 1 .. $nfilters);
$node->safe_psql('postgres', "CREATE TABLE filters (n integer, f jsonb); INSERT INTO filters VALUES $values;");

# the compiled SQL, one query per filter, in one round trip
my $out = $node->safe_psql(
	'postgres', q{
	CREATE FUNCTION matches(f jsonb) RETURNS text LANGUAGE plpgsql AS $$
	DECLARE
		r text;
	BEGIN
		EXECUTE 'SELECT coalesce(string_agg(id, '','' ORDER BY id::integer), '''') FROM items WHERE '
			|| vectorpg.filter_sql(f) INTO r;
		RETURN r;
	END $$;
	SELECT n || ':' || matches(f) FROM filters ORDER BY n;});
my %sql = map { split /:/, $_, 2 } split /\n/, $out;

my ($agree, $nonempty, $partial) = (0, 0, 0);
my @disagree;
foreach my $n (1 .. $nfilters)
{
	my @want = grep { eval_filter($meta[ $_ - 1 ], $filters[ $n - 1 ]) } 1 .. $nitems;
	my $want = join(',', @want);
	my $got = $sql{$n} // '';
	if ($got eq $want)
	{
		$agree++;
	}
	else
	{
		push @disagree, "filter $n " . filter_json($filters[ $n - 1 ]) . "\n  want $want\n  got  $got";
	}
	$nonempty++ if @want;
	$partial++ if @want && @want < $nitems;
}
is($agree, $nfilters, "all $nfilters random filters select what the evaluator selects")
  or diag(join("\n", @disagree[ 0 .. ($#disagree < 9 ? $#disagree : 9) ]));
cmp_ok($partial, '>=', $nfilters / 3, "the filters are selective ($partial of $nfilters select some but not all items)");

# Every operator appears
my $all = join(' ', map { filter_json($_) } @filters);
foreach my $op (qw($eq $ne $gt $gte $lt $lte $in $nin $exists $and $or))
{
	like($all, qr/"\Q$op\E"/, "the filters use $op");
}

# The API agrees: vectorpg.count, and a filtered search asking for every item
my $api = $node->safe_psql(
	'postgres', q{
	SELECT count(*) FILTER (WHERE vectorpg.count('items', f) <> coalesce(array_length(string_to_array(matches(f), ','), 1), 0))
	FROM filters;});
is($api, '0', 'vectorpg.count agrees with the compiled SQL on every filter');
$api = $node->safe_psql(
	'postgres', q{
	SELECT count(*) FILTER (WHERE (SELECT coalesce(string_agg(s.id, ',' ORDER BY s.id::integer), '')
	                               FROM vectorpg.search('items', ARRAY['[0,0]']::vector[], k => 1000, filter => f) s) <> matches(f))
	FROM filters WHERE n <= 100;});
is($api, '0', 'vectorpg.search with a filter and k = all returns exactly the matching items (100 filters)');

# The ranks follow the distances, then the ids (each query's hits are
# ranked inside its own subquery, sql/install/10_4_search.sql)
$api = $node->safe_psql(
	'postgres', q{
	SELECT count(*) FILTER (WHERE r.rank <> r.want), count(*)
	FROM filters f CROSS JOIN LATERAL (
		SELECT s.rank, row_number() OVER (ORDER BY s.distance, s.id) AS want
		FROM vectorpg.search('items', ARRAY['[0.3,0.7]']::vector[], k => 25, filter => f.f) s) r
	WHERE f.n <= 100;});
my ($misranked, $hits) = split /\|/, $api;
is($misranked, '0', "filtered searches rank their $hits hits by distance, then id (100 filters)");
cmp_ok($hits, '>=', 500, 'the filtered searches found hits to rank');

$node->stop;
done_testing();
