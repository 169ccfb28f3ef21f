# 011_fuzz.pl: fuzzing of the vector type's text and binary input.
#
# What it proves: vector_in (text) and vector_recv (binary, through COPY ...
# FORMAT binary) survive thousands of malformed inputs without crashing or
# tripping an assertion; they reject every bad input with a data exception
# (SQLSTATE class 22); and they accept exactly the inputs that are valid,
# storing exactly the values those inputs denote.
#
# Why: input functions are the type's attack surface, reachable by any user
# with a string or a binary COPY.  A parser that reads past the end of its
# input, accepts junk after a number, lets NaN or an out-of-range value in,
# or reports a bad value as an internal error would each show up here.  The
# inputs come from a fixed seed, so a failure reproduces.
#
# How the expected outcome is known: for text, a regular expression for the
# grammar ('[' number {',' number} ']', whitespace around any token, numbers
# as strtof reads them, hexadecimal included) plus the float4 range
# (overflow and underflow to zero are errors, denormals are not) decides
# whether a literal is valid, and for a valid one the expected binary form
# (and so the md5 of vector_send) is computed in Perl.  For binary payloads
# the layout (int16 dim, int16 reserved 0, dim big-endian float4s) decides
# it.  Only the class of the SQLSTATE is checked, not which error a literal
# with several faults reports first.  Messages that do not name the type
# are listed with note(), not failed.
#
# No exception to class 22 is allowed: even a vector of more than 16000
# dimensions is a data exception (22000), where pgvector says 54000.

use strict;
use warnings;

use Digest::MD5 qw(md5_hex);
use Encode qw(encode_utf8);
use POSIX ();
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

# Numbers of fuzzed inputs
my $n_text = 1500;
my $n_binary = 1200;

# Rejections outside class 22 that are accepted, by SQLSTATE and message:
# none, but the hook stays for a deliberate exception
my %allowed_outside_22 = ();

my $max_dim = 16000;

# Largest magnitude that rounds to a finite float4 (FLT_MAX plus half an
# ulp, exclusive), and largest that rounds to zero (half the smallest
# denormal, inclusive: ties go to the even zero)
my $float4_max = unpack('f>', "\x7f\x7f\xff\xff");
my $float4_overflow = 3.4028235677973366e38;
my $float4_underflow = 2**-150;

srand(20260101);

my $node = PostgreSQL::Test::Cluster->new('fuzz');
$node->init(extra => [ '--encoding=UTF8', '--locale=C' ]);
$node->append_conf('postgresql.conf', "fsync = off\nlog_statement = none\n"
	  . "# keep the log small: no ERRORs (thousands, some quoting 160 kB of\n"
	  . "# input) but every LOG, such as a backend crash report\n"
	  . "log_min_messages = log\nlog_min_error_statement = panic\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION vectorpg');

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

# Run a script in one psql session without stopping at errors, and sort its
# results: the rows each statement printed (by the script line of the
# statement, through the line number as first column), and for each failed
# statement its SQLSTATE and message (by the line psql reports).  Lines
# that fit neither (lost connection, FATAL, PANIC) are returned as well.
sub run_script
{
	my ($script) = @_;
	my ($ret, $stdout, $stderr) = $node->psql(
		'postgres', encode_utf8($script),
		on_error_stop => 0,
		timeout => $PostgreSQL::Test::Utils::timeout_default);
	my (%rows, %errors, @other);
	foreach my $line (split /\n/, $stdout)
	{
		next if $line eq '';
		my ($n, $rest) = split /\|/, $line, 2;
		$rows{$n} = $rest;
	}
	foreach my $line (split /\n/, $stderr)
	{
		if ($line =~ /^psql:<stdin>:(\d+): ERROR:  ([0-9A-Z]{5}): (.*)$/)
		{
			$errors{$1} = [ $2, $3 ];
		}
		elsif ($line =~ /^psql:<stdin>:\d+: (FATAL|PANIC)|server closed the connection|connection to server was lost/)
		{
			push @other, $line;
		}
	}
	return ($ret, \%rows, \%errors, \@other);
}

# Whether a rejection's SQLSTATE is acceptable for bad input
sub acceptable_sqlstate
{
	my ($state, $msg) = @_;
	return 1 if $state =~ /^22/;
	return 1
	  if exists $allowed_outside_22{$state} && $msg =~ $allowed_outside_22{$state};
	return 0;
}

# Message with numbers and quoted input replaced, to group messages by kind
sub message_kind
{
	my $msg = shift;
	$msg =~ s/"[^"]*"/"..."/g;
	$msg =~ s/\d+/N/g;
	return $msg;
}

# The server must not have crashed or failed an assertion
sub server_survived
{
	my $what = shift;
	is($node->safe_psql('postgres', "SELECT vector_dims('[1,2,3]'::vector)"),
		'3', "server still answers after $what");
	my $log = slurp_file($node->logfile);
	my @crash = grep { /terminated by signal|server process \(PID \d+\)|TRAP:|PANIC:|reinitializing/ }
	  split /\n/, $log;
	is(scalar @crash, 0, "server log shows no crash after $what")
	  or diag(join("\n", @crash));
}

# ---------------------------------------------------------------------------
# (a) Text input
# ---------------------------------------------------------------------------

# Valid starting points, short and long
sub random_number_text
{
	my $mant = (rand() < 0.5 ? '-' : '') . sprintf('%.*f', int(rand(7)), rand(10));
	my $r = rand();
	return $mant if $r < 0.5;
	return $mant . 'e' . (int(rand(61)) - 30) if $r < 0.9;
	return $mant . 'E+' . int(rand(20));
}

sub long_literal
{
	my $n = shift;
	return '[' . join(',', map { random_number_text() } 1 .. $n) . ']';
}

my @seeds = (
	'[1,2,3]', '[ 1.5e3 , -0 , 7 ]', '[1e-40]', '[1.4e-45]',
	'[-3.4028235e38, 3.4028235e38]', '[0.1,-0.25,1e-3,4.5e+2]',
	"[\t1 ,\t2 ]", ' [ .5 , -.5 , 5. ] ', '[+1,-1,+0]', '[0]',
	'[1e-45,1e-44]', '[123456789012345678901234567890]',
	long_literal(50), long_literal(500), long_literal(3000));
my $seed_max = long_literal($max_dim);
my $seed_over = long_literal($max_dim + 1);

my @charset = (
	0 .. 9, '[', ']', ',', '-', '+', 'e', 'E', '.', ' ', 'n', 'a', 'i', 'f',
	'N', 'I', 't', 'y', "'", '"', "\t", "\n", "\r", "\x{e9}", "\x{20ac}",
	"\x{1d11e}", "\x{ff10}", "\x{a0}", "\x{0660}");
my @odd_numbers = (
	'1e39', '-1e39', '1e-50', '1e-46', '1e-45', '9e-46', '3.5e38',
	'3.4028235e38', '3.4028236e38', '1e308', '1e400', '-1e-400', '0e999',
	'1e', '1e+', '.', '-', '+', '..5', '1.2.3', '--1', '0x10', '1_000');
my @special = ('nan', 'NaN', 'inf', '+inf', '-inf', 'Infinity', '-Infinity',
	'INF', 'infinity', 'nan(1)', 'infinit', 'na');

# Offset and length of the first match of re at or after a random position
# (else the first match at all), or undef.  Searching once is much faster
# than listing every match of a 16000-element literal with wide characters.
sub number_at
{
	my ($s, $re) = @_;
	my $start = int(rand(length $s));
	if (substr($s, $start) =~ $re)
	{
		return [ $start + $-[0], $+[0] - $-[0] ];
	}
	return $s =~ $re ? [ $-[0], $+[0] - $-[0] ] : undef;
}

sub mutate
{
	my $s = shift;
	my $ops = rand() < 0.5 ? 1 : 2 + int(rand(3));
	for (1 .. $ops)
	{
		my $len = length $s;
		my $pos = int(rand($len + 1));
		my $op = int(rand(10));
		if ($op == 0)
		{
			substr($s, $pos, 0) = $charset[ rand @charset ];
		}
		elsif ($op == 1 && $len > 0)
		{
			substr($s, int(rand($len)), 1 + int(rand(3))) = '';
		}
		elsif ($op == 2 && $len > 0)
		{
			substr($s, int(rand($len)), 1) = $charset[ rand @charset ];
		}
		elsif ($op == 3 && $len > 0)
		{
			# Duplicate a chunk, sometimes a large one
			my $from = int(rand($len));
			my $n = rand() < 0.2 ? int(rand($len - $from + 1)) : 1 + int(rand(20));
			substr($s, $pos, 0) = substr($s, $from, $n);
		}
		elsif ($op == 4)
		{
			# Replace one number with an odd or out-of-range one
			my $at = number_at($s, qr/[-+]?[0-9.]+(?:[eE][-+]?[0-9]+)?/);
			next unless $at;
			substr($s, $at->[0], $at->[1]) = rand() < 0.5 ? $odd_numbers[ rand @odd_numbers ]
			  : $special[ rand @special ];
		}
		elsif ($op == 5)
		{
			# Append a huge or tiny exponent to a number
			my $at = number_at($s, qr/[0-9]+/);
			next unless $at;
			substr($s, $at->[0] + $at->[1], 0) = ('e39', 'e-50', 'e+38', 'e-46', 'e99999')[ rand 5 ];
		}
		elsif ($op == 6)
		{
			$s = substr($s, 0, $pos);
		}
		elsif ($op == 7)
		{
			$s = $special[ rand @special ];
		}
		elsif ($op == 8)
		{
			# Whitespace of every kind the parser knows, and one it does not
			substr($s, $pos, 0) = (' ', "\t", "\n", "\r", "\x0B", "\f", "\x{a0}")[ rand 7 ];
		}
		else
		{
			substr($s, $pos, 0) = ',';
		}
	}
	return $s;
}

# Expected outcome of a literal: undef if it must be rejected, else the
# binary form it must produce.  Values go decimal -> double (strtod) ->
# float4 (pack), where the server rounds decimal -> float4 directly (strtof);
# the two differ only for a decimal within about 1e-16 of a float4 rounding
# tie, which none of this seed's literals is.
my $ws = qr/[ \t\n\r\x0B\f]/;
my $num = qr/(?>[-+]?(?:0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][-+]?[0-9]+)?|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN]))/x;

sub expected_binary
{
	my ($lit, $typmod) = @_;
	return undef unless $lit =~ /^$ws*\[($ws*$num(?:$ws*,$ws*$num)*)$ws*\]$ws*$/;
	my @tokens = map { s/^$ws+|$ws+$//gr } split /,/, $1, -1;
	return undef if @tokens > $max_dim;
	return undef if defined $typmod && @tokens != $typmod;
	my $bytes = pack('s>s>', scalar @tokens, 0);
	foreach my $t (@tokens)
	{
		return undef if $t =~ /n/i;    # nan, inf, infinity
		my $v = POSIX::strtod($t);
		return undef if abs($v) >= $float4_overflow;
		if ($v == 0)
		{
			# Underflow to zero is an error; a true zero keeps its sign
			my $digits = $t =~ s/^[-+]//r;
			my $nonzero =
			  $digits =~ /^0[xX]/
			  ? ($digits =~ s/^0[xX]//r =~ s/[pP].*//r) =~ /[1-9a-fA-F]/
			  : ($digits =~ s/[eE].*//r) =~ /[1-9]/;
			return undef if $nonzero;
			$bytes .= $t =~ /^-/ ? "\x80\0\0\0" : "\0\0\0\0";
			next;
		}
		return undef if abs($v) <= $float4_underflow;

		# Perl's pack turns anything above FLT_MAX into infinity, while
		# strtof rounds values below FLT_MAX + half an ulp down to FLT_MAX
		$bytes .=
		  abs($v) > $float4_max ? ($v < 0 ? "\xff\x7f\xff\xff" : "\x7f\x7f\xff\xff")
		  : pack('f>', $v);
	}
	return $bytes;
}

# SQL string constant for any text: E'' with escapes, on one line
sub sql_literal
{
	my $s = shift;
	$s =~ s/\\/\\\\/g;
	$s =~ s/'/\\'/g;
	$s =~ s/\n/\\n/g;
	$s =~ s/\r/\\r/g;
	$s =~ s/\t/\\t/g;
	$s =~ s/\x0B/\\013/g;
	$s =~ s/\f/\\f/g;
	return "E'$s'";
}

# The literals: every seed unchanged, then mutants; about one in twelve
# mutates a maximal or oversized literal, one in ten is cast to vector(3)
my @literals = (map { [ $_, undef ] } @seeds, $seed_max, $seed_over);
while (@literals < $n_text)
{
	my $r = rand();
	my $seed =
	    $r < 0.06 ? $seed_max
	  : $r < 0.08 ? $seed_over
	  : $seeds[ rand @seeds ];
	push @literals, [ mutate($seed), rand() < 0.1 ? 3 : undef ];
}

my $script = "\\set VERBOSITY verbose\nSET client_encoding = 'UTF8';\n";
my $line = 2;
my %literal_at;    # script line => index into @literals
for my $i (0 .. $#literals)
{
	my ($lit, $typmod) = @{ $literals[$i] };
	my $type = defined $typmod ? "vector($typmod)" : 'vector';
	$line++;
	$literal_at{$line} = $i;
	$script .= "SELECT $line, vector_dims(v), md5(vector_send(v)), "
	  . "vector_send(v::text::vector) = vector_send(v) "
	  . "FROM (SELECT " . sql_literal($lit) . "::$type AS v) AS s;\n";
}

my ($ret, $rows, $errors, $other) = run_script($script);
is($ret, 0, 'text fuzz: psql ran the whole script');
is_deeply($other, [], 'text fuzz: no lost connection, FATAL or PANIC');

my (%by_state, %kinds, @problems);
my ($n_valid, $n_loaded) = (0, 0);
foreach my $l (sort { $a <=> $b } keys %literal_at)
{
	my ($lit, $typmod) = @{ $literals[ $literal_at{$l} ] };
	my $expect = expected_binary($lit, $typmod);
	my $shown = length($lit) > 80 ? substr($lit, 0, 80) . '...' : $lit;
	$n_valid++ if defined $expect;

	if (exists $rows->{$l} && !exists $errors->{$l})
	{
		$n_loaded++;
		my ($dims, $md5, $roundtrip) = split /\|/, $rows->{$l};
		if (!defined $expect)
		{
			push @problems, "accepted invalid literal $shown";
		}
		elsif ($md5 ne md5_hex($expect))
		{
			push @problems, "literal $shown stored a different value";
		}
		elsif ($roundtrip ne 't')
		{
			push @problems, "literal $shown does not survive output and input";
		}
	}
	elsif (exists $errors->{$l} && !exists $rows->{$l})
	{
		my ($state, $msg) = @{ $errors->{$l} };
		$by_state{$state}++;
		$kinds{ message_kind($msg) } = $state;
		push @problems, "valid literal $shown rejected: $state $msg" if defined $expect;
		push @problems, "literal $shown rejected with SQLSTATE $state: $msg"
		  unless acceptable_sqlstate($state, $msg);
	}
	else
	{
		push @problems, "literal at line $l has no result and no error";
	}
}
is(scalar @problems, 0, "text fuzz: all " . scalar(@literals) . ' literals behaved')
  or diag(join("\n", @problems[ 0 .. ($#problems < 30 ? $#problems : 29) ]));
cmp_ok(scalar @literals, '>=', 1000, 'text fuzz: at least 1000 literals');
is($n_loaded, $n_valid, "text fuzz: accepted exactly the $n_valid valid literals");

# The fuzzer must have reached every way of rejecting a literal
foreach my $state (qw(22P02 22003 22000))
{
	cmp_ok($by_state{$state} // 0, '>', 0, "text fuzz reached SQLSTATE $state");
}
is(join(',', map { $kinds{$_} } grep { /cannot have more than/ } keys %kinds),
	'22000', 'text fuzz reached the dimension limit, as a 22000 data exception');
cmp_ok($n_valid, '>', 100, 'text fuzz: enough valid literals');
note("text fuzz: $n_valid accepted; rejections by SQLSTATE: "
	  . join(', ', map { "$_ $by_state{$_}" } sort keys %by_state));
foreach my $kind (sort keys %kinds)
{
	note("text fuzz message lacking the type name: $kinds{$kind} $kind")
	  unless $kind =~ /vector/;
}

server_survived('text fuzz');

# ---------------------------------------------------------------------------
# (b) Binary input through COPY ... FORMAT binary
# ---------------------------------------------------------------------------

# Random finite float4 bit patterns, weighted toward ordinary values but
# including zeros of both signs, denormals and the extremes
sub random_float_bytes
{
	my $r = rand();
	return pack('f>', (rand() - 0.5) * 10**(int(rand(20)) - 10)) if $r < 0.6;
	return ("\0\0\0\0", "\x80\0\0\0", "\x7f\x7f\xff\xff", "\xff\x7f\xff\xff",
		"\0\0\0\x01", "\x80\x7f\xff\xff", "\x00\x80\x00\x00")[ rand 7 ]
	  if $r < 0.8;
	# Any finite pattern: exponent bits not all ones
	my $bits;
	do { $bits = int(rand(2**32)) } while (($bits >> 23) & 0xff) == 0xff;
	return pack('N', $bits);
}

sub payload
{
	my ($dim, $n_elems, $reserved) = @_;
	$n_elems //= $dim;
	return pack('s>s>', $dim, $reserved // 0)
	  . join('', map { random_float_bytes() } 1 .. $n_elems);
}

sub random_dim
{
	my $r = rand();
	return 1 + int(rand(20)) if $r < 0.8;
	return 1 + int(rand(2000)) if $r < 0.97;
	return $max_dim;
}

my @nonfinite = ("\x7f\xc0\0\0", "\xff\xc0\0\0", "\x7f\x80\0\0", "\xff\x80\0\0",
	"\x7f\x80\0\x01", "\xff\xff\xff\xff");

my @kinds = (
	# valid, of every size up to the maximum
	sub { payload(random_dim()) },
	sub { payload(random_dim()) },
	# truncated: header and elements cut short
	sub {
		my $p = payload(random_dim());
		substr($p, 0, length($p) - 1 - int(rand(length($p) < 8 ? length($p) : 8)));
	},
	# oversized: extra bytes after the elements
	sub { payload(random_dim()) . join('', map { chr(rand 256) } 1 .. 1 + int(rand(8))) },
	# element count disagrees with dim both ways by a whole element
	sub { my $d = random_dim(); payload($d, $d + (rand() < 0.5 ? -1 : 1)) },
	# dim 0, with or without elements
	sub { payload(0, int(rand(3))) },
	# negative dim
	sub { my $d = -1 - int(rand(32768)); payload($d, int(rand(4))) },
	# too many dimensions, with all the bytes they need
	sub {
		my $d = (16001, 16001, 32767)[ rand 3 ];
		pack('s>s>', $d, 0) . random_float_bytes() x $d;
	},
	# reserved field nonzero
	sub { payload(random_dim(), undef, (1, -1, 256, 32767, -32768)[ rand 5 ]) },
	# NaN or infinity somewhere
	sub {
		my $d = random_dim();
		my $p = payload($d);
		substr($p, 4 + 4 * int(rand($d)), 4) = $nonfinite[ rand @nonfinite ];
		$p;
	},
	# random bytes
	sub { join('', map { chr(rand 256) } 1 .. int(rand(64))) },
	# random bytes with a plausible small header
	sub { pack('s>s>', int(rand(4)), 0) . join('', map { chr(rand 256) } 1 .. int(rand(16))) },
	# 0 to 3 bytes: not even a header
	sub { join('', map { chr(rand 256) } 1 .. int(rand(4))) });

# Whether a payload is valid for a column of the given typmod
sub valid_payload
{
	my ($p, $typmod) = @_;
	return 0 if length($p) < 4;
	my ($dim, $reserved) = unpack('s>s>', $p);
	return 0 if $dim < 1 || $dim > $max_dim || $reserved != 0;
	return 0 if defined $typmod && $dim != $typmod;
	return 0 if length($p) != 4 + 4 * $dim;
	foreach my $i (0 .. $dim - 1)
	{
		my $bits = unpack('N', substr($p, 4 + 4 * $i, 4));
		return 0 if (($bits >> 23) & 0xff) == 0xff;
	}
	return 1;
}

my $dir = PostgreSQL::Test::Utils::tempdir();
$node->safe_psql('postgres',
	'CREATE TABLE bin (id integer, v vector); CREATE TABLE bin3 (id integer, v vector(3))');

my @payloads;
$script = "\\set VERBOSITY verbose\n";
$line = 1;
my %payload_at;
for my $i (0 .. $n_binary - 1)
{
	# Every kind in turn, so that each gets its share
	my $p = $kinds[ $i % @kinds ]->();

	# One in eight goes to the vector(3) column, often as a 3-dim payload
	my $typmod;
	if (rand() < 0.125)
	{
		$typmod = 3;
		$p = payload(3) if rand() < 0.5;
	}
	my $table = defined $typmod ? 'bin3' : 'bin';
	push @payloads, [ $p, $typmod, valid_payload($p, $typmod) ];

	my $file = sprintf('%s/payload_%04d.bin', $dir, $i);
	open my $fh, '>:raw', $file or die "could not write $file: $!";
	print $fh "PGCOPY\n\377\r\n\0", pack('NN', 0, 0),
	  pack('n', 2), pack('NN', 4, $i),
	  pack('N', length $p), $p,
	  pack('n', 0xffff);
	close $fh;

	$line++;
	$payload_at{$line} = $i;
	$script .= "COPY $table (id, v) FROM '$file' WITH (FORMAT binary);\n";
}

($ret, $rows, $errors, $other) = run_script($script);
is($ret, 0, 'binary fuzz: psql ran the whole script');
is_deeply($other, [], 'binary fuzz: no lost connection, FATAL or PANIC');

my $n_valid_bin = grep { $_->[2] } @payloads;
%by_state = ();
%kinds = ();
@problems = ();
foreach my $l (sort { $a <=> $b } keys %payload_at)
{
	my $i = $payload_at{$l};
	my ($p, $typmod, $valid) = @{ $payloads[$i] };
	my $desc = sprintf('payload %d (%d bytes%s)', $i, length $p,
		defined $typmod ? ', into vector(3)' : '');
	if (my $e = $errors->{$l})
	{
		my ($state, $msg) = @$e;
		$by_state{$state}++;
		$kinds{ message_kind($msg) } = $state;
		push @problems, "valid $desc rejected: $state $msg" if $valid;
		push @problems, "$desc rejected with SQLSTATE $state: $msg"
		  unless acceptable_sqlstate($state, $msg);
	}
	elsif (!$valid)
	{
		push @problems, "invalid $desc was loaded: " . unpack('H*', substr($p, 0, 24));
	}
}
is(scalar @problems, 0, "binary fuzz: all $n_binary payloads behaved")
  or diag(join("\n", @problems[ 0 .. ($#problems < 30 ? $#problems : 29) ]));

# Exactly the valid payloads loaded, each into its table, byte for byte
my $loaded = $node->safe_psql('postgres',
	"SELECT id, md5(vector_send(v)) FROM bin
	UNION ALL SELECT id, md5(vector_send(v)) FROM bin3 ORDER BY id");
my $expected = join("\n",
	map { "$_|" . md5_hex($payloads[$_][0]) } grep { $payloads[$_][2] } 0 .. $#payloads);
my $n_rows = () = $loaded =~ /^\d+\|/mg;
is($n_rows, $n_valid_bin, "binary fuzz: $n_valid_bin rows loaded, one per valid payload");
is($loaded, $expected, 'binary fuzz: every loaded vector has the bytes of its payload');
is( $node->safe_psql('postgres', 'SELECT count(*) FROM bin3 WHERE vector_dims(v) <> 3'),
	'0', 'binary fuzz: the vector(3) column holds only 3-dim vectors');

foreach my $state (qw(22P03 22000))
{
	cmp_ok($by_state{$state} // 0, '>', 0, "binary fuzz reached SQLSTATE $state");
}
is(join(',', map { $kinds{$_} } grep { /cannot have more than/ } keys %kinds),
	'22000', 'binary fuzz reached the dimension limit, as a 22000 data exception');
cmp_ok($n_valid_bin, '>', 100, 'binary fuzz: enough valid payloads');
note("binary fuzz: $n_valid_bin loaded; rejections by SQLSTATE: "
	  . join(', ', map { "$_ $by_state{$_}" } sort keys %by_state));
foreach my $kind (sort keys %kinds)
{
	note("binary fuzz message lacking the type name: $kinds{$kind} $kind")
	  unless $kind =~ /vector/;
}

server_survived('binary fuzz');

$node->stop;

done_testing();
