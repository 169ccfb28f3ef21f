# 048_fdw_writes.pl: INSERT, UPDATE and DELETE on vectorpg_fdw foreign
# tables, their transaction semantics, and the batch API on remote
# collections, against both strict fakes.
#
# What it proves, for Pinecone and Milvus alike: after INSERT (with
# RETURNING), INSERT ... SELECT of thousands of rows, COPY, UPDATE of
# metadata columns, of the metadata object and of the vector, and DELETE
# ... RETURNING, the fake's state equals what the table says (ids, float32
# values bit for bit, metadata objects exactly); a transaction's writes go
# out at commit in chunks of write_batch_size; ROLLBACK sends no write (the
# request log shows none); ROLLBACK TO SAVEPOINT drops exactly that part
# and RELEASE keeps it; writes to one id are coalesced (insert then delete
# sends one delete, repeated upserts one upsert of the last row); a fetch
# by id sees the transaction's own writes; a remote failure at commit (a
# 400, a 503 storm beyond the retries) aborts the transaction with the
# documented error, and a local table written in the same transaction is
# unchanged; PREPARE TRANSACTION is refused; the batch API (upsert, update,
# delete, search, search_by_id, fetch) works on a remote collection with
# the local path's counts and errors; search, multi_search and
# describe_collection answer on a remote collection exactly as on a local
# twin holding the same records, collection_health checks the remote and
# hybrid_search answers as locally when the table allows full scans (HV00L
# with a hint otherwise); Pinecone sparse values (a jsonb column
# sparse_values) are written by INSERT and UPDATE, kept by an UPDATE of
# other columns, removed by NULL, seen by the transaction's own fetches,
# read back, refused with a clear error for a malformed object, a
# non-dotproduct index and a Milvus collection without a sparse field, and
# imported for dotproduct indexes; a Milvus collection's SparseFloatVector
# field takes and returns them the same way (kept by an UPDATE of other
# columns, a NULL refused where the field is required); no secret in any error or the log.
#
# Why: a write to a remote index must happen exactly when the transaction
# commits, never when it rolls back, and lose or corrupt nothing.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use VectorpgFake;

srand(48);

my $pc_key = 'pc-secret-key-48';
my $mv_token = 'root:MilvusSecret48';
my $pc = VectorpgFake->new('pinecone', api_key => $pc_key);
my $mv = VectorpgFake->new('milvus', token => $mv_token);

my $node = PostgreSQL::Test::Cluster->new('fdw_writes');
$node->init;
$node->append_conf('postgresql.conf',
	"fsync = off\nmax_prepared_transactions = 2\nlog_min_messages = debug1\n");
$node->start;

my $dim = 4;
$pc->create_index(name => 'docs', dimension => $dim, metric => 'cosine');
for my $coll ('docs', 'batch')
{
	$mv->create_collection(
		name => $coll,
		dimension => $dim,
		metric => 'COSINE',
		id_type => 'Int64',
		fields => { genre => 'VarChar', year => 'Int64' },
		dynamic => 1);
}

my ($pu, $mu) = ($pc->url, $mv->url);
$node->safe_psql(
	'postgres', qq{
	CREATE EXTENSION vectorpg;
	CREATE SERVER pc FOREIGN DATA WRAPPER vectorpg_fdw
		OPTIONS (provider 'pinecone', url '$pu', allow_insecure 'true', max_retries '2');
	CREATE SERVER mv FOREIGN DATA WRAPPER vectorpg_fdw
		OPTIONS (provider 'milvus', url '$mu', allow_insecure 'true', max_retries '2');
	SET log_statement = 'none';
	CREATE USER MAPPING FOR CURRENT_USER SERVER pc OPTIONS (api_key '$pc_key');
	CREATE USER MAPPING FOR CURRENT_USER SERVER mv OPTIONS (token '$mv_token');
	RESET log_statement;
	CREATE FOREIGN TABLE pdocs (id text, embedding vector($dim), score float8, distance float8,
		metadata jsonb, genre text, year int)
		SERVER pc OPTIONS (index 'docs', namespace 'ns1', metric 'cosine', write_batch_size '100');
	CREATE FOREIGN TABLE mdocs (id bigint, embedding vector($dim), distance float8,
		metadata jsonb, genre text, year bigint)
		SERVER mv OPTIONS (collection 'docs', metric 'cosine', write_batch_size '100');
	CREATE FOREIGN TABLE pbatch (id text, embedding vector($dim), metadata jsonb)
		SERVER pc OPTIONS (index 'docs', namespace 'batch', metric 'cosine');
	CREATE FOREIGN TABLE mbatch (id bigint, embedding vector($dim), metadata jsonb)
		SERVER mv OPTIONS (collection 'batch', metric 'cosine');
	CREATE TABLE local_t (n int);
});

my $json = JSON::PP->new->canonical->allow_nonref;

# A random float32, printed so that vector_in reads exactly that float32
sub rand_f32
{
	my $x = unpack('f', pack('f', rand() * 2 - 1));
	return sprintf('%.9g', $x);
}

sub f32_bits { return join(',', map { unpack('H8', pack('f', $_)) } @{ $_[0] }); }

# The fake's records of a table as { id => { values, metadata } }
sub remote_state
{
	my ($p) = @_;
	my %out;
	if ($p->{provider} eq 'pinecone')
	{
		my $recs = $pc->state->{indexes}{docs}{namespaces}{ $p->{ns} } // {};
		for my $id (keys %$recs)
		{
			$out{$id} = {
				values => $recs->{$id}{values},
				metadata => $recs->{$id}{metadata} // {}
			};
		}
	}
	else
	{
		my $rows = $mv->state->{collections}{ $p->{coll} }{partitions}{_default} // [];
		for my $r (@$rows)
		{
			my %m = %{ $r->{'$meta'} // {} };
			for my $k (keys %$r)
			{
				next if $k eq 'id' || $k eq 'vector' || $k eq '$meta';
				$m{$k} = $r->{$k} if defined $r->{$k};
			}
			# the dump shows Int64 fields as strings
			$m{year} += 0 if defined $m{year} && $m{year} =~ /^-?\d+$/;
			$out{ $r->{id} } = { values => $r->{vector}, metadata => \%m };
		}
	}
	return \%out;
}

# What the table says, read back through the FDW by id
sub table_state
{
	my ($p, @ids) = @_;
	my %out;
	return \%out unless @ids;
	my $list = join(',', map { "'$_'" } @ids);
	my $type = $p->{idtype};
	my $rows = $node->safe_psql('postgres',
		"SELECT id, embedding::text, metadata::text FROM $p->{table} "
		  . "WHERE id = ANY (ARRAY[$list]::${type}[])");
	for my $line (split /\n/, $rows)
	{
		my ($id, $vec, $meta) = split /\|/, $line, 3;
		$vec =~ s/[\[\]]//g;
		$out{$id} = { values => [ split /,/, $vec ], metadata => $json->decode($meta) };
	}
	return \%out;
}

# Compare an expected { id => { values, metadata } } with the fake's state
sub check_state
{
	my ($p, $want, $what) = @_;
	my $got = remote_state($p);
	is_deeply([ sort keys %$got ], [ sort keys %$want ], "$p->{name} $what: the same ids");
	my ($bad_v, $bad_m) = (0, 0);
	for my $id (keys %$want)
	{
		next unless $got->{$id};
		if (f32_bits($got->{$id}{values}) ne f32_bits($want->{$id}{values}))
		{
			$bad_v++;
			diag("$id values: got @{$got->{$id}{values}} want @{$want->{$id}{values}}") if $bad_v < 3;
		}
		if ($json->encode($got->{$id}{metadata}) ne $json->encode($want->{$id}{metadata}))
		{
			$bad_m++;
			diag("$id metadata: got " . $json->encode($got->{$id}{metadata})
				  . ' want ' . $json->encode($want->{$id}{metadata})) if $bad_m < 3;
		}
	}
	is($bad_v, 0, "$p->{name} $what: every vector equal as float32");
	is($bad_m, 0, "$p->{name} $what: every metadata object equal");
}

# The write requests in a fake's log: [ [upserted ids], [deleted ids], n upserts, n deletes ]
sub writes_logged
{
	my ($p) = @_;
	my (@up, @del, $nu, $nd);
	($nu, $nd) = (0, 0);
	if ($p->{provider} eq 'pinecone')
	{
		for my $r (@{ $pc->requests })
		{
			if ($r->{path} eq '/vectors/upsert')
			{
				$nu++;
				push @up, map { $_->{id} } @{ $r->{body}{vectors} };
			}
			elsif ($r->{path} eq '/vectors/delete')
			{
				$nd++;
				push @del, @{ $r->{body}{ids} // [] };
			}
		}
	}
	else
	{
		for my $r (@{ $mv->requests })
		{
			if ($r->{path} =~ m{entities/(upsert|insert)$})
			{
				$nu++;
				push @up, map { "$_->{id}" } @{ $r->{body}{data} };
			}
			elsif ($r->{path} =~ m{entities/delete$})
			{
				$nd++;
				my $f = $r->{body}{filter} // '';
				push @del, ($f =~ /(-?\d+)/g);
			}
		}
	}
	return ([ sort @up ], [ sort @del ], $nu, $nd);
}

sub reset_log { $_[0]->{provider} eq 'pinecone' ? $pc->reset_log : $mv->reset_log; }

my @providers = (
	{
		name => 'pinecone',
		provider => 'pinecone',
		table => 'pdocs',
		idtype => 'text',
		ns => 'ns1',
		fake => $pc,
		id => sub { "doc-$_[0]" }
	},
	{
		name => 'milvus',
		provider => 'milvus',
		table => 'mdocs',
		idtype => 'bigint',
		coll => 'docs',
		fake => $mv,
		id => sub { 9007199254740000 + $_[0] }
	});

for my $p (@providers)
{
	my $t = $p->{table};
	my $name = $p->{name};
	my %want;

	# --- INSERT with RETURNING: metadata object merged with field columns
	my @values;
	for my $i (1 .. 30)
	{
		my $id = $p->{id}->($i);
		my @v = map { rand_f32() } 1 .. $dim;
		my %meta = (title => "t $i", tags => [ "a$i", 'b' ]);
		my $genre = ('news', 'sports', 'tech')[ $i % 3 ];
		$meta{genre} = $genre;
		$meta{year} = 2000 + $i;
		my %jsonb = %meta;
		delete @jsonb{qw(genre year)};
		my $jtext = $json->encode(\%jsonb);
		push @values, sprintf("('%s', '[%s]', '%s', '%s', %d)",
			$id, join(',', @v), $jtext, $genre, 2000 + $i);
		$want{$id} = { values => \@v, metadata => \%meta };
	}
	reset_log($p);
	my $ret = $node->safe_psql('postgres',
		"INSERT INTO $t (id, embedding, metadata, genre, year) VALUES "
		  . join(',', @values) . ' RETURNING id, genre');
	is(scalar(split /\n/, $ret), 30, "$name: INSERT ... RETURNING returns the rows written");
	like($ret, qr/^\Q@{[$p->{id}->(1)]}\E\|sports$/m, "$name: RETURNING shows the row as written");
	check_state($p, \%want, 'INSERT');
	my ($up, $del, $nu, $nd) = writes_logged($p);
	is($nu, 1, "$name: 30 rows in one upsert request at commit");

	# read back through the FDW: the table shows what the remote holds
	my $back = table_state($p, map { $p->{id}->($_) } 1 .. 3);
	is(f32_bits($back->{ $p->{id}->(2) }{values}), f32_bits($want{ $p->{id}->(2) }{values}),
		"$name: the vector reads back float32-exact");

	# --- INSERT ... SELECT of 3,000 rows: chunks of write_batch_size
	reset_log($p);
	my $base = $p->{provider} eq 'pinecone' ? "'bulk-' || g" : '1000000 + g';
	$node->safe_psql('postgres',
		"INSERT INTO $t (id, embedding, genre) SELECT $base, "
		  . "('[' || g || ',1,0,' || (g % 7) || ']')::vector, 'bulk' FROM generate_series(1, 3000) g");
	($up, $del, $nu, $nd) = writes_logged($p);
	is($nu, 30, "$name: INSERT ... SELECT of 3000 rows sent as 30 upserts of 100");
	is(scalar(@$up), 3000, "$name: every bulk row sent once");
	for my $g (1 .. 3000)
	{
		my $id = $p->{provider} eq 'pinecone' ? "bulk-$g" : 1000000 + $g;
		$want{$id} = { values => [ $g, 1, 0, $g % 7 ], metadata => { genre => 'bulk' } };
	}
	check_state($p, \%want, 'INSERT ... SELECT');

	# the bulk rows go again, by id, in one DELETE (one fetch, chunked deletes)
	reset_log($p);
	my $ids_sql = $p->{provider} eq 'pinecone'
	  ? "ARRAY(SELECT 'bulk-' || g FROM generate_series(1, 3000) g)"
	  : "ARRAY(SELECT 1000000 + g FROM generate_series(1, 3000) g)";
	is($node->safe_psql('postgres', "WITH d AS (DELETE FROM $t WHERE id = ANY ($ids_sql) RETURNING 1) SELECT count(*) FROM d"),
		'3000', "$name: DELETE by 3000 ids deletes 3000 rows");
	($up, $del, $nu, $nd) = writes_logged($p);
	is($nd, 30, "$name: 3000 deletes in 30 requests");
	delete $want{$_} for grep { /bulk|^1\d{6}$/ } keys %want;
	check_state($p, \%want, 'DELETE by ids');

	# --- COPY into the foreign table
	my $dir = PostgreSQL::Test::Utils::tempdir;
	my $file = "$dir/copy_$name.txt";
	open(my $fh, '>', $file) or die;
	for my $i (101 .. 105)
	{
		my @v = map { rand_f32() } 1 .. $dim;
		print $fh join("\t", $p->{id}->($i), '[' . join(',', @v) . ']', 'copied'), "\n";
		$want{ $p->{id}->($i) } = { values => \@v, metadata => { genre => 'copied' } };
	}
	close $fh;
	chmod 0644, $file;
	$node->safe_psql('postgres', "COPY $t (id, embedding, genre) FROM '$file'");
	check_state($p, \%want, 'COPY');

	# --- UPDATE: a field column, the metadata object, the vector
	my ($a, $b, $c) = map { $p->{id}->($_) } (4, 5, 6);
	$ret = $node->safe_psql('postgres',
		"UPDATE $t SET genre = 'changed', year = NULL WHERE id IN ('$a', '$b') RETURNING id, genre, year");
	is(join(' ', sort split /\n/, $ret), "$a|changed| $b|changed|",
		"$name: UPDATE ... RETURNING shows the new rows");
	for my $id ($a, $b)
	{
		$want{$id}{metadata}{genre} = 'changed';
		delete $want{$id}{metadata}{year};
	}
	$node->safe_psql('postgres', "UPDATE $t SET metadata = '{\"only\": 1}' WHERE id = '$c'");
	$want{$c}{metadata} = { only => 1 };
	my $d = $p->{id}->(7);
	$node->safe_psql('postgres', "UPDATE $t SET embedding = '[0.5,0.25,-1,2]' WHERE id = '$d'");
	$want{$d}{values} = [ 0.5, 0.25, -1, 2 ];
	check_state($p, \%want, 'UPDATE');

	# --- DELETE ... RETURNING: the rows as they were
	my ($e, $f) = map { $p->{id}->($_) } (8, 9);
	$ret = $node->safe_psql('postgres',
		"DELETE FROM $t WHERE id IN ('$e', '$f', '$e') RETURNING id, genre, metadata->>'title'");
	is(join(' ', sort split /\n/, $ret), "$e|tech|t 8 $f|news|t 9",
		"$name: DELETE ... RETURNING shows the deleted rows");
	delete @want{ $e, $f };
	check_state($p, \%want, 'DELETE');

	# --- ROLLBACK sends no write
	reset_log($p);
	my $g = $p->{id}->(10);
	my ($x500, $x400, $x401, $x402) = map { $p->{id}->($_) } (500, 400, 401, 402);
	$node->safe_psql('postgres', qq{
		BEGIN;
		INSERT INTO $t (id, embedding) VALUES ('$x500', '[1,1,1,1]');
		UPDATE $t SET genre = 'never' WHERE id = '$g';
		DELETE FROM $t WHERE id = '$a';
		ROLLBACK;
	});
	($up, $del, $nu, $nd) = writes_logged($p);
	is($nu + $nd, 0, "$name: ROLLBACK sends no write (request log)");
	check_state($p, \%want, 'ROLLBACK');

	# --- savepoints: ROLLBACK TO drops exactly its part, RELEASE keeps it
	my @s = map { $p->{id}->($_) } (201 .. 205);
	$node->safe_psql('postgres', qq{
		BEGIN;
		INSERT INTO $t (id, embedding, genre) VALUES ('$s[0]', '[1,0,0,0]', 's');
		SAVEPOINT a;
		INSERT INTO $t (id, embedding, genre) VALUES ('$s[1]', '[0,1,0,0]', 's');
		ROLLBACK TO SAVEPOINT a;
		INSERT INTO $t (id, embedding, genre) VALUES ('$s[2]', '[0,0,1,0]', 's');
		SAVEPOINT b;
		INSERT INTO $t (id, embedding, genre) VALUES ('$s[3]', '[0,0,0,1]', 's');
		SAVEPOINT c;
		INSERT INTO $t (id, embedding, genre) VALUES ('$s[4]', '[1,1,0,0]', 's');
		DELETE FROM $t WHERE id = '$s[2]';
		RELEASE SAVEPOINT c;
		RELEASE SAVEPOINT b;
		SAVEPOINT d;
		DELETE FROM $t WHERE id IN ('$s[3]', '$s[4]');
		ROLLBACK TO SAVEPOINT d;
		COMMIT;
	});
	$want{ $s[0] } = { values => [ 1, 0, 0, 0 ], metadata => { genre => 's' } };
	$want{ $s[3] } = { values => [ 0, 0, 0, 1 ], metadata => { genre => 's' } };
	$want{ $s[4] } = { values => [ 1, 1, 0, 0 ], metadata => { genre => 's' } };
	check_state($p, \%want, 'savepoints');

	# --- coalescing and reading one's own writes by id
	my ($z1, $z2) = map { $p->{id}->($_) } (301, 302);
	reset_log($p);
	$ret = $node->safe_psql('postgres', qq{
		BEGIN;
		INSERT INTO $t (id, embedding) VALUES ('$z1', '[1,2,3,4]');
		DELETE FROM $t WHERE id = '$z1';
		INSERT INTO $t (id, embedding, genre) VALUES ('$z2', '[1,2,3,4]', 'first');
		INSERT INTO $t (id, embedding, genre) VALUES ('$z2', '[4,3,2,1]', 'second');
		UPDATE $t SET year = 7 WHERE id = '$z2';
		SELECT id, genre, year, embedding FROM $t WHERE id IN ('$z1', '$z2');
		COMMIT;
	});
	is($ret, "$z2|second|7|[4,3,2,1]", "$name: a fetch by id sees the transaction's own writes");
	($up, $del, $nu, $nd) = writes_logged($p);
	is_deeply($up, ["$z2"], "$name: repeated writes of one id are one upsert");
	is_deeply($del, ["$z1"], "$name: insert then delete of one id is one delete");
	$want{$z2} = { values => [ 4, 3, 2, 1 ], metadata => { genre => 'second', year => 7 } };
	check_state($p, \%want, 'coalescing');

	# --- a remote failure at commit aborts the transaction
	my ($upath) = $p->{provider} eq 'pinecone' ? ('/vectors/upsert') : ('entities/upsert');
	$p->{fake}->fault(mode => 'status', status => 400, path => $upath,
		message => 'the remote refuses this batch');
	my ($rc, $out, $err) = $node->psql('postgres', qq{
		\\set VERBOSITY verbose
		BEGIN;
		INSERT INTO local_t VALUES (1);
		INSERT INTO $t (id, embedding) VALUES ('$x400', '[1,2,3,4]');
		COMMIT;
	});
	$p->{fake}->clear_faults;
	like($err, qr/ERROR:  HV00L: could not send the writes of this transaction to foreign table "$t"/,
		"$name: a 400 at commit is an error naming the table");
	like($err, qr/DETAIL:  .*the remote refuses this batch/, "$name: the remote's reason in DETAIL");
	like($err, qr/HINT:  The transaction was rolled back/, "$name: the hint says nothing was committed");
	is($node->safe_psql('postgres', 'SELECT count(*) FROM local_t'), '0',
		"$name: the local write of the failed transaction is not committed");
	unlike($err, qr/\Q$pc_key\E|MilvusSecret48/, "$name: no secret in the error");

	$p->{fake}->fault(mode => 'status', status => 503, path => $upath);
	($rc, $out, $err) = $node->psql('postgres', qq{
		\\set VERBOSITY verbose
		BEGIN;
		INSERT INTO local_t VALUES (2);
		INSERT INTO $t (id, embedding) VALUES ('$x401', '[1,2,3,4]');
		COMMIT;
	});
	$p->{fake}->clear_faults;
	like($err, qr/ERROR:  HV0\w\w: could not send the writes of this transaction/,
		"$name: a 503 storm beyond the retries aborts the commit");
	like($err, qr/503/, "$name: the 503 in the detail");
	is($node->safe_psql('postgres', 'SELECT count(*) FROM local_t'), '0',
		"$name: the local write is not committed either");
	check_state($p, \%want, 'failed commits');

	# --- the buffer limit: an error, nothing sent
	reset_log($p);
	($rc, $out, $err) = $node->psql('postgres', qq{
		SET vectorpg.fdw_write_buffer_limit = '1MB';
		BEGIN;
		INSERT INTO $t (id, embedding) SELECT $base, '[1,2,3,4]' FROM generate_series(1, 100000) g;
		COMMIT;
	});
	like($err, qr/exceed vectorpg.fdw_write_buffer_limit \(1024 kB\)/, "$name: the buffer limit is an error");
	($up, $del, $nu, $nd) = writes_logged($p);
	is($nu + $nd, 0, "$name: nothing sent after the buffer limit error");

	# --- PREPARE TRANSACTION is refused
	($rc, $out, $err) = $node->psql('postgres', qq{
		BEGIN;
		INSERT INTO $t (id, embedding) VALUES ('$x402', '[1,2,3,4]');
		PREPARE TRANSACTION 'p48';
	});
	like($err, qr/cannot prepare a transaction that wrote to a vectorpg_fdw foreign table/,
		"$name: PREPARE TRANSACTION refused");
	is($node->safe_psql('postgres', 'SELECT count(*) FROM pg_prepared_xacts'), '0',
		"$name: nothing prepared");
	check_state($p, \%want, 'PREPARE');
}

# --- the batch API on remote collections --------------------------------------

my @collections = (
	{ name => 'pinecone', provider => 'pinecone', table => 'pbatch', ns => 'batch', fake => $pc,
	  ids => [ 'a', 'b', 'c', 'd' ] },
	{ name => 'milvus', provider => 'milvus', table => 'mbatch', coll => 'batch', fake => $mv,
	  ids => [ '11', '12', '13', '14' ] });
for my $p (@collections)
{
	my $name = $p->{name};
	my $col = "c_$name";
	my ($a, $b, $c, $d) = @{ $p->{ids} };
	$node->safe_psql('postgres', "SELECT vectorpg.register_collection('$col', '$p->{table}')");
	is($node->safe_psql('postgres',
		"SELECT kind, dimension, metric FROM vectorpg.list_collections() WHERE name = '$col'"),
		'remote|4|cosine', "$name: a foreign table registers as a remote collection");

	my $r = $node->safe_psql('postgres', qq{
		SELECT inserted, updated, failed, status FROM vectorpg.upsert('$col',
			ARRAY['$a', '$b', '$c'], ARRAY['[1,0,0,0]', '[0,1,0,0]', '[0,0,1,0]']::vector[],
			ARRAY['{"genre": "x", "n": 1}', '{"genre": "y"}', NULL]::jsonb[])});
	is($r, '3|0|0|success', "$name: upsert inserts three items");
	$r = $node->safe_psql('postgres', qq{
		SELECT inserted, updated, failed, status FROM vectorpg.upsert('$col',
			'[{"id": "$c", "values": [0, 0, 1, 1], "metadata": {"genre": "x"}},
			  {"id": "$d", "values": [0, 0, 0, 1]}]'::jsonb)});
	is($r, '1|1|0|success', "$name: upsert tells the new item from the existing one");

	my ($rc, $out, $err) = $node->psql('postgres', qq{
		SELECT * FROM vectorpg.upsert('$col', ARRAY['zz'], ARRAY['[1,2]']::vector[])});
	like($err, qr/item 1 \(id "zz"\): expected 4 dimensions, not 2/, "$name: atomic upsert with a bad item fails");
	$r = $node->safe_psql('postgres', qq{
		SELECT inserted, failed, status, errors->0->>'code' FROM vectorpg.upsert('$col',
			'[{"id": "$d", "values": [1, 1, 1, 1]}, {"id": "99", "values": [1, 2]}]'::jsonb, atomic => false)});
	is($r, '0|1|partial|22000', "$name: non-atomic upsert reports the bad item and applies the other");

	$r = $node->safe_psql('postgres', qq{
		SELECT updated, failed, errors->0->>'code' FROM vectorpg.update('$col', ARRAY['$a', '77'],
			metadata => ARRAY['{"n": null, "rating": 5}', '{}']::jsonb[], atomic => false)});
	is($r, '1|1|P0002', "$name: update merges metadata and reports a missing id");

	my $state = remote_state($p);
	is($json->encode($state->{$a}{metadata}), '{"genre":"x","rating":5}', "$name: merged metadata on the remote");
	is(f32_bits($state->{$a}{values}), f32_bits([ 1, 0, 0, 0 ]), "$name: update kept the vector");
	is(f32_bits($state->{$d}{values}), f32_bits([ 1, 1, 1, 1 ]), "$name: the non-atomic upsert applied");

	$r = $node->safe_psql('postgres', qq{
		SELECT string_agg(query || ':' || rank || ':' || id || ':' || has_more, ' ' ORDER BY query, rank)
		FROM vectorpg.search('$col', ARRAY['[1,0,0,0]', '[0,1,0,0]']::vector[], k => 1)});
	is($r, "1:1:$a:true 2:1:$b:true", "$name: search finds each query's nearest item");
	$r = $node->safe_psql('postgres', qq{
		SELECT string_agg(id, ',' ORDER BY rank)
		FROM vectorpg.search('$col', ARRAY['[0,0,1,1]']::vector[], k => 5, filter => '{"genre": "x"}')});
	is($r, "$c,$a", "$name: search with a filter sends it to the remote");
	$r = $node->safe_psql('postgres', qq{
		SELECT string_agg(id, ',' ORDER BY rank) FROM vectorpg.search_by_id('$col', ARRAY['$b'], k => 1)});
	is($r, $b, "$name: search_by_id finds the item itself");
	$r = $node->safe_psql('postgres', qq{
		SELECT string_agg(id || '=' || vector::text, ' ' ORDER BY id) FROM vectorpg.fetch('$col', ARRAY['$b', '98765'])});
	is($r, "$b=[0,1,0,0]", "$name: fetch returns the stored items");

	# An item the remote's rules refuse fails inside the statement, so a
	# non-atomic batch redoes the items one by one, each with its own
	# slices of the arrays; arrays that start at 0 keep their positions in
	# the error rows, and so do update's missing ids and delete's bad ids
	my ($n1, $n2, $n3) = $p->{provider} eq 'milvus' ? ('21', '22', '23') : ('r1', 'r2', 'r3');
	my ($vbad, $mbad, $cbad) = $p->{provider} eq 'milvus'
	  ? ('[1,1,0,0]', '{"$meta": 1}', '22023') : ('[0,0,0,0]', '{}', '22000');
	$r = $node->safe_psql('postgres', qq{
		SELECT inserted, failed, status, e->>'position', e->>'id', e->>'code'
		FROM vectorpg.upsert('$col', '[0:2]={$n1,$n2,$n3}'::text[],
			'[0:2]={"[1,0,0,1]","$vbad","[0,1,0,1]"}'::vector[],
			ARRAY['{"k": 1}', '$mbad', '{"k": 3}']::jsonb[], atomic => false) u,
		jsonb_array_elements(u.errors) e});
	is($r, "2|1|partial|2|$n2|$cbad", "$name: a non-atomic upsert retries item by item and reports the refused one");
	is_deeply([ grep { $_ eq $n1 || $_ eq $n2 || $_ eq $n3 } sort keys %{ remote_state($p) } ], [ $n1, $n3 ],
		"$name: the items around the refused one reached the remote");
	$r = $node->safe_psql('postgres', qq{
		SELECT updated, failed, e->>'position', e->>'id', e->>'message'
		FROM vectorpg.update('$col', '[0:1]={$n1,77}'::text[],
			metadata => '[0:1]={"{\\"k\\": 5}",NULL}'::jsonb[], atomic => false) u,
		jsonb_array_elements(u.errors) e});
	is($r, "1|1|2|77|item has no vector, metadata or text to update",
		"$name: update's error rows keep the positions of arrays that start at 0");
	$r = $node->safe_psql('postgres', qq{
		SELECT updated, failed, e->>'position', e->>'id', e->>'message'
		FROM vectorpg.update('$col', '[0:1]={$n1,77}'::text[],
			metadata => '[0:1]={"{\\"k\\": 5}","{}"}'::jsonb[], atomic => false) u,
		jsonb_array_elements(u.errors) e});
	is($r, '1|1|2|77|no item with id "77"', "$name: a missing id of an array from 0 is reported by position and id");
	is($json->encode(remote_state($p)->{$n1}{metadata}), '{"k":5}', "$name: the update merged the metadata");
	my $idbad = $p->{provider} eq 'milvus' ? 'x' : 'NULL';
	$r = $node->safe_psql('postgres', qq{
		SELECT deleted, failed, e->>'position', coalesce(e->>'id', 'null')
		FROM vectorpg.delete('$col', '[0:2]={$n1,$idbad,$n3}'::text[], atomic => false) u,
		jsonb_array_elements(u.errors) e});
	is($r, "2|1|2|" . ($p->{provider} eq 'milvus' ? 'x' : 'null'),
		"$name: delete's error rows keep the positions of arrays that start at 0");
	is_deeply([ grep { $_ eq $n1 || $_ eq $n3 } keys %{ remote_state($p) } ], [], "$name: the delete reached the remote");

	# A query the remote fails (a 400, twice: the batch and then the query
	# alone) is reported in its row; the other query answers
	my $qpath = $p->{provider} eq 'milvus' ? 'entities/search' : '/query';
	$p->{fake}->fault(mode => 'status', status => 400, path => $qpath, count => 2);
	$r = $node->safe_psql('postgres', qq{
		SELECT string_agg(query || ':' || coalesce(id, error->>'code'), ' ' ORDER BY query, rank)
		FROM vectorpg.search('$col', '[0:1]={"[1,0,0,0]","[0,1,0,0]"}'::vector[], k => 1, atomic => false)});
	$p->{fake}->clear_faults;
	is($r, "1:HV00L 2:$b", "$name: a non-atomic search retries query by query and reports the failed one");

	# The same functions on a local collection holding the same records
	# must answer the same: ids, ranks, distances and scores (rounded to
	# float precision: the remote computes in float32), metadata
	my $loc = "l_$name";
	$node->safe_psql('postgres', qq{
		SELECT vectorpg.create_collection('$loc', 4, 'cosine',
			id_type => '@{[ $p->{provider} eq 'milvus' ? 'bigint' : 'text' ]}', with_index => false);
		INSERT INTO $loc (id, embedding, metadata)
		SELECT f.id::@{[ $p->{provider} eq 'milvus' ? 'bigint' : 'text' ]}, f.vector, coalesce(f.metadata, '{}')
		FROM vectorpg.fetch('$col', ARRAY['$a', '$b', '$c', '$d']) f});
	is($node->safe_psql('postgres', "SELECT count(*) FROM $loc"), '4', "$name: local twin holds the four records");
	my $same = sub {
		my ($what, $sql) = @_;
		(my $lsql = $sql) =~ s/\bCOLL\b/'$loc'/g;
		(my $rsql = $sql) =~ s/\bCOLL\b/'$col'/g;
		my $want = $node->safe_psql('postgres', $lsql);
		my $got = $node->safe_psql('postgres', $rsql);
		isnt($want, '', "$name: $what has rows locally");
		is($got, $want, "$name: $what on the remote collection answers as locally");
	};
	my $hit = q{rank || ':' || id || ':' || round(score::numeric, 5) || ':' || round(distance::numeric, 5)};
	$same->('search with offset and thresholds', qq{
		SELECT string_agg(query || ':' || $hit || ':' || has_more || ':' || metadata::text, ' ' ORDER BY query, rank)
		FROM vectorpg.search(COLL, ARRAY['[1,0,0,0]', '[0,1,1,0]']::vector[], k => 2, page_offset => 1,
			max_distance => 0.9)});
	$same->('multi_search (rrf)', qq{
		SELECT string_agg($hit || ':' || hits || ':' || metadata::text, ' ' ORDER BY rank)
		FROM vectorpg.multi_search(COLL, ARRAY['[1,0,0,0]', '[0,1,0,0]', '[0,0,1,0]']::vector[], k => 3)});
	$same->('multi_search (max_score, filter, candidates)', qq{
		SELECT string_agg($hit || ':' || hits || ':' || metadata::text, ' ' ORDER BY rank)
		FROM vectorpg.multi_search(COLL, ARRAY['[1,0,0,0]', '[0,0,1,0]']::vector[], k => 4,
			filter => '{"genre": "x"}', candidates => 2, fusion => 'max_score')});
	$same->('multi_search (rerank_vector, include_vectors)', qq{
		SELECT string_agg($hit || ':' || hits || ':' || vector::text, ' ' ORDER BY rank)
		FROM vectorpg.multi_search(COLL, ARRAY['[1,0,0,0]', '[0,1,0,0]']::vector[], k => 3,
			rerank_vector => '[1,1,0,0]', include_vectors => true)});
	$same->('describe_collection (shape and count)', qq{
		SELECT id_column, vector_column, metadata_column, text_column, dimension, metric, vector_count
		FROM vectorpg.describe_collection(COLL)});
	is($node->safe_psql('postgres', qq{
		SELECT kind, relation::text, table_size IS NULL, vector_index IS NULL, index_size IS NULL,
			   last_vacuum IS NULL, last_analyze IS NULL, dead_rows IS NULL
		FROM vectorpg.describe_collection('$col')}),
		"remote|$p->{table}|t|t|t|t|t|t", "$name: describe_collection: the local-only fields are null");
	is($node->safe_psql('postgres', qq{
		SELECT string_agg(check_name || ':' || status || ':' || detail, ' ' ORDER BY check_name)
		FROM vectorpg.collection_health('$col')}),
		"columns:ok:4 dimensions, metric cosine. remote:ok:The remote answers: 4 records. "
		. "table:ok:Foreign table public.$p->{table}.", "$name: collection_health checks the table and the remote");
	($rc, $out, $err) = $node->psql('postgres', qq{
		SELECT * FROM vectorpg.hybrid_search('$col', '[1,0,0,0]', 'news')}, extra_params => [ '-v', 'VERBOSITY=verbose' ]);
	like($err, qr/HV00L: hybrid_search on remote collection "$col" would read the whole remote index/,
		"$name: hybrid_search without allow_full_scan refuses with HV00L");
	like($err, qr/HINT:  Set the option allow_full_scan of foreign table (public\.)?$p->{table} to true/, "$name: ... and a hint");

	# With allow_full_scan, hybrid_search answers as on a local collection
	# holding the same records and the same text column
	my $ft = "$p->{table}_text";
	my $id_type = $p->{provider} eq 'milvus' ? 'bigint' : 'text';
	my $where = $p->{provider} eq 'milvus' ? "collection 'batch'" : "index 'docs', namespace 'batch'";
	$node->safe_psql('postgres', qq{
		CREATE FOREIGN TABLE $ft (id $id_type, embedding vector(4), metadata jsonb, genre text)
			SERVER @{[ $p->{provider} eq 'milvus' ? 'mv' : 'pc' ]}
			OPTIONS ($where, metric 'cosine', allow_full_scan 'true');
		SELECT vectorpg.register_collection('t_$name', '$ft', text_column => 'genre');
		CREATE TABLE lt_$name AS SELECT id, embedding, metadata, metadata ->> 'genre' AS genre FROM $loc;
		ALTER TABLE lt_$name ADD PRIMARY KEY (id);
		SELECT vectorpg.register_collection('lt_$name', 'lt_$name', text_column => 'genre')});
	my $hyb = q{rank || ':' || id || ':' || round(score::numeric, 5) || ':' || coalesce(vector_rank, 0) || ':'
		|| coalesce(text_rank, 0) || ':' || coalesce(round(distance::numeric, 5), -1) || ':'
		|| coalesce(round(text_score::numeric, 5), -1) || ':' || coalesce(metadata::text, '')};
	for my $case ([ 'rrf', "'[0,0,1,1]', 'x', k => 4" ],
				  [ 'weighted, filter', "'[1,0,0,0]', 'x', k => 3, fusion => 'weighted', filter => '{\"genre\": \"x\"}'" ])
	{
		my $want = $node->safe_psql('postgres',
			"SELECT string_agg($hyb, ' ' ORDER BY rank) FROM vectorpg.hybrid_search('lt_$name', $case->[1])");
		my $got = $node->safe_psql('postgres',
			"SELECT string_agg($hyb, ' ' ORDER BY rank) FROM vectorpg.hybrid_search('t_$name', $case->[1])");
		like($want, qr/:2:/, "$name: hybrid_search ($case->[0]) has text hits locally");
		is($got, $want, "$name: hybrid_search ($case->[0]) on a remote collection with allow_full_scan answers as locally");
	}
	$node->safe_psql('postgres', qq{
		SELECT vectorpg.drop_collection('t_$name'); SELECT vectorpg.drop_collection('lt_$name');
		DROP FOREIGN TABLE $ft; DROP TABLE IF EXISTS lt_$name;
		SELECT vectorpg.drop_collection('$loc')});

	$r = $node->safe_psql('postgres', qq{
		SELECT deleted, status FROM vectorpg.delete('$col', ARRAY['$b', '$d', '55'])});
	is($r, '2|success', "$name: delete counts the items that existed");
	is_deeply([ sort keys %{ remote_state($p) } ], [ sort($a, $c) ], "$name: the remote holds what the batch calls left");
}

# --- sparse values through the FDW (Pinecone dotproduct indexes) -------------

$pc->create_index(name => 'hyb', dimension => $dim, metric => 'dotproduct');
$node->safe_psql('postgres', qq{
	CREATE FOREIGN TABLE phyb (id text, embedding vector($dim), metadata jsonb, sparse_values jsonb)
		SERVER pc OPTIONS (index 'hyb', metric 'dotproduct');
	CREATE FOREIGN TABLE pcos_sparse (id text, embedding vector($dim), sparse_values jsonb)
		SERVER pc OPTIONS (index 'docs', namespace 'sp', metric 'cosine');
	CREATE FOREIGN TABLE mdocs_sparse (id bigint, embedding vector($dim), sparse_values jsonb)
		SERVER mv OPTIONS (collection 'docs', metric 'cosine');
	CREATE SCHEMA imp;
	IMPORT FOREIGN SCHEMA remote LIMIT TO (hyb, docs) FROM SERVER pc INTO imp;
});
sub hyb_record { return $pc->state->{indexes}{hyb}{namespaces}{''}{ $_[0] }; }

my $r = $node->safe_psql('postgres', q{
	INSERT INTO phyb VALUES ('s1', '[1,2,3,4]', '{"k":"a"}', '{"indices":[10,3],"values":[0.5,0.25]}'),
		('s2', '[4,3,2,1]', NULL, NULL)
		RETURNING id, sparse_values});
is($r, qq{s1|{"values": [0.5, 0.25], "indices": [10, 3]}\ns2|}, 'sparse INSERT: RETURNING shows the sparse values');
is_deeply(hyb_record('s1')->{sparseValues}, { indices => [ 10, 3 ], values => [ 0.5, 0.25 ] },
	'sparse INSERT: the remote holds the sparse values as written');
ok(!exists hyb_record('s2')->{sparseValues}, 'sparse INSERT: NULL sparse values write a dense-only record');

$r = $node->safe_psql('postgres', q{
	BEGIN;
	INSERT INTO phyb VALUES ('s3', '[1,1,1,1]', NULL, '{"indices":[7],"values":[2]}');
	SELECT sparse_values->'indices' FROM phyb WHERE id = 's3';
	COMMIT;});
is($r, '[7]', 'sparse: a fetch in the transaction sees its own sparse values');

$node->safe_psql('postgres', q{UPDATE phyb SET metadata = '{"k":"b"}' WHERE id = 's1'});
is_deeply([ hyb_record('s1')->{sparseValues}, hyb_record('s1')->{metadata} ],
	[ { indices => [ 10, 3 ], values => [ 0.5, 0.25 ] }, { k => 'b' } ],
	'sparse UPDATE of the metadata keeps the sparse values');
$node->safe_psql('postgres', q{UPDATE phyb SET sparse_values = '{"indices":[1,2],"values":[3,4]}' WHERE id = 's2'});
is_deeply(hyb_record('s2')->{sparseValues}, { indices => [ 1, 2 ], values => [ 3, 4 ] },
	'sparse UPDATE sets sparse values');
$node->safe_psql('postgres', q{UPDATE phyb SET sparse_values = NULL WHERE id = 's1'});
ok(!exists hyb_record('s1')->{sparseValues}, 'sparse UPDATE to NULL removes the sparse values');

$pc->reset_log;
$mv->reset_log;
my ($ret, $out, $err) = $node->psql('postgres',
	q{INSERT INTO phyb VALUES ('bad', '[1,2,3,4]', NULL, '{"indices":[1,1],"values":[1,2]}')});
like($err, qr/ERROR:  cannot write record "bad" to foreign table "phyb": sparse index 1 appears more than once in record "bad"/,
	'sparse INSERT: duplicate indices refused at the statement');
($ret, $out, $err) = $node->psql('postgres',
	q{INSERT INTO pcos_sparse VALUES ('c', '[1,2,3,4]', '{"indices":[1],"values":[1]}')});
like($err, qr/ERROR:  cannot write record "c" to foreign table "pcos_sparse": record "c" has sparse values, but Pinecone index "docs" does not use the dotproduct metric/,
	'sparse INSERT into a cosine index refused');
($ret, $out, $err) = $node->psql('postgres',
	q{INSERT INTO mdocs_sparse VALUES (5, '[1,2,3,4]', '{"indices":[1],"values":[1]}')});
like($err, qr/ERROR:  cannot write record "5" to foreign table "mdocs_sparse": record "5" has sparse values, but Milvus collection "docs" has no sparse vector field/,
	'sparse INSERT into a Milvus collection without a sparse field refused');
is(scalar(grep { $_->{path} =~ /upsert/ } @{ $pc->requests }, @{ $mv->requests }), 0,
	'sparse refusals: nothing was sent');
$node->safe_psql('postgres', q{INSERT INTO mdocs_sparse VALUES (5, '[1,2,3,4]', NULL)});
is($node->safe_psql('postgres', q{SELECT id, sparse_values IS NULL FROM mdocs_sparse WHERE id = 5}),
	'5|t', 'Milvus: NULL sparse values are written, and read back as NULL');
$node->safe_psql('postgres', q{DELETE FROM mdocs_sparse WHERE id = 5});

is($node->safe_psql('postgres', q{
	SELECT string_agg(c.relname || '.' || a.attname, ',' ORDER BY c.relname)
	FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
	WHERE c.relnamespace = 'imp'::regnamespace AND a.attname = 'sparse_values'}),
	'hyb.sparse_values', 'IMPORT FOREIGN SCHEMA gives dotproduct indexes (only) a sparse_values column');
is($node->safe_psql('postgres', q{SELECT sparse_values->'indices' FROM imp.hyb WHERE id = 's2'}),
	'[1, 2]', 'the imported table reads sparse values');

# Milvus: a collection with a SparseFloatVector field
$mv->create_collection(name => 'mhyb', dimension => $dim, metric => 'IP', primary => 'pk',
	vector_field => 'dense', sparse_field => 'sp');
$node->safe_psql('postgres', q{
	CREATE SCHEMA mimp;
	IMPORT FOREIGN SCHEMA db LIMIT TO (mhyb, docs) FROM SERVER mv INTO mimp;
});
is($node->safe_psql('postgres', q{
	SELECT string_agg(c.relname, ',' ORDER BY c.relname)
	FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
	WHERE c.relnamespace = 'mimp'::regnamespace AND a.attname = 'sparse_values'}),
	'mhyb', 'IMPORT FOREIGN SCHEMA gives a Milvus collection with a sparse field (only) a sparse_values column');
sub mhyb_row { my ($pk) = @_; return (grep { $_->{pk} eq $pk } @{ $mv->state->{collections}{mhyb}{partitions}{_default} // [] })[0]; }
$r = $node->safe_psql('postgres', q{
	INSERT INTO mimp.mhyb (id, embedding, metadata, sparse_values)
	VALUES (1, '[1,2,3,4]', '{"k":"a"}', '{"indices":[10,3],"values":[0.5,0.25]}')
	RETURNING id, sparse_values});
is($r, qq{1|{"values": [0.5, 0.25], "indices": [10, 3]}}, 'milvus sparse INSERT: RETURNING shows the sparse values');
is_deeply(mhyb_row(1)->{sp}, { 10 => 0.5, 3 => 0.25 }, 'milvus sparse INSERT: the field holds them keyed by index');
$node->safe_psql('postgres', q{UPDATE mimp.mhyb SET metadata = '{"k":"b"}' WHERE id = 1});
is_deeply([ mhyb_row(1)->{sp}, mhyb_row(1)->{'$meta'}{k} ], [ { 10 => 0.5, 3 => 0.25 }, 'b' ],
	'milvus sparse: an UPDATE of the metadata keeps the sparse values');
$node->safe_psql('postgres', q{UPDATE mimp.mhyb SET sparse_values = '{"indices":[7],"values":[2]}' WHERE id = 1});
is_deeply(mhyb_row(1)->{sp}, { 7 => 2 }, 'milvus sparse UPDATE sets new sparse values');
is($node->safe_psql('postgres', q{SELECT sparse_values->'indices', metadata FROM mimp.mhyb WHERE id = 1}),
	'[7]|{"k": "b"}', 'milvus sparse: read back by id, and not part of the metadata');
($ret, $out, $err) = $node->psql('postgres', q{UPDATE mimp.mhyb SET sparse_values = NULL WHERE id = 1});
like($err, qr/ERROR:  cannot write record "1" to foreign table "mhyb": record "1" has no sparse values for Milvus field "sp"/,
	'milvus sparse: NULL is refused where the sparse field is required');

# --- no secret in the server log ---------------------------------------------
my $log = slurp_file($node->logfile);
unlike($log, qr/\Q$pc_key\E/, 'no Pinecone key in the server log');
unlike($log, qr/MilvusSecret48/, 'no Milvus token in the server log');

$node->stop;
done_testing();
