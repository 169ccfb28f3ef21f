# 012_dump.pl: vector values survive pg_dump/pg_restore and binary COPY.
#
# What it proves: a table with vector, vector(3) and vector(1536) columns,
# holding NULLs, negative zeros, denormals, the largest float4, a
# 16000-dimension vector and over 1,000 ordinary rows, comes back bit for
# bit identical from pg_dump -Fc + pg_restore into a new database, with its
# column typmods intact (and still enforced); and the same holds for COPY
# ... TO and FROM with FORMAT binary into a second table.
#
# Why: pg_dump writes vectors through vector_out and reads them back through
# vector_in, so any value whose shortest text form does not read back to the
# same float4 (sign of zero, denormals, FLT_MAX, 9-digit values) would be
# silently changed by a backup; binary COPY exercises vector_send and
# vector_recv the same way.  Comparisons use both the text forms and
# vector_send bytes, since text equality alone would hide a difference that
# prints the same, and = on vectors treats -0 and 0 as equal.

use strict;
use warnings;

use Digest::MD5 qw(md5_hex);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

srand(120);

my $node = PostgreSQL::Test::Cluster->new('dump');
$node->init;
$node->append_conf('postgresql.conf', "fsync = off\nlog_statement = none\n");
$node->start;

my $tmp = PostgreSQL::Test::Utils::tempdir();

$node->safe_psql('postgres', 'CREATE DATABASE src');
$node->safe_psql(
	'src', "CREATE EXTENSION vectorpg;
	CREATE TABLE t (
		id integer PRIMARY KEY,
		v vector,
		v3 vector(3),
		v1536 vector(1536));");

# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

# Edge values, each with the bytes vector_send must give for it
my %special = (
	# every column NULL
	1 => [ 'NULL', 'NULL', 'NULL' ],
	# negative zeros, and a zero of each sign side by side
	2 => [
		"'[-0]'", "'[-0,0,-0]'",
		"array_fill('-0'::real, ARRAY[1536])::vector"
	],
	# denormals, the smallest of each sign, and the smallest normal
	3 => [ "'[1e-40,-1e-40,1.4e-45,-1.4e-45,1.1754944e-38]'", "'[1e-40,-1.4e-45,1e-38]'", 'NULL' ],
	# the largest float4 of each sign
	4 => [
		"'[3.4028235e38,-3.4028235e38]'", "'[3.4028235e38,-3.4028235e38,3.4028235e38]'",
		"array_fill(3.4028235e38::real, ARRAY[1536])::vector"
	],
	# values whose shortest form needs many digits, or none after the point
	5 => [ "'[0.1,0.2,0.3,16777216,16777218,1e10,-1e-10,3.1415927,2.7182817]'", "'[1,2,3]'", 'NULL' ]);

my $values = join(",\n", map { "($_, " . join(', ', @{ $special{$_} }) . ')' } sort keys %special);
$node->safe_psql('src', "INSERT INTO t VALUES $values");

my %special_bytes = (
	2 => [ '00010000' . '80000000', '00030000' . '80000000' . '00000000' . '80000000' ],
	3 => [
		'00050000' . '000116c2' . '800116c2' . '00000001' . '80000001' . '00800000',
		'00030000' . '000116c2' . '80000001' . '006ce3ee'
	],
	4 => [ '00020000' . '7f7fffff' . 'ff7fffff', '00030000' . '7f7fffff' . 'ff7fffff' . '7f7fffff' ]);
foreach my $id (sort keys %special_bytes)
{
	is( $node->safe_psql('src',
			"SELECT encode(vector_send(v), 'hex') || ' ' || encode(vector_send(v3), 'hex') FROM t WHERE id = $id"),
		join(' ', @{ $special_bytes{$id} }),
		"row $id stored with the exact bits intended");
}

# Two 16000-dimension vectors: random values, and random values mixed with
# denormals, zeros of both signs and FLT_MAX
$node->safe_psql(
	'src', "SELECT setseed(0.16);
	INSERT INTO t (id, v)
	SELECT 10, array_agg((random() - 0.5) * 1e6)::vector FROM generate_series(1, 16000);
	INSERT INTO t (id, v)
	SELECT 11, array_agg((ARRAY[1e-40, -0::float8, 0, 3.4028235e38, -1.4e-45, random()])
		[1 + (i % 6)])::vector
	FROM generate_series(1, 16000) AS i;");
is( $node->safe_psql('src', 'SELECT vector_dims(v) FROM t WHERE id IN (10, 11) ORDER BY id'),
	"16000\n16000", 'two 16000-dimension vectors stored');

# 1,200 ordinary rows from a seeded random(): vectors of 1 to 64 dimensions
# over 20 decades of magnitude, some NULLs, vector(1536) in every fourth row
$node->safe_psql(
	'src', "SELECT setseed(0.5);
	INSERT INTO t
	SELECT i,
		CASE WHEN i % 17 = 0 THEN NULL ELSE
			(SELECT array_agg((random() - 0.5) * power(10, floor(random() * 20) - 10))
			 FROM generate_series(1, 1 + (i * 7919) % 64))::vector END,
		CASE WHEN i % 13 = 0 THEN NULL ELSE
			(SELECT array_agg((random() - 0.5) * power(10, floor(random() * 20) - 10))
			 FROM generate_series(1, 3) WHERE i > 0)::vector END,
		CASE WHEN i % 4 <> 0 THEN NULL ELSE
			(SELECT array_agg(random() * 2 - 1) FROM generate_series(1, 1536) WHERE i > 0)::vector END
	FROM generate_series(100, 1299) AS i;");

# 200 rows of random float4 bit patterns (every exponent, denormals, both
# zeros; never NaN or infinity), written with 9 significant digits, which
# read back to the same float4; their expected bytes are kept for later
my %perl_bytes;
my @rows;
foreach my $id (2000 .. 2199)
{
	my $dim = 1 + int(rand(100));
	my (@text, $bytes);
	$bytes = pack('s>s>', $dim, 0);
	foreach (1 .. $dim)
	{
		my $bits;
		do { $bits = int(rand(2**32)) } while (($bits >> 23) & 0xff) == 0xff;
		my $f = unpack('f>', pack('N', $bits));
		push @text, $bits == 0x80000000 ? '-0' : sprintf('%.9g', $f);
		$bytes .= pack('N', $bits);
	}
	$perl_bytes{$id} = $bytes;
	push @rows, "($id, '[" . join(',', @text) . "]')";
}
$node->safe_psql('src', 'INSERT INTO t (id, v) VALUES ' . join(",\n", @rows));

my $row_count = $node->safe_psql('src', 'SELECT count(*) FROM t');
cmp_ok($row_count, '>=', 1000, "at least 1000 rows ($row_count)");

# The bit patterns went in exactly
sub perl_rows_md5
{
	my $db = shift;
	return $node->safe_psql($db,
		"SELECT md5(string_agg(encode(vector_send(v), 'hex'), ',' ORDER BY id)) FROM t WHERE id >= 2000");
}
my $perl_md5 = md5_hex(join(',', map { unpack('H*', $perl_bytes{$_}) } sort { $a <=> $b } keys %perl_bytes));
is(perl_rows_md5('src'), $perl_md5, 'random bit patterns stored exactly');

# ---------------------------------------------------------------------------
# What must survive: text forms, binary forms, NULLs, typmods
# ---------------------------------------------------------------------------

# One md5 over the text forms and one over vector_send of every column of
# every row, in id order, with NULL spelled out
my $fingerprint_sql = "SELECT count(*),
	count(v), count(v3), count(v1536),
	md5(string_agg(concat_ws('|', id, coalesce(v::text, 'NULL'), coalesce(v3::text, 'NULL'),
		coalesce(v1536::text, 'NULL')), E'\\n' ORDER BY id)),
	md5(string_agg(concat_ws('|', id, coalesce(vector_send(v)::text, 'NULL'),
		coalesce(vector_send(v3)::text, 'NULL'), coalesce(vector_send(v1536)::text, 'NULL')),
		E'\\n' ORDER BY id))
	FROM %s";

sub fingerprint
{
	my ($db, $table) = @_;
	return $node->safe_psql($db, sprintf($fingerprint_sql, $table));
}

sub typmods
{
	my ($db, $table) = @_;
	return $node->safe_psql($db,
		"SELECT string_agg(attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attnum)
		FROM pg_attribute WHERE attrelid = '$table'::regclass AND attnum > 0 AND NOT attisdropped");
}

my $expected_typmods = 'id integer, v vector, v3 vector(3), v1536 vector(1536)';
my $src_fingerprint = fingerprint('src', 't');
is(typmods('src', 't'), $expected_typmods, 'source column types');

# The fingerprint must see the edge values as the test means them
is( $node->safe_psql('src',
		"SELECT v::text, v3::text FROM t WHERE id IN (2, 3, 4) ORDER BY id"),
	"[-0]|[-0,0,-0]\n"
	  . "[1e-40,-1e-40,1e-45,-1e-45,1.1754944e-38]|[1e-40,-1e-45,1e-38]\n"
	  . "[3.4028235e+38,-3.4028235e+38]|[3.4028235e+38,-3.4028235e+38,3.4028235e+38]",
	'text forms of the edge values');

# ---------------------------------------------------------------------------
# pg_dump -Fc, pg_restore into a new database
# ---------------------------------------------------------------------------

my $dump = "$tmp/src.dump";
$node->command_ok([ 'pg_dump', '-Fc', '-f', $dump, '-d', $node->connstr('src') ],
	'pg_dump -Fc');
$node->safe_psql('postgres', 'CREATE DATABASE dst');
$node->command_ok(
	[ 'pg_restore', '--exit-on-error', '-d', $node->connstr('dst'), $dump ],
	'pg_restore into a new database');

is($node->safe_psql('dst', "SELECT extname FROM pg_extension WHERE extname = 'vectorpg'"),
	'vectorpg', 'restored database has the extension');
is(typmods('dst', 't'), $expected_typmods, 'restored column typmods');
is(fingerprint('dst', 't'), $src_fingerprint,
	'restored rows identical: count, NULLs, text forms and binary forms');
is(perl_rows_md5('dst'), $perl_md5, 'restored random bit patterns exact');
foreach my $id (sort keys %special_bytes)
{
	is( $node->safe_psql('dst',
			"SELECT encode(vector_send(v), 'hex') || ' ' || encode(vector_send(v3), 'hex') FROM t WHERE id = $id"),
		join(' ', @{ $special_bytes{$id} }),
		"restored row $id has the exact bits");
}

# The typmods still constrain the restored columns
my ($ret, $stdout, $stderr) = $node->psql('dst', "INSERT INTO t (id, v3) VALUES (-1, '[1,2]')");
isnt($ret, 0, 'restored vector(3) column rejects 2 dimensions');
like($stderr, qr/expected 3 dimensions, not 2/, '... with the dimension error');
($ret, $stdout, $stderr) =
  $node->psql('dst', "INSERT INTO t (id, v1536) VALUES (-1, '[1,2,3]')");
isnt($ret, 0, 'restored vector(1536) column rejects 3 dimensions');

# ---------------------------------------------------------------------------
# COPY ... FORMAT binary, out and back in
# ---------------------------------------------------------------------------

my $copy = "$tmp/t.copy";
$node->safe_psql(
	'src', "COPY t TO '$copy' WITH (FORMAT binary);
	CREATE TABLE t2 (LIKE t INCLUDING ALL);
	COPY t2 FROM '$copy' WITH (FORMAT binary);");
is(typmods('src', 't2'), $expected_typmods, 'binary COPY target column types');
is(fingerprint('src', 't2'), $src_fingerprint,
	'binary COPY round trip: rows identical, text and binary forms');

# The file carries vector_send's bytes: spot-check the negative zero row
my $file = slurp_file($copy);
my $negzero = pack('N', 8) . pack('H*', '00010000' . '80000000');
ok(index($file, $negzero) >= 0, 'binary COPY file holds [-0] as vector_send writes it');

# And text COPY, which pg_dump uses, round trips too (into a third table)
$node->safe_psql(
	'src', "COPY t TO '$tmp/t.txt';
	CREATE TABLE t3 (LIKE t INCLUDING ALL);
	COPY t3 FROM '$tmp/t.txt';");
is(fingerprint('src', 't3'), $src_fingerprint, 'text COPY round trip: rows identical');

$node->stop;

done_testing();
