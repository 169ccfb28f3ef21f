#!/usr/bin/python3
"""fdw_write_bench.py: rows/s of INSERT INTO <foreign table> SELECT (issue 6).

Against the fake Pinecone and the fake Milvus on loopback, it times
INSERT INTO ft SELECT ... of --rows rows of 768-dimension vectors from a
local heap table, in one transaction (the FDW buffers the rows and sends
them at COMMIT in chunks of write_batch_size, write_parallelism requests in
flight), for a few batch sizes.  The statement and the COMMIT are timed
separately, and the fake's own handler time (GET /_fake/stats handler_us,
the sum of X-Fake-Handler-Us) is reported apart, so that the fake's cost
(JSON parsing in Python, the larger part) does not pass for the FDW's:
"client" is wall time minus the fake's handler time.  The fake handles one
request at a time per connection thread, so parallel requests overlap
there too.

Run by test/bench/run.sh (VPG_BENCH=fdw or fdwwrite) on its throwaway
cluster; prints a Markdown report.  The machine is shared: numbers are noisy.
"""

import argparse
import os
import sys
import tempfile
import time

import psycopg2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fdw_bench import http, start_fake  # noqa: E402  (same directory)


def stats(url):
    """The fake's counters: handler time (us) and requests so far."""
    s = http('GET', url + '/_fake/stats')
    return s['handler_us'], s['requests']


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--host', required=True, help='PostgreSQL socket directory')
    ap.add_argument('--port', type=int, default=5432)
    ap.add_argument('--dbname', default='postgres')
    ap.add_argument('--dim', type=int, default=768)
    ap.add_argument('--rows', type=int, default=10000)
    ap.add_argument('--configs', default='100:1,100:4,1000:4',
                    help='write_batch_size:write_parallelism pairs')
    ap.add_argument('--out')
    args = ap.parse_args()

    work = tempfile.mkdtemp(prefix='fdw_write_bench_')
    procs = []
    lines = []
    try:
        pc, pc_url = start_fake('pinecone', 'bench-key', work)
        procs.append(pc)
        mv, mv_url = start_fake('milvus', 'root:Milvus', work)
        procs.append(mv)
        for url in (pc_url, mv_url):
            http('POST', url + '/_fake/config', {'log': False})
        http('POST', pc_url + '/indexes', {
            'name': 'wbench', 'deployment': {'deployment_type': 'managed',
                                             'cloud': 'aws', 'region': 'us-east-1'},
            'schema': {'fields': {'_values': {'type': 'dense_vector',
                                              'dimension': args.dim,
                                              'metric': 'cosine'}}}},
             {'Api-Key': 'bench-key', 'X-Pinecone-Api-Version': '2026-07'})
        http('POST', mv_url + '/v2/vectordb/collections/create', {
            'collectionName': 'wbench', 'dimension': args.dim, 'metricType': 'COSINE',
            'idType': 'Int64', 'primaryFieldName': 'id', 'vectorFieldName': 'vector'},
             {'Authorization': 'Bearer root:Milvus'})

        conn = psycopg2.connect(host=args.host, port=args.port, dbname=args.dbname,
                                user='postgres')
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute('CREATE EXTENSION IF NOT EXISTS vectorpg')
        cur.execute('DROP SERVER IF EXISTS wb_pc, wb_mv CASCADE')
        cur.execute('DROP TABLE IF EXISTS wb_src')
        cur.execute("CREATE SERVER wb_pc FOREIGN DATA WRAPPER vectorpg_fdw OPTIONS "
                    "(provider 'pinecone', url %s, allow_insecure 'true')", (pc_url,))
        cur.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER wb_pc "
                    "OPTIONS (api_key 'bench-key')")
        cur.execute("CREATE SERVER wb_mv FOREIGN DATA WRAPPER vectorpg_fdw OPTIONS "
                    "(provider 'milvus', url %s, allow_insecure 'true')", (mv_url,))
        cur.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER wb_mv "
                    "OPTIONS (token 'root:Milvus')")
        cur.execute("CREATE FOREIGN TABLE wb_pc (id text, embedding vector(%d), metadata jsonb) "
                    "SERVER wb_pc OPTIONS (index 'wbench', metric 'cosine')" % args.dim)
        cur.execute("CREATE FOREIGN TABLE wb_mv (id bigint, embedding vector(%d), metadata jsonb) "
                    "SERVER wb_mv OPTIONS (collection 'wbench', metric 'cosine')" % args.dim)
        # the source: random vectors, a little metadata
        cur.execute("CREATE TABLE wb_src AS SELECT g AS id, "
                    "(SELECT array_agg(random()::real - 0.5) FROM generate_series(1, %d) "
                    " WHERE g > 0)::vector(%d) AS embedding, "
                    "jsonb_build_object('n', g, 'genre', 'g' || (g %% 7)) AS metadata "
                    "FROM generate_series(1, %d) g" % (args.dim, args.dim, args.rows))
        cur.execute('VACUUM ANALYZE wb_src')

        lines.append('FDW `INSERT INTO ft SELECT` of %d rows at %d dimensions from a heap '
                     'table, one transaction (seconds; rows/s of statement + COMMIT; '
                     '"client" = wall time minus the fake\'s handler time):'
                     % (args.rows, args.dim))
        lines.append('')
        lines.append('| provider | batch size | parallelism | requests | INSERT (buffer) | '
                     'COMMIT (send) | total | rows/s | fake handler | client | client rows/s |')
        lines.append('|---|---|---|---|---|---|---|---|---|---|---|')
        for name, table, server, fake_url, idexpr in (
                ('Pinecone', 'wb_pc', 'wb_pc', pc_url, "'r' || id"),
                ('Milvus', 'wb_mv', 'wb_mv', mv_url, 'id')):
            for conf in args.configs.split(','):
                bs, par = [int(x) for x in conf.split(':')]
                cur.execute("ALTER FOREIGN TABLE %s OPTIONS (ADD write_batch_size '%d', "
                            "ADD write_parallelism '%d')" % (table, bs, par))
                h0, r0 = stats(fake_url)
                t0 = time.perf_counter()
                cur.execute('BEGIN')
                cur.execute('INSERT INTO %s (id, embedding, metadata) '
                            'SELECT %s, embedding, metadata FROM wb_src' % (table, idexpr))
                t1 = time.perf_counter()
                cur.execute('COMMIT')
                t2 = time.perf_counter()
                h1, r1 = stats(fake_url)
                cur.execute("ALTER FOREIGN TABLE %s OPTIONS (DROP write_batch_size, "
                            "DROP write_parallelism)" % table)
                handler = (h1 - h0) / 1e6
                total = t2 - t0
                client = total - handler
                # overlapping requests: the handler sum can pass the wall time
                ctext = ('%.3f | %.0f' % (client, args.rows / client)
                         if par == 1 and client > 0 else 'n/a | n/a')
                lines.append('| %s | %d | %d | %d | %.3f | %.3f | %.3f | %.0f | %.3f | %s |'
                             % (name, bs, par, r1 - r0, t1 - t0, t2 - t1, total,
                                args.rows / total, handler, ctext))
                print('%s %s done' % (name, conf), file=sys.stderr)
        lines.append('')
        lines.append('The fake handles parallel requests in threads of one Python process '
                     '(the GIL serialises them), so its handler time is a sum over requests '
                     'that overlapped at parallelism > 1 (each one\'s time then includes waiting for '
                     'the others): "client" is given at parallelism 1 only.  INSERT (buffer) is '
                     'the FDW\'s per-row work (conversion, validation, buffering) and nothing '
                     'else; COMMIT (send) is JSON encoding, HTTP and the fake.')
        report = '\n'.join(lines)
        print(report)
        if args.out:
            with open(args.out, 'w') as f:
                f.write(report + '\n')
        cur.execute('DROP SERVER wb_pc, wb_mv CASCADE')
        cur.execute('DROP TABLE wb_src')
        conn.close()
    finally:
        for p in procs:
            p.terminate()
            p.wait()


if __name__ == '__main__':
    main()
