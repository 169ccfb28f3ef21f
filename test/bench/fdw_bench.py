#!/usr/bin/python3
"""fdw_bench.py: the FDW's own overhead per remote top-k query (issue 5).

Against the fake Pinecone and the fake Milvus on loopback, with an index of
768-dimension vectors, it times the same k = 10 search three ways:

* curl from the shell (one process per request, curl's own time_total, the
  exact JSON body the FDW sends);
* the FDW: a prepared SELECT id, score ... ORDER BY embedding <=> $1 LIMIT 10
  on a foreign table, timed by the client over the Unix socket;
* SELECT 1 over the same connection, the protocol round trip that any
  query pays.

The fakes report the time spent in their handlers (GET /_fake/stats,
handler_us; also the X-Fake-Handler-Us response header), so "overhead" is
wall time minus handler time: what the client (curl, or PostgreSQL plus the
FDW) adds around the remote's work.  The goal: the FDW's overhead at most
1 ms above curl's.  Medians over --queries queries after --warmup ones.

Run by test/bench/run.sh (VPG_BENCH=fdw) on its throwaway cluster; prints a
Markdown report.  The machine is shared: numbers are noisy.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
FAKES = os.path.join(HERE, '..', 'fakes')


def start_fake(kind, secret, workdir):
    """Start a fake server on an ephemeral loopback port; returns (proc, url)."""
    port_file = os.path.join(workdir, kind + '.port')
    script = os.path.join(FAKES, kind + '_fake.py')
    opt = '--api-key' if kind == 'pinecone' else '--token'
    proc = subprocess.Popen([sys.executable, script, '--port', '0',
                             '--port-file', port_file, opt, secret],
                            stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(workdir, kind + '.log'), 'w'))
    for _ in range(200):
        if os.path.exists(port_file) and os.path.getsize(port_file) > 0:
            with open(port_file) as f:
                return proc, 'http://127.0.0.1:%d' % int(f.read().strip())
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError('fake %s did not start' % kind)


def http(method, url, body=None, headers=None):
    """One request to a fake with the internal header (not logged/counted)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header('Content-Type', 'application/json')
    req.add_header('X-Fake-Internal', '1')
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    with urllib.request.urlopen(req) as resp:
        text = resp.read()
    return json.loads(text) if text else None


def handler_us(url):
    """Total handler time the fake has counted so far."""
    return http('GET', url + '/_fake/stats')['handler_us']


def vec(rng, dim):
    return [round(rng.uniform(-1, 1), 4) for _ in range(dim)]


def setup_pinecone(url, key, dim, n, rng):
    h = {'Api-Key': key, 'X-Pinecone-Api-Version': '2026-07'}
    model = http('POST', url + '/indexes', {
        'name': 'bench', 'deployment': {'deployment_type': 'managed',
                                        'cloud': 'aws', 'region': 'us-east-1'},
        'schema': {'fields': {'_values': {'type': 'dense_vector',
                                          'dimension': dim,
                                          'metric': 'cosine'}}}}, h)
    host = model['host']
    for start in range(0, n, 100):
        http('POST', host + '/vectors/upsert', {'vectors': [
            {'id': 'v%d' % i, 'values': vec(rng, dim),
             'metadata': {'n': i}} for i in range(start, min(n, start + 100))]}, h)
    return host


def setup_milvus(url, token, dim, n, rng):
    h = {'Authorization': 'Bearer ' + token}
    http('POST', url + '/v2/vectordb/collections/create', {
        'collectionName': 'bench', 'dimension': dim, 'metricType': 'COSINE',
        'idType': 'Int64', 'primaryFieldName': 'id', 'vectorFieldName': 'vector'}, h)
    for start in range(0, n, 100):
        http('POST', url + '/v2/vectordb/entities/insert', {
            'collectionName': 'bench',
            'data': [{'id': i, 'vector': vec(rng, dim), 'n': i}
                     for i in range(start, min(n, start + 100))]}, h)


def curl_times(url, headers, body, count):
    """curl's time_total per request, and the fake's handler time, in ms."""
    with tempfile.NamedTemporaryFile('w', suffix='.json', delete=False) as f:
        f.write(body)
        path = f.name
    walls, handlers = [], []
    args = ['curl', '-s', '-o', '/dev/null', '-D', '-', '-w', 'TOTAL %{time_total}\n',
            '-X', 'POST', '--data-binary', '@' + path]
    for k, v in headers.items():
        args += ['-H', '%s: %s' % (k, v)]
    args.append(url)
    for _ in range(count):
        out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
        hus = None
        for line in out.splitlines():
            if line.lower().startswith('x-fake-handler-us:'):
                hus = int(line.split(':', 1)[1])
            if line.startswith('TOTAL '):
                walls.append(float(line.split()[1]) * 1000)
        handlers.append(hus / 1000.0)
    os.unlink(path)
    return walls, handlers


def fdw_times(conn, fake_url, sql, qvec, count):
    """Client-side wall time of one prepared FDW query, and handler time, in ms."""
    cur = conn.cursor()
    walls, handlers = [], []
    for _ in range(count):
        h0 = handler_us(fake_url)
        t0 = time.perf_counter()
        cur.execute(sql, (qvec,))
        rows = cur.fetchall()
        t1 = time.perf_counter()
        h1 = handler_us(fake_url)
        assert len(rows) == 10, rows
        walls.append((t1 - t0) * 1000)
        handlers.append((h1 - h0) / 1000.0)
    return walls, handlers


def select1(conn, count):
    cur = conn.cursor()
    walls = []
    for _ in range(count):
        t0 = time.perf_counter()
        cur.execute('SELECT 1')
        cur.fetchall()
        walls.append((time.perf_counter() - t0) * 1000)
    return walls


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--host', required=True, help='PostgreSQL socket directory')
    ap.add_argument('--port', type=int, default=5432)
    ap.add_argument('--dbname', default='postgres')
    ap.add_argument('--dim', type=int, default=768)
    ap.add_argument('--rows', type=int, default=2000)
    ap.add_argument('--queries', type=int, default=200)
    ap.add_argument('--warmup', type=int, default=20)
    ap.add_argument('--out')
    args = ap.parse_args()

    rng = random.Random(5)
    work = tempfile.mkdtemp(prefix='fdw_bench_')
    procs = []
    lines = []
    try:
        pc, pc_url = start_fake('pinecone', 'bench-key', work)
        procs.append(pc)
        mv, mv_url = start_fake('milvus', 'root:Milvus', work)
        procs.append(mv)
        host = setup_pinecone(pc_url, 'bench-key', args.dim, args.rows, rng)
        setup_milvus(mv_url, 'root:Milvus', args.dim, args.rows, rng)

        conn = psycopg2.connect(host=args.host, port=args.port, dbname=args.dbname,
                                user='postgres')
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute('CREATE EXTENSION IF NOT EXISTS vectorpg')
        cur.execute('DROP SERVER IF EXISTS bench_pc, bench_mv CASCADE')
        cur.execute("CREATE SERVER bench_pc FOREIGN DATA WRAPPER vectorpg_fdw OPTIONS "
                    "(provider 'pinecone', url %s, allow_insecure 'true')", (pc_url,))
        cur.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER bench_pc "
                    "OPTIONS (api_key 'bench-key')")
        cur.execute("CREATE SERVER bench_mv FOREIGN DATA WRAPPER vectorpg_fdw OPTIONS "
                    "(provider 'milvus', url %s, allow_insecure 'true')", (mv_url,))
        cur.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER bench_mv "
                    "OPTIONS (token 'root:Milvus')")
        cur.execute("CREATE FOREIGN TABLE bench_pc (id text, embedding vector(%d), "
                    "score float8) SERVER bench_pc OPTIONS (index 'bench', metric 'cosine')"
                    % args.dim)
        cur.execute("CREATE FOREIGN TABLE bench_mv (id bigint, embedding vector(%d), "
                    "score float8) SERVER bench_mv OPTIONS (collection 'bench', metric 'cosine')"
                    % args.dim)
        cur.execute('PREPARE pc_q(vector) AS SELECT id, score FROM bench_pc '
                    'ORDER BY embedding <=> $1 LIMIT 10')
        cur.execute('PREPARE mv_q(vector) AS SELECT id, score FROM bench_mv '
                    'ORDER BY embedding <=> $1 LIMIT 10')

        q = vec(rng, args.dim)
        qtext = '[' + ','.join('%.9g' % x for x in q) + ']'
        qjson = '[' + ','.join('%.9g' % x for x in q) + ']'
        pc_body = ('{"topK":10,"vector":%s,"includeValues":false,'
                   '"includeMetadata":false}' % qjson)
        mv_body = ('{"collectionName":"bench","data":[%s],"annsField":"vector",'
                   '"limit":10,"outputFields":["id"]}' % qjson)

        results = {}
        for name, fake_url, sql, curl_url, headers, body in (
                ('Pinecone', pc_url, 'EXECUTE pc_q(%s)', host + '/query',
                 {'Api-Key': 'bench-key', 'X-Pinecone-Api-Version': '2026-07',
                  'Content-Type': 'application/json'}, pc_body),
                ('Milvus', mv_url, 'EXECUTE mv_q(%s)',
                 mv_url + '/v2/vectordb/entities/search',
                 {'Authorization': 'Bearer root:Milvus',
                  'Content-Type': 'application/json'}, mv_body)):
            fdw_times(conn, fake_url, sql, qtext, args.warmup)
            fw, fh = fdw_times(conn, fake_url, sql, qtext, args.queries)
            curl_times(curl_url, headers, body, min(args.warmup, 5))
            cw, ch = curl_times(curl_url, headers, body, args.queries)
            results[name] = (fw, fh, cw, ch)
            print('%s done' % name, file=sys.stderr)
        s1 = select1(conn, args.queries)

        med = statistics.median
        lines.append('FDW overhead per k = 10 query at %d dimensions, %d records, '
                     'median of %d queries (ms; overhead = wall time minus the '
                     "fake's handler time):" % (args.dim, args.rows, args.queries))
        lines.append('')
        lines.append('| provider | curl wall | curl handler | curl overhead | '
                     'FDW wall | FDW handler | FDW overhead | FDW - curl | SELECT 1 |')
        lines.append('|---|---|---|---|---|---|---|---|---|')
        for name, (fw, fh, cw, ch) in results.items():
            fo = med([w - h for w, h in zip(fw, fh)])
            co = med([w - h for w, h in zip(cw, ch)])
            lines.append('| %s | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %+.3f | %.3f |'
                         % (name, med(cw), med(ch), co, med(fw), med(fh), fo, fo - co,
                            med(s1)))
        lines.append('')
        lines.append('curl: one process per request (new connection each time, '
                     'time_total excludes process start); FDW: prepared statement over '
                     "a Unix socket, the connection to the fake kept alive.  SELECT 1 is "
                     'the protocol round trip included in the FDW column.')
        report = '\n'.join(lines)
        print(report)
        if args.out:
            with open(args.out, 'w') as f:
                f.write(report + '\n')
        cur.execute('DROP SERVER bench_pc, bench_mv CASCADE')
        conn.close()
    finally:
        for p in procs:
            p.terminate()
            p.wait()


if __name__ == '__main__':
    main()
