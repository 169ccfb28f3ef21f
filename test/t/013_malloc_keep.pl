# 013_malloc_keep.pl: vectorpg.malloc_keep changes what a backend gives
# back to the kernel.
#
# What it proves: in a backend with the setting at 64MB, a 20 MB block that
# a statement allocated and freed stays resident afterwards (it came from
# malloc's heap, which keeps it); with 0, the same block is an mmap() that
# goes back to the kernel when freed.  Both for the value a session SETs
# after the library has loaded (the assign hook) and for the value in the
# server's configuration, taken when the library loads, and for sessions of
# a postmaster that preloaded the library.  For the default, -1 (auto): a
# session keeps glibc's behaviour until a batch call carries at least 1 MB
# of vectors (an upsert, an update, a search; vectorpg._batch_memory at
# exactly the bound), then keeps a freed 12 MB block (below the 16 MB mmap
# threshold of auto's 32 MB); a batch one byte short, or a session that SET
# 0, changes nothing; RESET or a rolled-back SET back to auto gives auto's
# value after a large batch and glibc's thresholds before one.  A batch of
# more than 4 MB raises auto's value to 8 times its vectors (80MB for 10 MB,
# so that a freed 28 MB block stays, which goes back after a 1 MB batch),
# a smaller batch after it does not lower it, and it stops at 256MB.  The backend
# reads its own resident size from /proc/self/status.
#
# Why: the setting's whole effect is inside the C library, invisible to
# SQL.  mallopt() calls compiled out, applied before the configured value or
# not at all would show only as slower batches in a benchmark.  The bounds
# (more than 15 MB kept, less than 8 MB) leave room for the few megabytes
# a backend's caches grow by on their own.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

if ($^O ne 'linux' || !-r '/proc/self/status')
{
	plan skip_all => 'needs Linux /proc';
}

my $node = PostgreSQL::Test::Cluster->new('malloc_keep');
$node->init;
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION vectorpg');

# The growth of the backend's resident size (kB) across a statement that
# allocates and frees `mb` MB (20 unless given), after `setup` ran in the
# same session
sub kept_kb
{
	my ($setup, $mb) = @_;
	$mb //= 20;
	my $rss = q{(regexp_match(pg_read_file('/proc/self/status'), 'VmRSS:\s+(\d+)'))[1]::int};
	my $out = $node->safe_psql(
		'postgres', qq{
		$setup
		SELECT vectorpg_kernel() IS NOT NULL;
		CREATE TEMP TABLE rss AS SELECT $rss AS before;
		SELECT length(repeat('x', $mb * 1024 * 1024));
		SELECT $rss - before FROM rss;
	});
	my @lines = split /\n/, $out;
	return $lines[-1];
}

my $default = kept_kb('');
cmp_ok($default, '<', 8 * 1024, "default: the freed 20 MB block goes back to the kernel ($default kB kept)");

# auto (-1, the default): a session's first batch of 1 MB of vectors or more
$node->safe_psql('postgres', q{
	SELECT vectorpg.create_collection('wide', 512, 'l2', with_index => false);
	SELECT vectorpg.create_collection('narrow', 4, 'l2', with_index => false);
});
# 600 vectors of 512 dimensions: 1,228,800 bytes
my $ids = q{ARRAY(SELECT 'w' || i FROM generate_series(1, 600) i)};
my $wide = q{ARRAY(SELECT array_fill(i::real, ARRAY[512])::vector FROM generate_series(1, 600) i)};
# what the session's malloc was given (kB) after `setup`
sub applied
{
	my ($setup) = @_;
	my @lines = split /\n/, $node->safe_psql('postgres', "$setup; SELECT vectorpg._malloc_keep_applied();");
	return $lines[-1];
}
is(applied('SELECT 1'), 0, 'auto: untouched in a new session');
is( applied(q{SELECT vectorpg.upsert('narrow', ARRAY['a', 'b'], ARRAY['[1,2,3,4]', '[5,6,7,8]']::vector[]);
		SELECT vectorpg._batch_memory(1024 * 1024 - 1)}),
	0, 'auto: batches under 1 MB leave malloc alone');
is(applied(qq{SELECT vectorpg.upsert('wide', $ids, $wide)}), 32768, 'auto: a 1.2 MB upsert applies 32MB');
is(applied(qq{SELECT vectorpg.update('wide', $ids, $wide)}), 32768, 'auto: so does a 1.2 MB update');
is(applied(qq{SELECT count(*) FROM vectorpg.search('wide', $wide, 1)}), 32768, 'auto: and a 1.2 MB search');
is(applied(qq{SET vectorpg.malloc_keep = 0; SELECT count(*) FROM vectorpg.search('wide', $wide, 1)}),
	0, 'SET 0: a large batch leaves malloc alone');
is(applied(q{LOAD 'vectorpg'; SET vectorpg.malloc_keep = '64MB'; RESET vectorpg.malloc_keep}),
	0, 'RESET to auto before any large batch: back to glibc\'s thresholds');
is(applied(q{LOAD 'vectorpg'; BEGIN; SET vectorpg.malloc_keep = '64MB'; ROLLBACK}),
	0, 'a rolled-back SET: back to glibc\'s thresholds');
is( applied(qq{SELECT vectorpg._batch_memory(1024 * 1024); SET vectorpg.malloc_keep = '64MB';
		RESET vectorpg.malloc_keep}),
	32768, 'RESET to auto after a large batch: auto\'s 32MB');
is( applied(qq{SET vectorpg.malloc_keep = 0; SELECT vectorpg._batch_memory(1024 * 1024);
		RESET vectorpg.malloc_keep}),
	32768, 'a large batch sent under 0 counts once back at auto');
# larger batches: 8 times their vectors, growing only, at most 256MB
is(applied(q{SELECT vectorpg._batch_memory(10 * 1024 * 1024)}), 81920, 'auto: a 10 MB batch applies 80MB');
is( applied(q{SELECT vectorpg._batch_memory(10 * 1024 * 1024); SELECT vectorpg._batch_memory(2 * 1024 * 1024)}),
	81920, 'auto: a smaller batch after it does not lower it');
is( applied(q{SELECT vectorpg._batch_memory(10 * 1024 * 1024); SET vectorpg.malloc_keep = '64MB';
		RESET vectorpg.malloc_keep}),
	81920, 'RESET to auto after a 10 MB batch: its 80MB');
is(applied(q{SELECT vectorpg._batch_memory(100 * 1024 * 1024)}), 262144, 'auto: at most 256MB');
is(applied(q{SELECT vectorpg._batch_memory(3 * 1024 * 1024)}), 32768, 'auto: 32MB up to 4 MB of vectors');
my $auto_none = kept_kb('', 12);
cmp_ok($auto_none, '<', 8 * 1024, "auto, no batch: a freed 12 MB block goes back to the kernel ($auto_none kB kept)");
my $auto_bound = kept_kb(q{SELECT vectorpg._batch_memory(1024 * 1024);}, 12);
cmp_ok($auto_bound, '>', 10 * 1024, "auto, after a batch of exactly 1 MB: the freed block stays ($auto_bound kB kept)");
my $auto_32 = kept_kb(q{SELECT vectorpg._batch_memory(1024 * 1024);}, 28);
cmp_ok($auto_32, '<', 8 * 1024, "auto, after a 1 MB batch: a freed 28 MB block goes back ($auto_32 kB kept)");
my $auto_big = kept_kb(q{SELECT vectorpg._batch_memory(10 * 1024 * 1024);}, 28);
cmp_ok($auto_big, '>', 20 * 1024, "auto, after a 10 MB batch: the freed 28 MB block stays ($auto_big kB kept)");

my $set = kept_kb("LOAD 'vectorpg'; SET vectorpg.malloc_keep = '64MB';");
cmp_ok($set, '>', 15 * 1024, "SET after load: the freed block stays resident ($set kB kept)");

my $back = kept_kb("LOAD 'vectorpg'; SET vectorpg.malloc_keep = '64MB'; SET vectorpg.malloc_keep = 0;");
cmp_ok($back, '<', 8 * 1024, "SET back to 0: freed blocks go back again ($back kB kept)");

$node->append_conf('postgresql.conf', "vectorpg.malloc_keep = '64MB'");
$node->reload;
my $conf = kept_kb('');
cmp_ok($conf, '>', 15 * 1024, "from postgresql.conf, at library load: the freed block stays resident ($conf kB kept)");
is($node->safe_psql('postgres', "SELECT vectorpg_kernel() IS NOT NULL; SHOW vectorpg.malloc_keep"),
	"t\n64MB", 'SHOW reports the configured value');

# Preloaded, the postmaster applies it once and every session inherits it
# (the session's own call to vectorpg loads nothing more)
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'vectorpg'");
$node->restart;
my $inherited = kept_kb('');
cmp_ok($inherited, '>', 15 * 1024,
	"preloaded: sessions inherit the postmaster's thresholds ($inherited kB kept)");

$node->stop;
done_testing();
