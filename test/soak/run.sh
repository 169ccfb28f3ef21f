#!/bin/bash
# test/soak/run.sh: a long soak of the batch API and the hnsw index, not
# part of the suite (.ci/run).  Run as root, after installing the extension
# into the server at VPG_PG_BIN (for example the assertion build that
# test/run-tests.sh installs):
#
#   VPG_PG_BIN=/usr/lib/postgresql/15/bin SOAK_SECONDS=3000 bash test/soak/run.sh
#
# Each round makes a fresh collection (random m, ef_construction, metric,
# float or integral vectors), then 4 pgbench clients run batch upserts,
# deletes, vector and metadata updates, VACUUM and batch searches (each
# search must return its k rows, also with a metadata filter) for 10-25 s,
# with shared_buffers of 1MB (buffers replaced under the searches) or 16MB.
# One round in three stops the server with -m immediate midway and restarts
# it (crash recovery).  Then: VACUUM, hnsw_index_check with heapallindexed,
# live elements unreachable from the entry point, and how many of 500 live
# elements a search for their own vector misses (and after a REINDEX, when
# any are, to tell churn from the graph's own limits).  A round fails on any
# ERROR from a client other than those of the crash, or any check problem.
set -u
B=${VPG_PG_BIN:-/usr/lib/postgresql/15/bin}
W=${VPG_SOAK_DIR:-/tmp/vectorpg-soak}
PORT=${VPG_SOAK_PORT:-5498}
mkdir -p $W
D=$W/data
P="runuser -u postgres -- $B/psql -h $W -p $PORT -d postgres -X -q -At -v ON_ERROR_STOP=1"
chown -R postgres $W
if [ ! -d $D ]; then
  runuser -u postgres -- $B/initdb -D $D -A trust -U postgres >/dev/null
  cat >> $D/postgresql.conf <<EOC
listen_addresses = ''
unix_socket_directories = '$W'
port = $PORT
fsync = off
jit = off
max_connections = 20
autovacuum_naptime = 2s
log_min_messages = warning
log_line_prefix = '%m [%p] '
EOC
fi
chown -R postgres $W
# start the server with the given shared_buffers
start() { runuser -u postgres -- $B/pg_ctl -D $D -l $W/log -w -o "-c shared_buffers=$1" start >/dev/null; }
# stop it, fast unless told otherwise
stop() { runuser -u postgres -- $B/pg_ctl -D $D -m ${1:-fast} -w stop >/dev/null 2>&1; }
dims=24
UNREACHABLE='element is not reachable from the entry point'
END=$((SECONDS + ${SOAK_SECONDS:-3600}))
round=0; fails=0
while [ $SECONDS -lt $END ]; do
  round=$((round + 1))
  ms=(4 8 16); m=${ms[$((RANDOM % 3))]}
  efcs=(32 64); efc=${efcs[$((RANDOM % 2))]}
  metrics=(l2 cosine ip l1); metric=${metrics[$((RANDOM % 4))]}
  sbs=(1MB 16MB); sb=${sbs[$((RANDOM % 2))]}
  crash=$((RANDOM % 3 == 0))
  int=$((RANDOM % 2))
  if [ $int = 1 ]; then V="floor(random() * 256)"; else V="random() * 2 - 1"; fi
  VEC="(SELECT array_agg($V) FROM generate_series(1, $dims) WHERE g > 0)::vector"
  stop; start $sb
  $P -c "SET client_min_messages = warning" -c "CREATE EXTENSION IF NOT EXISTS vectorpg" \
     -c "SELECT vectorpg.drop_collection('soak') FROM vectorpg.collections WHERE name = 'soak'" \
     -c "SELECT vectorpg.create_collection('soak', $dims, '$metric', m => $m, ef_construction => $efc)" \
     -c "SELECT status FROM vectorpg.upsert('soak', ARRAY(SELECT g::text FROM generate_series(1, 3000) g), ARRAY(SELECT $VEC FROM generate_series(1, 3000) g), ARRAY(SELECT jsonb_build_object('g', g % 5) FROM generate_series(1, 3000) g), batch_size_limit => 3000)" >/dev/null || { echo "round $round: setup failed"; fails=$((fails+1)); sleep 2; continue; }
  cat > $W/up.sql <<EOS
\set base random(1, 5000)
SELECT status FROM vectorpg.upsert('soak', ARRAY(SELECT (:base + g * 7) % 5000 + 1 FROM generate_series(1, 50) g)::text[], ARRAY(SELECT $VEC FROM generate_series(1, 50) g), ARRAY(SELECT jsonb_build_object('g', g % 5) FROM generate_series(1, 50) g));
EOS
  cat > $W/del.sql <<EOS
\set base random(1, 5000)
SELECT status FROM vectorpg.delete('soak', ARRAY(SELECT ((:base + g * 13) % 5000 + 1)::text FROM generate_series(1, 20) g), atomic => false);
EOS
  cat > $W/upd.sql <<EOS
\set base random(1, 5000)
SELECT status FROM vectorpg.update('soak', ARRAY(SELECT ((:base + g * 11) % 5000 + 1)::text FROM generate_series(1, 20) g), vectors => ARRAY(SELECT $VEC FROM generate_series(1, 20) g), atomic => false);
SELECT status FROM vectorpg.update('soak', ARRAY(SELECT ((:base + g * 3) % 5000 + 1)::text FROM generate_series(1, 20) g), metadata => ARRAY(SELECT '{"u": 1}'::jsonb FROM generate_series(1, 20) g), atomic => false);
EOS
  echo "VACUUM soak;" > $W/vac.sql
  cat > $W/srch.sql <<EOS
SELECT count(*) AS n FROM vectorpg.search('soak', ARRAY(SELECT $VEC FROM generate_series(1, 5) g), 10) \gset
\if :n < 50
SELECT 1 / 0 AS short_search;
\endif
SELECT count(*) AS n FROM vectorpg.search('soak', ARRAY(SELECT $VEC FROM generate_series(1, 2) g), 10, filter => '{"g": {"\$in": [1, 2]}}') \gset
\if :n < 20
SELECT 1 / 0 AS short_filtered_search;
\endif
EOS
  chmod 644 $W/*.sql
  T=$((10 + RANDOM % 15))
  runuser -u postgres -- $B/pgbench -h $W -p $PORT --no-vacuum --client=4 --jobs=4 --time=$T --max-tries=20 \
      -f $W/up.sql@4 -f $W/del.sql@2 -f $W/upd.sql@3 -f $W/vac.sql@1 -f $W/srch.sql@4 postgres > $W/pgb.out 2>&1 &
  pgb=$!
  if [ $crash = 1 ]; then
    sleep $((T / 2)); runuser -u postgres -- $B/pg_ctl -D $D -m immediate -w stop >/dev/null 2>&1
    wait $pgb; start $sb
  else
    wait $pgb
  fi
  errs=$(grep -E "ERROR" $W/pgb.out | grep -v -E "terminat|connection|server closed|could not receive|no connection|administrator command|shutting down|recovery|is starting up|crash of another" | head -3)
  tx=$(grep -E "processed" $W/pgb.out | head -1)
  $P -c "VACUUM soak" >/dev/null
  idx=$($P -c "SELECT indexrelid::regclass FROM pg_index i JOIN pg_am a ON a.oid = (SELECT relam FROM pg_class WHERE oid = i.indexrelid) WHERE indrelid = 'soak'::regclass AND a.amname = 'hnsw'")
  # one pass of the check: structural problems and unreachable elements apart
  read -r nprob unr prob <<<"$($P -F ' ' -c "SELECT count(*) FILTER (WHERE problem <> '$UNREACHABLE'), count(*) FILTER (WHERE problem = '$UNREACHABLE'), coalesce(string_agg(blkno || ',' || offno || ' ' || problem, '; ') FILTER (WHERE problem <> '$UNREACHABLE'), '') FROM hnsw_index_check('$idx', true, true)")"
  chk="$nprob problems: ${prob:0:300}"
  fnd=$($P -c "SELECT not_found || '/' || searched FROM hnsw_index_findability('$idx', 500)")
  [ $metric = ip ] && fnd="n/a"
  fresh=""
  if [ $metric != ip ] && [ "${fnd%%/*}" != 0 ]; then
    fresh=$($P -c "REINDEX INDEX $idx" -c "SELECT not_found || '/' || searched FROM hnsw_index_findability('$idx', 500)")
  fi
  rows=$($P -c "SELECT count(*) FROM soak")
  ok=yes
  case "$chk" in 0\ problems*) ;; *) ok=no;; esac
  [ -n "$errs" ] && ok=no
  [ $ok = no ] && fails=$((fails + 1))
  echo "$(date +%H:%M:%S) round $round m=$m efc=$efc $metric sb=$sb crash=$crash int=$int T=$T rows=$rows $tx | check: $chk | not found $fnd (after reindex: ${fresh:--}) unreachable $unr | $ok ${errs:+| $errs}"
  if [ $ok = no ]; then cp $W/pgb.out $W/pgb.fail.$round; fi
done
stop
echo "rounds $round failed $fails"
[ $fails = 0 ]
