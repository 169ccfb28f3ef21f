#!/usr/bin/python3
"""remote_write_bench.py: rows/s of vectorpg.remote_upsert at 768 dimensions.

The write core of issue 6 (RemoteWriteMany: validation, JSON bodies with the
ryu float printer, chunks, curl multi) against the fake Pinecone and the
fake Milvus on loopback.  The source is a local table of --rows rows (768
random float4 values and a small metadata object each); one call upserts
all of them:

    SELECT vectorpg.remote_upsert('ft', array_agg(id), array_agg(v),
                                  array_agg(meta)) FROM src

for several write_batch_size / write_parallelism settings.  Reported per
run: wall time and rows/s end to end (aggregating the arrays included); the
CPU time of the PostgreSQL backend (from /proc, so the client's own cost:
reading the source rows, validation, serialisation, libcurl) and the rows/s
that cost alone would allow; the fake's own handler time (GET /_fake/stats,
handler_us: the Python fake parsing and storing the bodies; summed over
requests, so above the wall time when they overlap), so that the fake is
not mistaken for the client; and, for one request at a time, the rows/s
of what remains outside the fake's handler once the time to build the
arguments is taken off.  The goal of issue 6: >= 5,000 rows/s at 768
dimensions on 2 cores.

Run by test/bench/run.sh (VPG_BENCH=write) on its throwaway cluster, or by
hand against any cluster with vectorpg installed:

    /usr/bin/python3 test/bench/remote_write_bench.py --host /tmp/sock --rows 20000

The machine may be shared: say so when quoting numbers.
"""

import argparse
import os
import sys
import tempfile
import time

import psycopg2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fdw_bench import http, start_fake  # noqa: E402  (same directory)


def cpu_seconds(pid):
    """User + system CPU seconds of a process (Linux /proc)."""
    with open('/proc/%d/stat' % pid) as f:
        fields = f.read().rsplit(')', 1)[1].split()
    ticks = os.sysconf('SC_CLK_TCK')
    return (int(fields[11]) + int(fields[12])) / ticks


def handler_seconds(url):
    """Total handler time the fake has counted so far, in seconds."""
    return http('GET', url + '/_fake/stats')['handler_us'] / 1e6


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--host', required=True, help='PostgreSQL socket directory')
    ap.add_argument('--port', type=int, default=5432)
    ap.add_argument('--dbname', default='postgres')
    ap.add_argument('--user', default='postgres')
    ap.add_argument('--dim', type=int, default=768)
    ap.add_argument('--rows', type=int, default=20000)
    ap.add_argument('--settings', default='100x1,100x4,200x4,200x8',
                    help='write_batch_size x write_parallelism, comma-separated')
    ap.add_argument('--out')
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix='write_bench_')
    procs = []
    lines = []
    try:
        pc, pc_url = start_fake('pinecone', 'bench-key', work)
        procs.append(pc)
        mv, mv_url = start_fake('milvus', 'root:Milvus', work)
        procs.append(mv)
        for url in (pc_url, mv_url):
            http('POST', url + '/_fake/config', {'log': False})
        h = {'Api-Key': 'bench-key', 'X-Pinecone-Api-Version': '2026-07'}
        http('POST', pc_url + '/indexes', {
            'name': 'wbench', 'deployment': {'deployment_type': 'managed',
                                             'cloud': 'aws', 'region': 'us-east-1'},
            'schema': {'fields': {'_values': {'type': 'dense_vector',
                                              'dimension': args.dim,
                                              'metric': 'cosine'}}}}, h)
        http('POST', mv_url + '/v2/vectordb/collections/create', {
            'collectionName': 'wbench', 'dimension': args.dim, 'metricType': 'COSINE',
            'idType': 'Int64', 'primaryFieldName': 'id', 'vectorFieldName': 'vector'},
            {'Authorization': 'Bearer root:Milvus'})

        conn = psycopg2.connect(host=args.host, port=args.port, dbname=args.dbname,
                                user=args.user)
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute('CREATE EXTENSION IF NOT EXISTS vectorpg')
        cur.execute('DROP SERVER IF EXISTS wbench_pc, wbench_mv CASCADE')
        cur.execute('DROP TABLE IF EXISTS wbench_src')
        cur.execute("CREATE SERVER wbench_pc FOREIGN DATA WRAPPER vectorpg_fdw OPTIONS "
                    "(provider 'pinecone', url %s, allow_insecure 'true')", (pc_url,))
        cur.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER wbench_pc "
                    "OPTIONS (api_key 'bench-key')")
        cur.execute("CREATE SERVER wbench_mv FOREIGN DATA WRAPPER vectorpg_fdw OPTIONS "
                    "(provider 'milvus', url %s, allow_insecure 'true')", (mv_url,))
        cur.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER wbench_mv "
                    "OPTIONS (token 'root:Milvus')")
        cur.execute("CREATE FOREIGN TABLE wbench_pc (id text, embedding vector(%d), "
                    "metadata jsonb) SERVER wbench_pc OPTIONS (index 'wbench')" % args.dim)
        cur.execute("CREATE FOREIGN TABLE wbench_mv (id bigint, embedding vector(%d), "
                    "metadata jsonb) SERVER wbench_mv OPTIONS (collection 'wbench')"
                    % args.dim)
        print('generating %d rows of %d dimensions' % (args.rows, args.dim), file=sys.stderr)
        cur.execute("CREATE TABLE wbench_src AS SELECT i::text AS id, "
                    "(SELECT array_agg((random() * 2 - 1)::real) FROM generate_series(1, %d) "
                    " WHERE i > 0)::vector AS v, "
                    "jsonb_build_object('n', i, 'genre', 'g' || (i %% 7), 'draft', i %% 2 = 0) AS meta "
                    "FROM generate_series(1, %d) i" % (args.dim, args.rows))
        cur.execute('VACUUM ANALYZE wbench_src')
        cur.execute('SELECT pg_backend_pid()')
        pid = cur.fetchone()[0]

        # the cost of building the arguments alone (no remote call)
        t0 = time.time()
        cur.execute('SELECT cardinality(array_agg(id)), cardinality(array_agg(v)), '
                    'cardinality(array_agg(meta)) FROM wbench_src')
        agg_s = time.time() - t0

        lines.append('Rows: %d of %d dimensions, metadata of 3 keys, one remote_upsert call '
                     'per run; building the three arrays alone takes %.2f s.'
                     % (args.rows, args.dim, agg_s))
        lines.append('')
        lines.append('| provider | batch x parallelism | wall s | rows/s | backend CPU s '
                     '| rows/s of backend CPU | fake handler s | rows/s outside the fake |')
        lines.append('|---|---|---|---|---|---|---|---|')
        for name, table, url in (('Pinecone', 'wbench_pc', pc_url),
                                 ('Milvus', 'wbench_mv', mv_url)):
            for setting in args.settings.split(','):
                batch, par = (int(x) for x in setting.split('x'))
                cur.execute("ALTER FOREIGN TABLE %s OPTIONS (%s write_batch_size '%d')"
                            % (table, 'SET' if setting != args.settings.split(',')[0] else 'ADD',
                               batch))
                cur.execute("ALTER FOREIGN TABLE %s OPTIONS (%s write_parallelism '%d')"
                            % (table, 'SET' if setting != args.settings.split(',')[0] else 'ADD',
                               par))
                # a first small call describes the index and opens connections
                cur.execute("SELECT vectorpg.remote_upsert(%s::regclass, array_agg(id), "
                            "array_agg(v), array_agg(meta)) FROM (SELECT * FROM wbench_src "
                            "LIMIT 10) s", (table,))
                h0 = handler_seconds(url)
                c0 = cpu_seconds(pid)
                t0 = time.time()
                cur.execute("SELECT vectorpg.remote_upsert(%s::regclass, array_agg(id), "
                            "array_agg(v), array_agg(meta)) FROM wbench_src", (table,))
                n = cur.fetchone()[0]
                wall = time.time() - t0
                cpu = cpu_seconds(pid) - c0
                hs = handler_seconds(url) - h0
                assert n == args.rows
                # with one request at a time the fake's handler time does not
                # overlap ours: what is left is the client's (and the fake's
                # HTTP layer's) share, arguments built from the table excluded
                outside = wall - hs - agg_s
                lines.append('| %s | %d x %d | %.2f | %.0f | %.2f | %.0f | %.2f | %s |'
                             % (name, batch, par, wall, n / wall, cpu,
                                n / cpu if cpu > 0 else float('inf'), hs,
                                '%.0f' % (n / outside) if par == 1 and outside > 0 else '-'))
                print(lines[-1], file=sys.stderr)
        conn.close()
    finally:
        for p in procs:
            p.terminate()
            p.wait()

    report = '\n'.join(lines) + '\n'
    sys.stdout.write(report)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(report)


if __name__ == '__main__':
    main()
