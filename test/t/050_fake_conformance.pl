# 050_fake_conformance.pl: the fake Pinecone and Milvus servers against the
# official SDKs.
#
# What it proves: the strict fakes of test/fakes, which the remote clients
# are tested against, accept exactly what the official SDKs send and answer
# what the SDKs parse.  test/conformance/pinecone.mjs drives every endpoint
# the fake Pinecone implements through @pinecone-database/pinecone 9.0.0
# (control plane, upsert, query with each metric's score convention, fetch
# of an id with a space, list pagination, update, delete, stats, filters,
# namespaces, retries on 503); test/conformance/milvus.mjs does the same for
# the fake Milvus through the REST HttpClient of @zilliz/milvus2-sdk-node
# 3.0.6 (collections, entities, partitions, indexes, int64 ids above 2^53 as
# strings, SparseFloatVector fields as {"<index>": value}, a 200-with-error
# envelope).  Each SDK check becomes one TAP line.
#
# Why a real SDK: a fake written from a specification alone can share the
# specification's misreadings with the client under test; the SDK is an
# independent reading of the same protocol.  The versions are pinned by
# test/conformance/package-lock.json.
#
# The SDKs come from the npm registry (npm ci, one retry).  Without them the
# test fails rather than skips: a silently skipped conformance test would let
# the fakes drift.  The npm cache is kept in /tmp/vectorpg-npm-cache-<uid>
# (VPG_NPM_CACHE overrides it) so that reruns need not download again.

use strict;
use warnings;

use File::Copy qw(copy);
use File::Basename qw(dirname);
use File::Spec;
use IPC::Run qw(run timeout);
use JSON::PP;
use PostgreSQL::Test::Utils;
use Test::More;

# test/perl is on prove's include path only when PROVE_FLAGS is not
# overridden on make's command line (run-tests.sh overrides it)
use FindBin;
use lib "$FindBin::RealBin/../perl";
use VectorpgFake;

my $root = File::Spec->rel2abs(File::Spec->catdir(dirname(__FILE__), '..', '..'));
my $src = "$root/test/conformance";

# A private copy of the conformance directory, where npm ci installs
my $dir = PostgreSQL::Test::Utils::tempdir('conformance');
for my $f (qw(package.json package-lock.json harness.mjs pinecone.mjs milvus.mjs))
{
	copy("$src/$f", "$dir/$f") or BAIL_OUT("cannot copy $f: $!");
}

# A persistent npm cache owned by this user, else a throwaway one
my $cache = $ENV{VPG_NPM_CACHE} // "/tmp/vectorpg-npm-cache-$>";
mkdir $cache unless -d $cache;
$cache = "$dir/npm-cache" unless -d $cache && -O $cache && -w $cache;

# npm ci, retried once; the installed SDKs are required
my @npm = ('npm', 'ci', '--no-audit', '--no-fund', '--ignore-scripts',
	'--prefer-offline', '--cache', $cache, '--loglevel', 'error');
my ($out, $err) = ('', '');
my $installed = 0;
for my $attempt (1 .. 2)
{
	my $ok = eval {
		run([ 'sh', '-c', 'cd "$1" && shift && exec "$@"', 'sh', $dir, @npm ],
			'<', \undef, '>', \$out, '2>', \$err, timeout(150));
	};
	note "npm ci attempt $attempt: " . ($ok ? 'ok' : "failed: $err $@");
	if ($ok && -d "$dir/node_modules/\@pinecone-database/pinecone"
		&& -d "$dir/node_modules/\@zilliz/milvus2-sdk-node")
	{
		$installed = 1;
		last;
	}
}
ok($installed, 'npm ci installed the pinned official SDKs')
  or diag("npm ci failed: $out\n$err");

# The node that runs the SDKs: the system's when it is 20 or newer (the
# Pinecone SDK declares node >= 22 but works on 20); otherwise, e.g. Debian
# 12's node 18, a pinned node 22 from the npm registry's node-linux-<arch>
# package.  VPG_CONFORMANCE_NODE=download forces the download.
my $node = 'node';
my $system_major = 0;
my ($v, $e) = ('', '');
if (eval { run([ 'node', '--version' ], '>', \$v, '2>', \$e) } && $v =~ /^v(\d+)\./)
{
	$system_major = $1;
}
if ($system_major < 20 || ($ENV{VPG_CONFORMANCE_NODE} // '') eq 'download')
{
	my %arch = (x86_64 => 'x64', aarch64 => 'arm64');
	my $machine = `uname -m`;
	chomp $machine;
	my $pkg = 'node-linux-' . ($arch{$machine} // $machine);
	my @get = ('npm', 'install', '--no-save', '--no-audit', '--no-fund',
		'--ignore-scripts', '--prefer-offline', '--cache', $cache,
		'--loglevel', 'error', '--prefix', "$dir/runtime", "$pkg\@22.12.0");
	for my $attempt (1 .. 2)
	{
		last if eval {
			run(\@get, '<', \undef, '>', \$out, '2>', \$err, timeout(150));
		};
	}
	$node = "$dir/runtime/node_modules/$pkg/bin/node";
}
my $node_version = '';
eval { run([ $node, '--version' ], '>', \$node_version, '2>', \$err) };
chomp $node_version;
like($node_version, qr/^v(2\d|[3-9]\d)\./, "node 20 or newer runs the SDKs ($node_version)")
  or diag("node: $node; system node major $system_major; $out $err");

# Run one conformance script; report each of its checks as a TAP line
sub run_sdk
{
	my ($label, $script, @args) = @_;
	my ($stdout, $stderr) = ('', '');
	my $ok = eval {
		run([ $node, "$dir/$script", @args ],
			'<', \undef, '>', \$stdout, '2>', \$stderr, timeout(120));
	};
	my $checks = 0;
	my $finished = 0;
	for my $line (split /\n/, $stdout)
	{
		my $r = eval { decode_json($line) };
		unless ($r)
		{
			note "$label: $line";
			next;
		}
		$checks++;
		$finished = 1 if $r->{name} eq 'script finished';
		ok($r->{ok}, "$label: $r->{name}") or diag($r->{detail});
	}
	ok($finished && $checks > 20,
		"$label: the script ran to the end ($checks checks)")
	  or diag("exit: " . ($ok ? 0 : $?) . " $@\nstderr: $stderr");
	return;
}

SKIP:
{
	skip 'the SDKs are not installed (failed above)', 2 unless $installed;

	my $pc = VectorpgFake->new('pinecone', api_key => 'pc-conformance-key');
	run_sdk('pinecone sdk', 'pinecone.mjs', $pc->url, 'pc-conformance-key');
	my $stats = $pc->stats;
	cmp_ok($stats->{requests}, '>', 50, 'the fake Pinecone served the SDK');
	$pc->stop;

	my $mv = VectorpgFake->new('milvus', token => 'root:Milvus');
	run_sdk('milvus sdk', 'milvus.mjs', $mv->url, 'root:Milvus');
	$stats = $mv->stats;
	cmp_ok($stats->{requests}, '>', 50, 'the fake Milvus served the SDK');
	$mv->stop;
}

done_testing();
