# 013_malloc_keep.pl: vectorpg.malloc_keep changes what a backend gives
# back to the kernel.
#
# What it proves: in a backend with the setting at 64MB, a 20 MB block that
# a statement allocated and freed stays resident afterwards (it came from
# malloc's heap, which keeps it); in a backend with the default (0), the
# same block is an mmap() that goes back to the kernel when freed.  Both for
# the value a session SETs after the library has loaded (the assign hook)
# and for the value in the server's configuration, taken when the library
# loads, and for sessions of a postmaster that preloaded the library.  The
# backend reads its own resident size from /proc/self/status.
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
# allocates and frees 20 MB, after `setup` ran in the same session
sub kept_kb
{
	my ($setup) = @_;
	my $rss = q{(regexp_match(pg_read_file('/proc/self/status'), 'VmRSS:\s+(\d+)'))[1]::int};
	my $out = $node->safe_psql(
		'postgres', qq{
		$setup
		SELECT vectorpg_kernel() IS NOT NULL;
		CREATE TEMP TABLE rss AS SELECT $rss AS before;
		SELECT length(repeat('x', 20 * 1024 * 1024));
		SELECT $rss - before FROM rss;
	});
	my @lines = split /\n/, $out;
	return $lines[-1];
}

my $default = kept_kb('');
cmp_ok($default, '<', 8 * 1024, "default: the freed 20 MB block goes back to the kernel ($default kB kept)");

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
