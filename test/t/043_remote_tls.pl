# 043_remote_tls.pl: TLS verification against an https fake.
#
# What it proves: with a throwaway CA made by openssl and a server
# certificate for 127.0.0.1, a request to the https fake fails verification
# (HV00N, the verification error in the detail) when the server has no
# ca_file, works when ca_file names the CA, fails again with another CA, and
# fails when the host name does not match the certificate (localhost
# against a certificate for the address only); and ALTER SERVER ... SET
# ca_file takes effect in the same session.  The key never appears in an
# error.
#
# Why: TLS must be verified by default, and the only way to trust a private
# CA is a superuser-only option (the validator test checks who may set it).

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../perl";
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use VectorpgFake;

my $key = 'pc-key-' . join('', map { ('a' .. 'z')[ rand 26 ] } 1 .. 16);
my $dir = PostgreSQL::Test::Utils::tempdir();
chmod 0755, $dir;

# A CA, a second CA, and a certificate for 127.0.0.1 signed by the first
sub openssl
{
	my @cmd = ('openssl', @_);
	my ($out, $err);
	IPC::Run::run(\@cmd, '>', \$out, '2>', \$err)
	  or die "openssl @_ failed: $err";
	return;
}
for my $ca ('ca', 'other_ca')
{
	openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', "$dir/$ca.key",
		'-out', "$dir/$ca.pem", '-days', '2', '-subj', "/CN=vectorpg test $ca");
}
openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', "$dir/server.key",
	'-out', "$dir/server.csr", '-subj', '/CN=127.0.0.1');
open(my $ext, '>', "$dir/ext.cnf") or die;
print $ext "subjectAltName=IP:127.0.0.1\n";
close $ext;
openssl('x509', '-req', '-in', "$dir/server.csr", '-CA', "$dir/ca.pem", '-CAkey', "$dir/ca.key",
	'-CAcreateserial', '-out', "$dir/server.pem", '-days', '2', '-extfile', "$dir/ext.cnf");
chmod 0644, glob("$dir/*");

my $node = PostgreSQL::Test::Cluster->new('remote_tls');
$node->init;
$node->append_conf('postgresql.conf', "fsync = off\nlog_statement = none\n");
$node->start;

my $pc = VectorpgFake->new('pinecone', api_key => $key,
	tls_cert => "$dir/server.pem", tls_key => "$dir/server.key", tls_ca => "$dir/ca.pem");
my $host = $pc->create_index(name => 'docs', dimension => 4, metric => 'cosine');
like($host, qr{^https://127\.0\.0\.1:\d+$}, 'the fake serves https');
(my $localhost = $host) =~ s/127\.0\.0\.1/localhost/;

# allow_insecure only because the fake is on loopback; TLS stays verified
$node->safe_psql(
	'postgres', qq{
	CREATE EXTENSION vectorpg;
	CREATE FOREIGN DATA WRAPPER test_fdw VALIDATOR vectorpg.fdw_validator;
	CREATE SERVER pc FOREIGN DATA WRAPPER test_fdw OPTIONS (provider 'pinecone',
		url '$host', allow_insecure 'true', max_retries '0');
	CREATE USER MAPPING FOR CURRENT_USER SERVER pc OPTIONS (api_key '$key');
});

my $call = q{SELECT status FROM vectorpg.remote_request('pc', 'POST', '/describe_index_stats', '{}');};

sub try_call
{
	my ($pre) = @_;
	my ($ret, $out, $err) = $node->psql('postgres',
		"\\set VERBOSITY verbose\n" . ($pre // '') . "\n$call", on_error_stop => 0);
	unlike($err, qr/\Q$key\E/, 'no key in the error');
	return ($out, $err);
}

my ($out, $err) = try_call();
like($err, qr/HV00N: could not connect to server "pc"/, 'no ca_file: HV00N');
like($err, qr/DETAIL:  Remote message: .*certificate/i, 'no ca_file: the detail names the certificate problem');

($out, $err) = try_call(qq{ALTER SERVER pc OPTIONS (ADD ca_file '$dir/ca.pem');});
is($out, '200', 'ca_file names the CA: verified and answered');
is($err, '', 'no error');

($out, $err) = try_call(qq{ALTER SERVER pc OPTIONS (SET ca_file '$dir/other_ca.pem');});
like($err, qr/HV00N: could not connect to server "pc"/, 'another CA: HV00N');

($out, $err) = try_call(qq{ALTER SERVER pc OPTIONS (SET ca_file '$dir/ca.pem', SET url '$localhost');});
like($err, qr/HV00N: could not connect to server "pc"/, 'host name not in the certificate: HV00N');

# in one session: a failure, then ALTER SERVER, then success over a new connection
($out, $err) = try_call(qq{ALTER SERVER pc OPTIONS (SET url '$host', DROP ca_file);
	$call
	ALTER SERVER pc OPTIONS (ADD ca_file '$dir/ca.pem');});
is($out, '200', 'the same session succeeds after ALTER SERVER adds ca_file');
like($err, qr/HV00N/, 'after failing without it');

$node->stop;
$pc->stop;
done_testing();
