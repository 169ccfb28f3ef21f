"""The two Python steps of test/demo.sh: load the data, then query it.

    /usr/bin/python3 test/demo.py load  --host SOCKET_DIR
    /usr/bin/python3 test/demo.py query --host SOCKET_DIR

Needs test/bench/datasets.py (found next to this file, or in ./bench/).
`query` exits with status 1 when an answer differs from numpy's exact one.
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
    say("    table size %s; %s of %s vectors stored compressed"
        % (mib(size), format(compressed, ","), format(rows, ",")))
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
    Ties are allowed to come in any order: the distances must agree rank by
    rank, and each returned id must really lie at its returned distance."""
    ids, dists = datasets.exact_knn(ds.train, query[None, :], K, metric, mask=mask)
    ids, dists = ids[0], dists[0]
    problems = []
    if len(found) != len(ids):
        problems.append("%d rows, expected %d" % (len(found), len(ids)))
    for rank, ((fid, flabel, fdist), tdist) in enumerate(zip(found, dists), 1):
        if not np.isclose(fdist, tdist, rtol=1e-6, atol=1e-9):
            problems.append("rank %d: distance %.6g, numpy says %.6g" % (rank, fdist, tdist))
        real = datasets.distances_to(ds.train, query, [fid], metric)[0]
        if not np.isclose(fdist, real, rtol=1e-6, atol=1e-9):
            problems.append("rank %d: id %d lies at %.6g, not %.6g" % (rank, fid, real, fdist))
        if mask is not None and not mask[fid]:
            problems.append("rank %d: id %d does not pass the filter" % (rank, fid))
        if flabel != ds.train_labels[fid]:
            problems.append("rank %d: id %d has label %d, loaded %d"
                            % (rank, fid, flabel, ds.train_labels[fid]))
    return ids, problems


def cmd_query(args):
    ds = datasets.load_fashion_mnist(quiet=True)
    conn = connect(args)
    cur = conn.cursor()

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
        true_ids, problems = check(ds, query, found, metric, mask)
        same_labels = sum(1 for f in found if f[1] == qlabel)
        say("  time: %.1f ms; %d of %d neighbours share the query's class"
            % (ms, same_labels, len(found)))
        if problems:
            failures += 1
            say("  CHECK FAILED against numpy's exact answer (ids %s):"
                % ", ".join(str(i) for i in true_ids))
            for p in problems:
                say("    - " + p)
        else:
            say("  check: same as numpy's exact answer (ids and distances)")
    conn.close()
    say("")
    say("Summary: %d queries, %.1f ms median, %.1f ms total; %s"
        % (len(times), float(np.median(times)), sum(times),
           "all answers exact" if not failures else "%d WRONG ANSWER(S)" % failures))
    return 1 if failures else 0


def main():
    p = argparse.ArgumentParser(description="vectorpg demo steps")
    p.add_argument("step", choices=["load", "query"])
    p.add_argument("--host", required=True, help="socket directory of the server")
    p.add_argument("--port", type=int, default=5432)
    args = p.parse_args()
    return cmd_load(args) if args.step == "load" else cmd_query(args)


if __name__ == "__main__":
    sys.exit(main())
