# VectorpgFake.pm: start, drive and inspect the strict fake Pinecone and
# Milvus servers (test/fakes/*.py) from TAP tests.
#
#   use VectorpgFake;
#   my $pc = VectorpgFake->new('pinecone', api_key => 'pc-secret');
#   my $mv = VectorpgFake->new('milvus', token => 'root:Milvus');
#   my $host = $pc->create_index(name => 'docs', dimension => 4, metric => 'cosine');
#   $pc->upsert(index => 'docs', namespace => 'ns', vectors => [...]);
#   $mv->create_collection(name => 'docs', dimension => 4, metric => 'COSINE', ...);
#   $mv->insert(collection => 'docs', rows => [...]);
#   $pc->fault(mode => 'status', status => 503, count => 2, path => '/query');
#   $pc->clear_faults; $pc->state; $pc->requests; $pc->reset_log; $pc->stats;
#   $pc->stop;
#
# Design: each object owns one server process started with /usr/bin/python3
# on 127.0.0.1 and an ephemeral port, which the server writes to a port file
# that new() waits for.  The server's stderr goes to a file in the TAP log
# directory.  Setup helpers (create_index, upsert, insert, ...) call the
# server's real API but with the header X-Fake-Internal: 1, so they are
# neither logged, faulted nor counted: the request log and the connection
# counters then show only what the client under test sent.  Everything
# else goes through the control API under /_fake/.  HTTP::Tiny and JSON::PP
# (Perl core) are the only dependencies.  The process is stopped by stop(),
# by DESTROY, and by an END block for objects still alive at exit.

package VectorpgFake;

use strict;
use warnings;

use Carp;
use File::Basename qw(dirname);
use File::Spec;
use File::Temp qw(tempdir);
use HTTP::Tiny;
use JSON::PP;
use POSIX qw(:sys_wait_h);
use Scalar::Util qw(weaken);
use Time::HiRes qw(usleep);

my %live;    # pid => object, for the END block

# Where the fake servers live: test/fakes next to test/perl
my $fakes_dir =
  File::Spec->catdir(dirname(File::Spec->rel2abs(__FILE__)), '..', 'fakes');

my %script = (
	pinecone => 'pinecone_fake.py',
	milvus => 'milvus_fake.py');

# The JSON codec: canonical so that dumps of state compare stably
my $json = JSON::PP->new->utf8->canonical->allow_nonref;

# Directory for the servers' stderr: the TAP log directory when running
# under PostgreSQL::Test::Utils, else a temporary directory.
sub _log_dir
{
	no warnings 'once';
	my $dir = $PostgreSQL::Test::Utils::log_path;
	return $dir if defined $dir && -d $dir;
	return $ENV{TESTLOGDIR} if $ENV{TESTLOGDIR} && -d $ENV{TESTLOGDIR};
	return tempdir('vpgfake_XXXXXX', TMPDIR => 1, CLEANUP => 1);
}

# new(PROVIDER, %opts): start a fake and wait until it listens.
# Options: api_key (pinecone), token (milvus), tls_cert, tls_key,
# python (default /usr/bin/python3), name (label for the log file).
sub new
{
	my ($class, $provider, %opts) = @_;
	croak "unknown fake provider $provider" unless $script{$provider};
	my $self = bless {
		provider => $provider,
		api_key => $opts{api_key},
		token => $opts{token},
		tls => defined $opts{tls_cert},
		tls_ca => $opts{tls_ca},
		hosts => {},
	}, $class;

	my $tmp = tempdir('vpgfake_XXXXXX', TMPDIR => 1, CLEANUP => 1);
	my $port_file = "$tmp/port";
	my $label = $opts{name} // $provider;
	my $logdir = _log_dir();
	my $n = 0;
	$n++ while -e "$logdir/fake_${label}_$n.log";
	$self->{log_file} = "$logdir/fake_${label}_$n.log";

	my @cmd = ($opts{python} // '/usr/bin/python3',
		"$fakes_dir/$script{$provider}",
		'--port', $opts{port} // 0, '--port-file', $port_file,
		'--exit-with-parent');
	push @cmd, '--api-key', $opts{api_key}
	  if $provider eq 'pinecone' && defined $opts{api_key};
	push @cmd, '--token', $opts{token}
	  if $provider eq 'milvus' && defined $opts{token};
	push @cmd, '--tls-cert', $opts{tls_cert}, '--tls-key', $opts{tls_key}
	  if defined $opts{tls_cert};
	push @cmd, '--verbose' if $opts{verbose};

	my $pid = fork();
	croak "fork failed: $!" unless defined $pid;
	if ($pid == 0)
	{
		open(STDIN, '<', '/dev/null');
		open(STDOUT, '>>', $self->{log_file});
		open(STDERR, '>>', $self->{log_file});
		exec(@cmd) or POSIX::_exit(127);
	}
	$self->{pid} = $pid;
	$self->{owner} = $$;
	$live{$pid} = $self;
	weaken($live{$pid});

	for (my $i = 0; $i < 300; $i++)
	{
		if (-s $port_file)
		{
			open(my $fh, '<', $port_file) or croak "cannot read $port_file";
			my $port = <$fh>;
			close $fh;
			chomp $port;
			$self->{port} = $port + 0;
			last;
		}
		if (waitpid($pid, WNOHANG) == $pid)
		{
			delete $live{$pid};
			$self->{pid} = undef;
			croak "fake $provider exited at start; see $self->{log_file}";
		}
		usleep(50_000);
	}
	croak "fake $provider did not start within 15 s; see $self->{log_file}"
	  unless $self->{port};

	my %tiny = (timeout => 30, keep_alive => 1);
	if ($self->{tls})
	{
		$tiny{verify_SSL} = defined $opts{tls_ca} ? 1 : 0;
		$tiny{SSL_options} = { SSL_ca_file => $opts{tls_ca} }
		  if defined $opts{tls_ca};
	}
	$self->{http} = HTTP::Tiny->new(%tiny);
	return $self;
}

# The main listener: Pinecone's control plane or Milvus' base URL.
sub url
{
	my ($self) = @_;
	return ($self->{tls} ? 'https' : 'http') . "://127.0.0.1:$self->{port}";
}

# The main listener's port.
sub port { return $_[0]->{port}; }

# 'pinecone' or 'milvus'.
sub provider { return $_[0]->{provider}; }

# Process id of the server (undef once stopped).
sub pid { return $_[0]->{pid}; }

# Path of the server's stderr log.
sub log_file { return $_[0]->{log_file}; }

# Low-level request: returns the HTTP::Tiny response hashref.
# $body may be a reference (encoded as JSON) or a string.
sub request
{
	my ($self, $method, $url, $body, %headers) = @_;
	my %opt = (headers => \%headers);
	if (defined $body)
	{
		$opt{content} = ref $body ? $json->encode($body) : $body;
		$opt{headers}{'Content-Type'} //= 'application/json';
	}
	return $self->{http}->request($method, $url, \%opt);
}

# Decode a JSON answer or die with the status and body.
sub _decode
{
	my ($res, $what) = @_;
	croak "$what: HTTP $res->{status} $res->{reason}: $res->{content}"
	  unless $res->{success};
	return undef unless length($res->{content} // '');
	return $json->decode($res->{content});
}

# A control API call.
sub _control
{
	my ($self, $method, $path, $body) = @_;
	my $res = $self->request($method, $self->url . "/_fake/$path", $body);
	return _decode($res, "control $path");
}

# Provider API call made by the helpers themselves (never logged/faulted).
sub _internal
{
	my ($self, $method, $url, $body) = @_;
	my %h = ('X-Fake-Internal' => '1');
	if ($self->{provider} eq 'pinecone')
	{
		$h{'Api-Key'} = $self->{api_key} // 'fake-key';
		$h{'X-Pinecone-Api-Version'} = '2026-07';
	}
	elsif (defined $self->{token})
	{
		$h{'Authorization'} = "Bearer $self->{token}";
	}
	my $res = $self->request($method, $url, $body, %h);
	return $res;
}

# Milvus call through the envelope: dies unless code is 0.
sub _milvus
{
	my ($self, $path, $body) = @_;
	my $res = $self->_internal('POST', $self->url . "/v2/vectordb/$path",
		$body // {});
	my $out = _decode($res, $path);
	croak "milvus $path: code $out->{code}: $out->{message}"
	  if $out->{code} != 0;
	return $out->{data};
}

# --- Pinecone helpers -----------------------------------------------------

# create_index(name, dimension, metric, [deletion_protection, tags]):
# creates the index and returns its data-plane URL.
sub create_index
{
	my ($self, %a) = @_;
	croak 'create_index is for pinecone' unless $self->{provider} eq 'pinecone';
	my $body = {
		name => $a{name},
		deployment =>
		  { deployment_type => 'managed', cloud => 'aws', region => 'us-east-1' },
		schema => {
			fields => {
				_values => {
					type => 'dense_vector',
					dimension => $a{dimension} + 0,
					metric => $a{metric} // 'cosine'
				}
			}
		},
		deletion_protection => $a{deletion_protection} // 'disabled',
	};
	$body->{tags} = $a{tags} if $a{tags};
	my $res = $self->_internal('POST', $self->url . '/indexes', $body);
	my $model = _decode($res, "create index $a{name}");
	$self->{hosts}{ $a{name} } = $model->{host};
	return $model->{host};
}

# Data-plane URL of an index.
sub index_host
{
	my ($self, $name) = @_;
	return $self->{hosts}{$name} if $self->{hosts}{$name};
	my $res = $self->_internal('GET', $self->url . "/indexes/$name");
	my $model = _decode($res, "describe index $name");
	return $self->{hosts}{$name} = $model->{host};
}

# delete_index(name)
sub delete_index
{
	my ($self, $name) = @_;
	my $res = $self->_internal('DELETE', $self->url . "/indexes/$name");
	_decode($res, "delete index $name");
	delete $self->{hosts}{$name};
	return;
}

# Perl scalars that were ever used as strings are encoded as JSON strings;
# vectors must go out as numbers, so copy them numified.
sub _num
{
	my ($list) = @_;
	return [ map { $_ + 0 } @$list ];
}

# upsert(index, namespace, vectors): in batches of 1000 (values and sparse
# values are sent as numbers whatever their Perl type).
sub upsert
{
	my ($self, %a) = @_;
	my $host = $self->index_host($a{index});
	my @v = map {
		my %r = %$_;
		$r{values} = _num($r{values}) if ref $r{values};
		$r{sparseValues} = {
			indices => _num($r{sparseValues}{indices}),
			values => _num($r{sparseValues}{values}) }
		  if ref $r{sparseValues};
		\%r;
	} @{ $a{vectors} };
	my $n = 0;
	while (my @batch = splice(@v, 0, 1000))
	{
		my $body = { vectors => \@batch };
		$body->{namespace} = $a{namespace} if defined $a{namespace};
		my $out = _decode($self->_internal('POST', "$host/vectors/upsert", $body),
			'upsert');
		$n += $out->{upsertedCount};
	}
	return $n;
}

# pinecone_call(index, method, path, body): any data-plane call, decoded.
sub pinecone_call
{
	my ($self, %a) = @_;
	my $host = $self->index_host($a{index});
	return _decode(
		$self->_internal($a{method} // 'POST', $host . $a{path}, $a{body}),
		$a{path});
}

# --- Milvus helpers ---------------------------------------------------------

# create_collection(name, dimension, metric, id_type, fields, dynamic, load,
# nullable, max_length, primary, vector_field, sparse_field): a schema-form
# collection with primary key "id" (or primary), FloatVector "vector" (or
# vector_field), the given scalar fields (nullable unless nullable => 0),
# with sparse_field a required SparseFloatVector field of that name, and an
# index on each vector field (the sparse one inverted, IP); loaded unless
# load => 0.
sub create_collection
{
	my ($self, %a) = @_;
	croak 'create_collection is for milvus' unless $self->{provider} eq 'milvus';
	my $id_type = $a{id_type} // 'Int64';
	my $pk_name = $a{primary} // 'id';
	my $vec_name = $a{vector_field} // 'vector';
	my @fields = (
		{
			fieldName => $pk_name,
			dataType => $id_type,
			isPrimary => JSON::PP::true,
			($id_type eq 'VarChar'
				? (elementTypeParams => { max_length => 512 })
				: ())
		},
		{
			fieldName => $vec_name,
			dataType => 'FloatVector',
			elementTypeParams => { dim => $a{dimension} + 0 }
		});
	my $nullable = $a{nullable} // 1;
	my $extra = $a{fields} // {};
	for my $name (sort keys %$extra)
	{
		my $type = $extra->{$name};
		my %f = (fieldName => $name, dataType => $type);
		$f{elementTypeParams} = { max_length => $a{max_length} // 65535 }
		  if $type eq 'VarChar';
		$f{nullable} = $nullable ? JSON::PP::true : JSON::PP::false;
		push @fields, \%f;
	}
	my @indexes = (
		{
			fieldName => $vec_name,
			indexName => $vec_name,
			metricType => $a{metric} // 'COSINE',
			params => { index_type => 'HNSW', M => 16, efConstruction => 200 }
		});
	if (defined $a{sparse_field})
	{
		push @fields, { fieldName => $a{sparse_field}, dataType => 'SparseFloatVector' };
		push @indexes, {
			fieldName => $a{sparse_field},
			indexName => $a{sparse_field},
			metricType => 'IP',
			params => { index_type => 'SPARSE_INVERTED_INDEX' } };
	}
	my $body = {
		collectionName => $a{name},
		schema => {
			autoId => $a{auto_id} ? JSON::PP::true : JSON::PP::false,
			enableDynamicField => ($a{dynamic} // 1)
			? JSON::PP::true
			: JSON::PP::false,
			fields => \@fields
		},
		indexParams => \@indexes,
	};
	$self->_milvus('collections/create', $body);
	$self->{vector_field}{ $a{name} } = $vec_name;
	$self->_milvus('collections/release', { collectionName => $a{name} })
	  if defined $a{load} && !$a{load};
	return;
}

# insert(collection, partition, rows): returns the inserted ids (strings for
# Int64 keys); the vector field is sent as numbers.
sub insert
{
	my ($self, %a) = @_;
	my $vf = $self->{vector_field}{ $a{collection} } // 'vector';
	my @rows = map {
		my %r = %$_;
		$r{$vf} = _num($r{$vf}) if ref $r{$vf} eq 'ARRAY';
		\%r;
	} @{ $a{rows} };
	my $body = { collectionName => $a{collection}, data => \@rows };
	$body->{partitionName} = $a{partition} if defined $a{partition};
	my $out = $self->_milvus('entities/insert', $body);
	return $out->{insertIds};
}

# create_partition(collection, partition)
sub create_partition
{
	my ($self, %a) = @_;
	$self->_milvus('partitions/create',
		{ collectionName => $a{collection}, partitionName => $a{partition} });
	return;
}

# load(collection): make a Milvus collection searchable
sub load
{
	my ($self, $name) = @_;
	$self->_milvus('collections/load', { collectionName => $name });
	return;
}

# release(collection): searches on it then fail with code 101
sub release
{
	my ($self, $name) = @_;
	$self->_milvus('collections/release', { collectionName => $name });
	return;
}

# milvus_call(path, body): any v2 call; returns the whole envelope.
sub milvus_call
{
	my ($self, $path, $body) = @_;
	my $res = $self->_internal('POST', $self->url . "/v2/vectordb/$path",
		$body // {});
	return _decode($res, $path);
}

# --- faults, state, log, stats ------------------------------------------------

# fault(mode => ..., [path => REGEX, method => M, count => N, delay_ms,
# status, retry_after, bytes_per_sec, size, code, message, apply]).
sub fault
{
	my ($self, %spec) = @_;
	for my $k (qw(count status delay_ms bytes_per_sec size code))
	{
		$spec{$k} += 0 if defined $spec{$k};
	}
	$spec{apply} = $spec{apply} ? JSON::PP::true : JSON::PP::false
	  if exists $spec{apply};
	return $self->_control('POST', 'fault', \%spec)->{ids}[0];
}

# The faults in force, with remaining and fired counts.
sub faults { return $_[0]->_control('GET', 'faults'); }

# Remove every fault; hung requests are released (their connections closed).
sub clear_faults { $_[0]->_control('POST', 'clear', {}); return; }

# Full dump of indexes/collections, namespaces/partitions and records.
sub state { return $_[0]->_control('GET', 'state'); }

# The request log: what the client under test sent, secrets masked.
sub requests { return $_[0]->_control('GET', 'requests'); }

# Empty the request log.
sub reset_log { $_[0]->_control('POST', 'reset_log', {}); return; }

# Counters: connections, requests, handler time, faults fired.
sub stats { return $_[0]->_control('GET', 'stats'); }

# Zero the counters.
sub reset_stats { $_[0]->_control('POST', 'reset_stats', {}); return; }

# config(log => 0|1, log_limit => N): switch the request log off (e.g. for a
# benchmark) or bound it; returns the settings now in force.
sub config
{
	my ($self, %c) = @_;
	$c{log} = $c{log} ? JSON::PP::true : JSON::PP::false if exists $c{log};
	$c{log_limit} += 0 if defined $c{log_limit};
	return $self->_control('POST', 'config', \%c);
}

# query_order('pk' | 'shuffled'): Milvus only; the order in which query
# answers come (the spec promises none; the fake's default is key order).
sub query_order
{
	my ($self, $order) = @_;
	return $self->_control('POST', 'query_order', { order => $order });
}

# stop(): terminate the server and wait for it (idempotent).
sub stop
{
	my ($self) = @_;
	my $pid = $self->{pid};
	return unless $pid && $self->{owner} == $$;
	$self->{pid} = undef;
	delete $live{$pid};
	kill 'TERM', $pid;
	for (my $i = 0; $i < 100; $i++)
	{
		return if waitpid($pid, WNOHANG) == $pid;
		usleep(50_000);
	}
	kill 'KILL', $pid;
	waitpid($pid, 0);
	return;
}

# A fake never outlives its object.
sub DESTROY
{
	my ($self) = @_;
	local ($?, $!, $@);
	$self->stop if $self->{pid};
	return;
}

# Nor the test script.
END
{
	local $?;
	$_->stop for grep { defined } values %live;
}

1;
