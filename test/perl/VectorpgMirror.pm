# VectorpgMirror.pm: what the mirror tests (test/t/06x_mirror*.pl) share:
# reading a mirrored table and a fake's state into one shape, comparing
# them float32-exactly, and waiting until a mirror has caught up.
#
#   my $local = VectorpgMirror::local_state($node, 'docs', metadata => [qw(genre year)]);
#   my $remote = VectorpgMirror::pinecone_state($pc, 'docs', 'ns');
#   my @diff = VectorpgMirror::diff($local, $remote);
#   ok(VectorpgMirror::wait_synced($node, 'docs', sub { ... remote ... }, %opt), '...');
#
# Shape: { id => { values => [float32 bit patterns as hex], metadata => canonical JSON } }.
# Values are compared as float32 bit patterns, so "equal" means what the
# remote stores is exactly the local vector.  Metadata is compared as
# canonical JSON with null members dropped and numbers normalised
# (5 and 5.0 are one number, as in Pinecone and jsonb).

package VectorpgMirror;

use strict;
use warnings;

use B;
use JSON::PP;
use Time::HiRes qw(usleep time);

my $json = JSON::PP->new->utf8->canonical->allow_nonref;

# float32 bit pattern of a number, as hex
sub _f32 { return unpack('H8', pack('f<', $_[0] + 0)); }

# Metadata in comparable form: nulls dropped, numbers normalised
sub _norm
{
	my ($v) = @_;
	if (ref $v eq 'HASH')
	{
		return { map { ($_ => _norm($v->{$_})) } grep { defined $v->{$_} } keys %$v };
	}
	return [ map { _norm($_) } @$v ] if ref $v eq 'ARRAY';
	return $v if JSON::PP::is_bool($v) || !defined $v;
	return _is_number($v) ? 0 + sprintf('%.15g', $v) : "$v";
}

# Did JSON::PP decode this scalar from a JSON number?
sub _is_number
{
	my ($v) = @_;
	my $b = B::svref_2object(\$v);
	return ($b->FLAGS & (B::SVp_IOK() | B::SVp_NOK())) && !($b->FLAGS & B::SVp_POK());
}

# One record in comparable form
sub _record
{
	my ($values, $meta) = @_;
	my $m = _norm($meta // {});
	return {
		values => join(',', map { _f32($_) } @$values),
		metadata => $json->encode($m) };
}

# local_state(node, table, id => 'id', vector => 'embedding',
#             metadata => [cols] | metadata_column => 'col' | metadata_sql => 'jsonb expr',
#             db => 'postgres')
# Rows with a NULL vector are left out (the mirror deletes them remotely).
sub local_state
{
	my ($node, $table, %o) = @_;
	my $id = $o{id} // 'id';
	my $vec = $o{vector} // 'embedding';
	my $meta = 'NULL::jsonb';
	if ($o{metadata})
	{
		$meta = 'jsonb_build_object(' . join(', ', map { "'$_', $_" } @{ $o{metadata} }) . ')';
	}
	elsif ($o{metadata_sql})
	{
		$meta = $o{metadata_sql};
	}
	elsif ($o{metadata_column})
	{
		$meta = "$o{metadata_column}::jsonb";
	}
	my $out = $node->safe_psql($o{db} // 'postgres',
		"SELECT json_agg(json_build_object('id', ${id}::text, 'v', ${vec}::text::json, 'm', $meta))
		 FROM $table WHERE $vec IS NOT NULL");
	my %state;
	for my $r (@{ $json->decode($out eq '' ? 'null' : $out) // [] })
	{
		$state{ $r->{id} } = _record($r->{v}, $r->{m});
	}
	return \%state;
}

# pinecone_state(fake, index, namespace)
sub pinecone_state
{
	my ($pc, $index, $ns) = @_;
	my $st = $pc->state;
	my $recs = $st->{indexes}{$index}{namespaces}{ $ns // '' } // {};
	my %state;
	for my $id (keys %$recs)
	{
		$state{$id} = _record($recs->{$id}{values}, $recs->{$id}{metadata});
	}
	return \%state;
}

# milvus_state(fake, collection, partition): metadata is every field but
# the key and the vector, dynamic keys flattened
sub milvus_state
{
	my ($mv, $coll, $part, %o) = @_;
	my $pk = $o{primary} // 'id';
	my $vf = $o{vector_field} // 'vector';
	my $st = $mv->state;
	my $rows = $st->{collections}{$coll}{partitions}{ $part // '_default' } // [];
	my %state;
	for my $r (@$rows)
	{
		my %meta = %{ $r->{'$meta'} // {} };
		for my $k (keys %$r)
		{
			next if $k eq $pk || $k eq $vf || $k eq '$meta';
			$meta{$k} = $r->{$k};
		}
		$state{ $r->{$pk} } = _record($r->{$vf}, \%meta);
	}
	return \%state;
}

# Differences between two states, as readable lines (at most $max)
sub diff
{
	my ($a, $b, $max) = @_;
	$max //= 5;
	my @d;
	for my $id (sort keys %$a)
	{
		if (!exists $b->{$id})
		{
			push @d, "$id: missing remotely";
		}
		elsif ($a->{$id}{values} ne $b->{$id}{values})
		{
			push @d, "$id: values differ";
		}
		elsif ($a->{$id}{metadata} ne $b->{$id}{metadata})
		{
			push @d, "$id: metadata $a->{$id}{metadata} vs $b->{$id}{metadata}";
		}
	}
	for my $id (sort keys %$b)
	{
		push @d, "$id: extra remotely" unless exists $a->{$id};
	}
	splice(@d, $max) if @d > $max;
	return @d;
}

# wait_synced(node, mirror, remote_sub, local_sub, timeout => s): wait
# until the mirror has nothing pending and is not backfilling and the
# remote state equals the local one; returns '' on success, else the last
# differences (for diag).
sub wait_synced
{
	my ($node, $mirror, $remote, $local, %o) = @_;
	my $deadline = time() + ($o{timeout} // 120);
	my $last = '';
	while (time() < $deadline)
	{
		my $st = $node->safe_psql($o{db} // 'postgres',
			"SELECT pending = 0 AND NOT backfilling FROM vectorpg.mirror_status WHERE name = '$mirror'");
		if ($st eq 't')
		{
			my @d = diff($local->(), $remote->());
			return '' unless @d;
			$last = join('; ', @d);
		}
		else
		{
			$last = $node->safe_psql($o{db} // 'postgres',
				"SELECT format('state %s, pending %s, backfilled %s, last error %s', state, pending, backfill_rows, last_error)
				 FROM vectorpg.mirror_status WHERE name = '$mirror'");
		}
		usleep(200_000);
	}
	return $last || 'timed out';
}

1;
