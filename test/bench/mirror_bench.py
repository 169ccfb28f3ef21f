#!/usr/bin/python3
"""mirror_bench.py: mirroring throughput and lag against the fake Pinecone (issue 6).

On loopback, with 768-dimension vectors (doc/mirror.md):

* backfill: rows/s of vectorpg.mirror() over an existing table, from the
  call until the status view says the backfill is done; the fake's own
  handler time (GET /_fake/stats handler_us, the sum of the
  X-Fake-Handler-Us headers) is reported next to it, so that a slow fake is
  not mistaken for a slow mirror;
* capture overhead: the writer's cost of the capture trigger, the same
  inserts into a plain table and into a mirrored one (single-row
  statements, each its own transaction, and one multi-row INSERT ...
  SELECT);
* steady-state lag: a writer inserting and updating --rate rows/s (one
  statement of 10 rows every 10 ms) for --seconds, sampling the status
  view's oldest_pending_age (the age of the oldest change not yet
  acknowledged by the remote) every 100 ms.

Goals (issue 6): backfill >= 5,000 rows/s on 2 cores, lag < 2 s at 1,000
rows/s.  Run by test/bench/run.sh (VPG_BENCH=mirror) on its throwaway
cluster; prints a Markdown report.  The machine may be shared: say so.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
FAKES = os.path.join(HERE, '..', 'fakes')
KEY = 'bench-mirror-key'


def start_fake(workdir):
    """The fake Pinecone on an ephemeral loopback port; returns (proc, url)."""
    port_file = os.path.join(workdir, 'mirror_pinecone.port')
    if os.path.exists(port_file):
        os.unlink(port_file)
    proc = subprocess.Popen([sys.executable, os.path.join(FAKES, 'pinecone_fake.py'),
                             '--port', '0', '--port-file', port_file, '--api-key', KEY],
                            stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(workdir, 'mirror_pinecone.log'), 'w'))
    for _ in range(200):
        if os.path.exists(port_file) and os.path.getsize(port_file) > 0:
            with open(port_file) as f:
                return proc, 'http://127.0.0.1:%d' % int(f.read().strip())
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError('the fake did not start')


def http(method, url, body=None):
    """A request to the fake with the internal header (never logged or counted)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header('Content-Type', 'application/json')
    req.add_header('X-Fake-Internal', '1')
    req.add_header('Api-Key', KEY)
    req.add_header('X-Pinecone-Api-Version', '2026-07')
    with urllib.request.urlopen(req) as resp:
        text = resp.read()
    return json.loads(text) if text else None


def create_index(url, name, dim):
    http('POST', url + '/indexes', {
        'name': name, 'deployment': {'deployment_type': 'managed', 'cloud': 'aws',
                                     'region': 'us-east-1'},
        'schema': {'fields': {'_values': {'type': 'dense_vector', 'dimension': dim,
                                          'metric': 'cosine'}}}})


def stats(url):
    return http('GET', url + '/_fake/stats')


def fill(cur, table, first, last, dim):
    """Rows first..last with random vectors and two metadata columns."""
    cur.execute("""INSERT INTO %s SELECT g,
        (SELECT array_agg(random()::real) FROM generate_series(1, %d) WHERE g IS NOT NULL)::vector,
        'title ' || g, g %%%% 100 FROM generate_series(%%s, %%s) g""" % (table, dim), (first, last))


def cpu_seconds(pid):
    """User + system CPU time of a process (the mirror worker), from /proc."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            fields = f.read().rsplit(')', 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')
    except (OSError, IndexError, ValueError):
        return float('nan')


def worker_pid(cur):
    cur.execute("SELECT vectorpg.mirror_worker_start()")
    pid = cur.fetchone()[0]
    for _ in range(100):
        if pid:
            return pid
        time.sleep(0.05)
        cur.execute("SELECT vectorpg.mirror_worker_start()")
        pid = cur.fetchone()[0]
    raise RuntimeError('no mirror worker')


def wait_for(cur, sql, timeout):
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        cur.execute(sql)
        if cur.fetchone()[0]:
            return True
        time.sleep(0.05)
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--host', required=True, help='PostgreSQL socket directory')
    ap.add_argument('--port', type=int, default=5432)
    ap.add_argument('--dbname', default='postgres')
    ap.add_argument('--dim', type=int, default=768)
    ap.add_argument('--rows', type=int, default=20000, help='rows to backfill')
    ap.add_argument('--rate', type=int, default=1000, help='rows/s of the lag test')
    ap.add_argument('--seconds', type=int, default=20, help='length of the lag test')
    ap.add_argument('--writes', type=int, default=1000, help='statements of the capture test')
    ap.add_argument('--quick', action='store_true', help='small sizes, for a smoke run')
    ap.add_argument('--out')
    args = ap.parse_args()
    if args.quick:
        args.rows, args.seconds, args.writes = 3000, 5, 200

    workdir = args.host
    proc, url = start_fake(workdir)
    try:
        report = run(args, url)
    finally:
        proc.terminate()
        proc.wait()
    text = '\n'.join(report) + '\n'
    sys.stdout.write(text)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text)


def run(args, url):
    dim = args.dim
    http('POST', url + '/_fake/config', {'log': False})
    create_index(url, 'bench', dim)
    create_index(url, 'lag', dim)
    conn = psycopg2.connect(host=args.host, port=args.port, dbname=args.dbname)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("SELECT count(*) FROM pg_extension WHERE extname = 'vectorpg'")
    if cur.fetchone()[0] == 0:
        cur.execute('CREATE EXTENSION vectorpg')
    cur.execute('DROP SERVER IF EXISTS mirror_bench CASCADE')
    for t in ('mb_src', 'mb_plain', 'mb_captured', 'mb_lag'):
        cur.execute('DROP TABLE IF EXISTS %s' % t)
    cur.execute("""CREATE SERVER mirror_bench FOREIGN DATA WRAPPER vectorpg_fdw
        OPTIONS (provider 'pinecone', url %s, allow_insecure 'true')""", (url,))
    cur.execute("CREATE USER MAPPING FOR CURRENT_USER SERVER mirror_bench OPTIONS (api_key %s)",
                (KEY,))
    for t, index in (('mb_remote', 'bench'), ('mb_lag_remote', 'lag')):
        cur.execute("""CREATE FOREIGN TABLE %s (id text, embedding vector(%d), metadata jsonb)
            SERVER mirror_bench OPTIONS (index '%s')""" % (t, dim, index))
    for t in ('mb_src', 'mb_plain', 'mb_captured', 'mb_lag'):
        cur.execute('CREATE TABLE %s (id bigint PRIMARY KEY, embedding vector(%d), '
                    'title text, n int)' % (t, dim))
    cur.execute("SELECT name, \"default\" FROM vectorpg.mirror_limits()")
    limits = dict(cur.fetchall())

    out = ['## Mirroring (issue 6)', '',
           'vectorpg %s, %d dimensions, the fake Pinecone on loopback (request log off); '
           'mirror batch_size %d (rows per worker transaction), the server\'s '
           'write_batch_size and write_parallelism at their defaults.' %
           (conn.server_version, dim, limits['batch_size']), '']

    # --- backfill ---------------------------------------------------------
    print('filling %d rows' % args.rows, file=sys.stderr)
    for start in range(1, args.rows + 1, 5000):
        fill(cur, 'mb_src', start, min(args.rows, start + 4999), dim)
    cur.execute('VACUUM ANALYZE mb_src')
    out += ['### Backfill', '',
            'From the vectorpg.mirror() call until the status view says the backfill is done. '
            'With write_parallelism 1 the fake handles one request at a time, so wall time '
            'minus the fake\'s handler time is the mirror\'s own time (reading the rows, '
            'building the bodies, HTTP, bookkeeping): "rows/s outside the fake".', '',
            '| write_parallelism | rows | wall s | rows/s | upsert requests | fake handler s | '
            'rows/s outside the fake | worker CPU s | rows per worker CPU s |',
            '|---|---|---|---|---|---|---|---|---|']
    for par in (None, 1):
        if par:
            cur.execute("ALTER FOREIGN TABLE mb_remote OPTIONS (ADD write_parallelism '%d')" % par)
        wpid = worker_pid(cur)
        c0 = cpu_seconds(wpid)
        s0 = stats(url)
        t0 = time.perf_counter()
        cur.execute("SELECT vectorpg.mirror('mb_src', 'mb_remote', metadata_columns => '{title,n}')")
        if not wait_for(cur, "SELECT NOT backfilling FROM vectorpg.mirror_status "
                        "WHERE name = 'mb_src'", 3600):
            raise RuntimeError('backfill did not finish')
        wall = time.perf_counter() - t0
        cpu = cpu_seconds(wpid) - c0
        s1 = stats(url)
        handler_s = (s1['handler_us'] - s0['handler_us']) / 1e6
        requests = s1['requests'] - s0['requests']
        cur.execute("SELECT rows_sent, last_error FROM vectorpg.mirror_status WHERE name = 'mb_src'")
        sent, err = cur.fetchone()
        outside = ('%.0f' % (sent / (wall - handler_s))) if par == 1 and wall > handler_s else '-'
        out.append('| %s | %d | %.2f | **%.0f** | %d | %.2f | %s | %.2f | %.0f |' % (
            par or 'default (4)', sent, wall, sent / wall, requests, handler_s, outside,
            cpu, sent / cpu if cpu > 0 else float('nan')))
        if err:
            out.append('')
            out.append('Last error during the backfill: `%s`' % err)
        cur.execute("SELECT vectorpg.mirror_drop('mb_src')")
        if par:
            cur.execute("ALTER FOREIGN TABLE mb_remote OPTIONS (DROP write_parallelism)")
    out.append('')

    # --- capture overhead ----------------------------------------------------
    print('capture overhead', file=sys.stderr)
    cur.execute("SELECT vectorpg.mirror('mb_captured', 'mb_remote', backfill => false)")
    cur.execute("SELECT vectorpg.mirror_pause('mb_captured')")
    vec = '[' + ','.join('0.5' for _ in range(dim)) + ']'
    rows = []
    for table in ('mb_plain', 'mb_captured'):
        t0 = time.perf_counter()
        for i in range(args.writes):
            cur.execute('INSERT INTO %s VALUES (%%s, %%s, %%s, %%s)' % table,
                        (i, vec, 'title', i))
        single = (time.perf_counter() - t0) / args.writes * 1e3
        t0 = time.perf_counter()
        cur.execute('INSERT INTO %s SELECT g + 1000000, %%s, %%s, g FROM generate_series(1, 10000) g'
                    % table, (vec, 'title'))
        multi = time.perf_counter() - t0
        t0 = time.perf_counter()
        cur.execute('UPDATE %s SET n = n + 1 WHERE id >= 1000000' % table)
        upd = time.perf_counter() - t0
        rows.append((table, single, multi, upd))
    cur.execute("SELECT vectorpg.mirror_drop('mb_captured')")
    out += ['### Capture overhead on the writer', '',
            '| table | single-row INSERT, ms per statement (%d statements, autocommit) | '
            'INSERT ... SELECT of 10,000 rows, s | UPDATE of 10,000 rows, s |' % args.writes,
            '|---|---|---|---|']
    for table, single, multi, upd in rows:
        out.append('| %s | %.3f | %.3f | %.3f |' % (
            'plain' if table == 'mb_plain' else 'mirrored (capture trigger)', single, multi, upd))
    out.append('')

    # --- steady-state lag ---------------------------------------------------------
    print('lag at %d rows/s for %d s' % (args.rate, args.seconds), file=sys.stderr)
    cur.execute("SELECT vectorpg.mirror('mb_lag', 'mb_lag_remote', metadata_columns => '{title,n}')")
    stop = threading.Event()
    written = [0]

    def writer():
        wconn = psycopg2.connect(host=args.host, port=args.port, dbname=args.dbname)
        wconn.autocommit = True
        wcur = wconn.cursor()
        per = 10
        interval = per / float(args.rate)
        nxt = time.perf_counter()
        i = 0
        while not stop.is_set():
            if i % 2 == 0 or i < 20:
                fill(wcur, 'mb_lag', i * per + 1, i * per + per, dim)
            else:
                wcur.execute('UPDATE mb_lag SET n = n + 1, title = %s WHERE id BETWEEN %s AND %s',
                             ('updated', (i - 19) * per + 1, (i - 19) * per + per))
            written[0] += per
            i += 1
            nxt += interval
            delay = nxt - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        wconn.close()

    th = threading.Thread(target=writer)
    s0 = stats(url)
    t0 = time.perf_counter()
    th.start()
    lags = []
    while time.perf_counter() - t0 < args.seconds:
        cur.execute("SELECT coalesce(extract(epoch FROM oldest_pending_age), 0), pending "
                    "FROM vectorpg.mirror_status WHERE name = 'mb_lag'")
        lag, pending = cur.fetchone()
        if time.perf_counter() - t0 > 2:    # after the warm-up
            lags.append(float(lag))
        time.sleep(0.1)
    stop.set()
    th.join()
    elapsed = time.perf_counter() - t0
    t1 = time.perf_counter()
    wait_for(cur, "SELECT pending = 0 FROM vectorpg.mirror_status WHERE name = 'mb_lag'", 600)
    drain = time.perf_counter() - t1
    s1 = stats(url)
    cur.execute("SELECT vectorpg.mirror_drop('mb_lag')")
    lags.sort()
    p95 = lags[int(len(lags) * 0.95) - 1] if lags else float('nan')
    out += ['### Steady-state lag', '',
            'Writer: one statement of 10 rows every 10 ms (inserts, then alternately inserts '
            'and updates); lag = the status view\'s oldest_pending_age, sampled every 100 ms.', '',
            '| target rows/s | achieved rows/s | seconds | lag median s | lag p95 s | lag max s | '
            'drain after the writer stopped, s | fake handler s |',
            '|---|---|---|---|---|---|---|---|',
            '| %d | %.0f | %.0f | %.2f | **%.2f** | %.2f | %.2f | %.2f |' % (
                args.rate, written[0] / elapsed, elapsed,
                statistics.median(lags) if lags else float('nan'), p95,
                lags[-1] if lags else float('nan'), drain,
                (s1['handler_us'] - s0['handler_us']) / 1e6),
            '']
    cur.execute('DROP SERVER mirror_bench CASCADE')
    for t in ('mb_src', 'mb_plain', 'mb_captured', 'mb_lag'):
        cur.execute('DROP TABLE IF EXISTS %s' % t)
    conn.close()
    return out


if __name__ == '__main__':
    main()
