"""The two Python steps of test/demo.sh: load the data, then query it.

    /usr/bin/python3 test/demo.py load  --host SOCKET_DIR
    /usr/bin/python3 test/demo.py query --host SOCKET_DIR

Needs test/bench/datasets.py (found next to this file, or in ./bench/).
`query` checks every answer against numpy's exact one and exits with status 1
when a returned row is wrong (its distance, label or the filter) or when a
query's recall is below --min-recall (default 1.0: exact answers).
"""

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "bench")]

import numpy as np          # noqa: E402
import psycopg2             # noqa: E402

import datasets             # noqa: E402

TABLE = "items"
K = 5


def say(msg=""):
    print(msg, flush=True)


def connect(args):
    conn = psycopg2.connect(host=args.host, port=args.port, dbname="postgres", user="postgres")
    conn.autocommit = True
    return conn


def mib(n):
    return "%.0f MiB" % (n / 1048576.0)


# ---------------------------------------------------------------------------
# load
# ---------------------------------------------------------------------------

def cmd_load(args):
    ds = datasets.load_fashion_mnist(quiet=True)
    if ds.generated:
        say("    data: %s (Fashion-MNIST is missing: see the warning above)" % ds.description)
    else:
        say("    data: %s" % ds.description)
    say("    %s base vectors (with their class labels) x %d dims, %s query vectors"
        % (format(ds.train.shape[0], ","), ds.dim, format(ds.test.shape[0], ",")))

    conn = connect(args)
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION IF NOT EXISTS vectorpg")
    cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'vectorpg'")
    version = cur.fetchone()[0]
    cur.execute("SELECT vectorpg_kernel()")
    say("    vectorpg %s, distance kernels: %s" % (version, cur.fetchone()[0]))

    conn.autocommit = False
    datasets.create_items_table(conn, TABLE, ds.dim, with_label=True)
    say("    CREATE TABLE %s (id int, label int, embedding vector(%d))" % (TABLE, ds.dim))
    seconds, nbytes = datasets.copy_into_table(conn, TABLE, ds.train, labels=ds.train_labels)
    conn.autocommit = True
    rows = ds.train.shape[0]
    say("    COPY %s FROM STDIN (FORMAT binary): %s rows in %.2f s (%s rows/s, %.0f MB/s)"
        % (TABLE, format(rows, ","), seconds, format(int(rows / seconds), ","),
           nbytes / seconds / 1e6))
    t0 = time.perf_counter()
    cur.execute("VACUUM ANALYZE %s" % TABLE)
    say("    VACUUM ANALYZE: %.2f s" % (time.perf_counter() - t0))
    cur.execute("SELECT pg_total_relation_size(%s), count(pg_column_compression(embedding)) "
                "FROM " + TABLE, (TABLE,))
    size, compressed = cur.fetchone()
    cur.execute("SELECT attstorage FROM pg_attribute "
                "WHERE attrelid = %s::regclass AND attname = 'embedding'", (TABLE,))
    storage = {"p": "plain", "m": "main", "e": "external", "x": "extended"}.get(
        cur.fetchone()[0], "?")
    say("    table size %s; column storage %s; %s of %s vectors stored compressed"
        % (mib(size), storage, format(compressed, ","), format(rows, ",")))
    conn.close()
    return 0


# ---------------------------------------------------------------------------
# query
# ---------------------------------------------------------------------------

def plan_of(cur, sql, params):
    """The plan's node chain, e.g. 'Limit > Sort > Seq Scan on items'."""
    cur.execute("EXPLAIN " + sql, params)
    nodes = []
    for (line,) in cur.fetchall():
        text = line.strip().lstrip("->").strip()
        if line.startswith(" ") and not line.lstrip().startswith("->"):
            continue                        # details such as Sort Key
        nodes.append(text.split("  (")[0])
    return " > ".join(nodes)


def check(ds, query, found, metric, mask):
    """Compare an answer [(id, label, distance)] with numpy's exact top-K.

    Returns (true ids, hits, problems).  problems lists what is wrong with
    the rows themselves (a distance that is not the row's real distance, a
    row that fails the filter, a wrong label, order, duplicates): always an
    error.  hits counts the rows that belong in the exact top-K; ties may
    come in any order, so a row counts when its distance is within the true
    K-th distance."""
    ids, dists = datasets.exact_knn(ds.train, query[None, :], K, metric, mask=mask)
    ids, dists = ids[0], dists[0]
    problems = []
    seen = set()
    kth = dists[len(dists) - 1]
    hits = 0
    last = -np.inf
    for rank, (fid, flabel, fdist) in enumerate(found, 1):
        real = datasets.distances_to(ds.train, query, [fid], metric)[0]
        if not np.isclose(fdist, real, rtol=1e-6, atol=1e-9):
            problems.append("rank %d: id %d lies at %.6g, not %.6g" % (rank, fid, real, fdist))
        if mask is not None and not mask[fid]:
            problems.append("rank %d: id %d does not pass the filter" % (rank, fid))
        if flabel != ds.train_labels[fid]:
            problems.append("rank %d: id %d has label %d, loaded %d"
                            % (rank, fid, flabel, ds.train_labels[fid]))
        if fid in seen:
            problems.append("rank %d: id %d returned twice" % (rank, fid))
        if fdist < last - 1e-9 * max(1.0, abs(last)):
            problems.append("rank %d: distance %.6g is smaller than the rank before" % (rank, fdist))
        seen.add(fid)
        last = fdist
        if real <= kth + 1e-6 * max(1.0, abs(kth)):
            hits += 1
    return ids, min(hits, len(ids)), problems


def cmd_query(args):
    ds = datasets.load_fashion_mnist(quiet=True)
    conn = connect(args)
    cur = conn.cursor()
    # More candidates than the default 40 for near-exact answers, and an
    # iterative scan so that the filtered query still gets all its rows
    cur.execute("SET hnsw.ef_search = 200")
    cur.execute("SET hnsw.iterative_scan = relaxed_order")
    say("    SET hnsw.ef_search = 200; SET hnsw.iterative_scan = relaxed_order")

    l2 = ("SELECT id, label, embedding <-> %(q)s AS distance FROM items "
          "ORDER BY embedding <-> %(q)s LIMIT " + str(K))
    l2_filtered = ("SELECT id, label, embedding <-> %(q)s AS distance FROM items "
                   "WHERE label = %(label)s ORDER BY embedding <-> %(q)s LIMIT " + str(K))
    cosine = ("SELECT id, label, embedding <=> %(q)s AS distance FROM items "
              "ORDER BY embedding <=> %(q)s LIMIT " + str(K))
    # (description, SQL, test image, metric, filter on label?)
    queries = [("L2", l2, i, "l2", False) for i in range(5)]
    queries.append(("L2, only images of the query's class (WHERE label = ...)",
                    l2_filtered, 5, "l2", True))
    queries.append(("cosine distance (<=>)", cosine, 6, "cosine", False))

    failures = 0
    total_hits = total_wanted = 0
    times = []
    for n, (desc, sql, qi, metric, filtered) in enumerate(queries, 1):
        query = ds.test[qi]
        qlabel = int(ds.test_labels[qi])
        params = {"q": datasets.vector_literal(query), "label": qlabel}
        shown = sql.replace("%(q)s", "$1").replace("%(label)s", str(qlabel))
        say("")
        say("Query %d/%d: the %d nearest neighbours of test %s #%d (%s), %s"
            % (n, len(queries), K, "vector" if ds.generated else "image", qi,
               ds.class_name(qlabel), desc))
        say("  SQL:  %s" % shown)
        say("  plan: %s" % plan_of(cur, sql, params))
        t0 = time.perf_counter()
        cur.execute(sql, params)
        found = cur.fetchall()
        ms = (time.perf_counter() - t0) * 1e3
        times.append(ms)
        say("  %4s  %6s  %-12s  %s" % ("rank", "id", "label", "distance"))
        for rank, (fid, flabel, fdist) in enumerate(found, 1):
            say("  %4d  %6d  %-12s  %.4f" % (rank, fid, ds.class_name(flabel), fdist))
        mask = ds.train_labels == qlabel if filtered else None
        true_ids, hits, problems = check(ds, query, found, metric, mask)
        same_labels = sum(1 for f in found if f[1] == qlabel)
        # The same query as an exact scan, for comparison
        cur.execute("SET enable_indexscan = off")
        t0 = time.perf_counter()
        cur.execute(sql, params)
        cur.fetchall()
        exact_ms = (time.perf_counter() - t0) * 1e3
        cur.execute("RESET enable_indexscan")
        say("  time: %.1f ms (the same query as an exact scan: %.1f ms); "
            "%d of %d neighbours share the query's class"
            % (ms, exact_ms, same_labels, len(found)))
        recall = hits / float(len(true_ids))
        total_hits += hits
        total_wanted += len(true_ids)
        truth = ", ".join(str(i) for i in true_ids)
        if problems or recall < args.min_recall:
            failures += 1
            say("  CHECK FAILED: %d of %d rows are in numpy's exact top %d (ids %s)%s"
                % (hits, len(true_ids), K, truth, ":" if problems else ""))
            for p in problems:
                say("    - " + p)
        elif recall == 1.0:
            say("  check: same as numpy's exact answer (ids and distances)")
        else:
            say("  check: %d of %d rows are in numpy's exact top %d (ids %s); "
                "distances correct" % (hits, len(true_ids), K, truth))
    conn.close()
    say("")
    say("Summary: %d queries, %.1f ms median, %.1f ms total (the first query also reads the "
        "table into PostgreSQL's buffer cache)"
        % (len(times), float(np.median(times)), sum(times)))
    say("         recall %d/%d = %.3f against numpy's exact answers (required per query: %.2f); %s"
        % (total_hits, total_wanted, total_hits / float(total_wanted), args.min_recall,
           "all checks passed" if not failures else "%d QUERY CHECK(S) FAILED" % failures))
    return 1 if failures else 0


def main():
    p = argparse.ArgumentParser(description="vectorpg demo steps")
    p.add_argument("step", choices=["load", "query"])
    p.add_argument("--host", required=True, help="socket directory of the server")
    p.add_argument("--port", type=int, default=5432)
    p.add_argument("--min-recall", type=float, default=1.0,
                   help="recall each query must reach (1.0: exact answers, as for "
                        "exact scans; lower it for an approximate index)")
    args = p.parse_args()
    return cmd_load(args) if args.step == "load" else cmd_query(args)


if __name__ == "__main__":
    sys.exit(main())
