# 047_remote_writes.pl: the remote write core (src/remote_write.c, the write
# halves of the clients, RemoteHttpCallMany) against both strict fakes.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../perl";
use VectorpgFake;

my $pc = VectorpgFake->new('pinecone', api_key => 'pc-secret-key-47');
my $mv = VectorpgFake->new('milvus', token => 'root:Milvus47');

my $node = PostgreSQL::Test::Cluster->new('remote_writes');
$node->init;
$node->append_conf('postgresql.conf', "fsync = off\n");
$node->start;

$pc->create_index(name => 'docs', dimension => 4, metric => 'cosine');
$mv->create_collection(name => 'docs', dimension => 4, metric => 'COSINE',
	id_type => 'Int64', fields => { title => 'VarChar', year => 'Int64' }, dynamic => 1);
my ($pu, $mu) = ($pc->url, $mv->url);
$node->safe_psql('postgres', qq{
	CREATE EXTENSION vectorpg;
	CREATE SERVER pc FOREIGN DATA WRAPPER vectorpg_fdw
		OPTIONS (provider 'pinecone', url '$pu', allow_insecure 'true');
	CREATE USER MAPPING FOR CURRENT_USER SERVER pc OPTIONS (api_key 'pc-secret-key-47');
	CREATE FOREIGN TABLE pdocs (id text, embedding vector(4), metadata jsonb)
		SERVER pc OPTIONS (index 'docs', namespace 'ns1');
	CREATE SERVER mv FOREIGN DATA WRAPPER vectorpg_fdw
		OPTIONS (provider 'milvus', url '$mu', allow_insecure 'true');
	CREATE USER MAPPING FOR CURRENT_USER SERVER mv OPTIONS (token 'root:Milvus47');
	CREATE FOREIGN TABLE mdocs (id bigint, embedding vector(4), metadata jsonb)
		SERVER mv OPTIONS (collection 'docs');
});

my $r = $node->safe_psql('postgres', q{
	SELECT vectorpg.remote_upsert('pdocs', ARRAY['a','b'],
		ARRAY['[1,2,3,4]','[0.1,0.2,0.3,0.4]']::vector[],
		ARRAY['{"genre":"x","n":1}','{"tags":["p","q"],"z":null}']::jsonb[])});
is($r, '2', 'pinecone upsert');
my $st = $pc->state;
note explain $st->{indexes}{docs}{namespaces};
$r = $node->safe_psql('postgres', q{
	SELECT vectorpg.remote_upsert('mdocs', ARRAY['1','9007199254740993'],
		ARRAY['[1,2,3,4]','[0.1,0.2,0.3,0.4]']::vector[],
		ARRAY['{"title":"x","year":2020,"genre":"g"}','{"title":"y","year":2021}']::jsonb[])});
is($r, '2', 'milvus upsert');
$st = $mv->state;
note explain $st->{collections}{docs}{partitions};
$r = $node->safe_psql('postgres', q{SELECT vectorpg.remote_delete('pdocs', ARRAY['a'])});
is($r, '1', 'pinecone delete');
$r = $node->safe_psql('postgres', q{SELECT vectorpg.remote_delete('mdocs', ARRAY['1'])});
is($r, '1', 'milvus delete');
note explain $pc->state->{indexes}{docs}{namespaces};
note explain $mv->state->{collections}{docs}{partitions};
note explain [ map { $_->{body} } @{ $mv->requests } ];

done_testing();
