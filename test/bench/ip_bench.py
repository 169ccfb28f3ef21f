#!/usr/bin/python3
"""Inner product (or cosine): how the hnsw graph for vector_ip_ops reaches its
elements and finds the top k, against hnswlib's inner-product index and the
exact scan.  --metric cosine measures vector_cosine_ops the same way, against
hnswlib's cosine space.

An hnsw index for <#> links its elements by a distance between stored
vectors (doc/hnsw.md, "Inner product links"), and searches by inner product.
This benchmark measures what that choice is for, on two data sets:

  - Fashion-MNIST (784 dimensions, pixel values 0-255: no negative
    components, the case where linking by inner product itself leaves most
    elements unreachable), or the generated mixture when it is missing;
  - a 128-dimension standard Gaussian (components of both signs).

For each: CREATE INDEX time, elements unreachable from the entry point
(hnsw_index_check), recall@k and QPS of `ORDER BY embedding <#> q LIMIT k`
over a range of hnsw.ef_search, a filtered query that must return k rows
(`WHERE id % 100 = 0`, iterative scan), hnswlib (space "ip", the same m and
ef_construction, which links by inner product) at the same ef values, and the
exact scan.  Recall counts ties (datasets.recall).

    /usr/bin/python3 test/bench/ip_bench.py --host /path/to/socket [--quick]
        [--metric ip|cosine]

test/bench/run.sh runs it with VPG_BENCH=ip (IP_ARGS="--metric cosine" for
cosine); it writes ip.json and ip.md (cosine.json, cosine.md) to --out-dir.
"""

import argparse
import json
import os
import sys
import time

import numpy as np
import psycopg2

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datasets                     # noqa: E402  (the module next to this file)
from datasets import log, table_md  # noqa: E402

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))

# metric: (operator class, ordering operator, hnswlib space, report title)
METRICS = {
    "ip": ("vector_ip_ops", "<#>", "ip", "Inner product (`vector_ip_ops`)"),
    "cosine": ("vector_cosine_ops", "<=>", "cosine", "Cosine (`vector_cosine_ops`)"),
}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default=os.environ.get("PGHOST", "/var/run/postgresql"))
    p.add_argument("--port", type=int, default=int(os.environ.get("PGPORT", "5432")))
    p.add_argument("--dbname", default="postgres")
    p.add_argument("--user", default=None)
    p.add_argument("--quick", action="store_true",
                   help="development run: 20,000 base vectors, 100 queries")
    p.add_argument("--base", type=int, help="base vectors per data set (default 60000; quick 20000)")
    p.add_argument("--queries", type=int, help="query vectors (default 500; quick 100)")
    p.add_argument("--ef", default="10,20,40,80,120,200")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=64)
    p.add_argument("--metric", choices=sorted(METRICS), default="ip")
    p.add_argument("--skip-hnswlib", action="store_true")
    p.add_argument("--cache-dir", default=datasets.DEFAULT_CACHE_DIR)
    p.add_argument("--out-dir", default=os.path.join(BENCH_DIR, "out"))
    a = p.parse_args()
    a.base = a.base or (20000 if a.quick else 60000)
    a.queries = a.queries or (100 if a.quick else 500)
    a.ef = [int(x) for x in a.ef.split(",") if x]
    return a


def gaussian(n, nq, dim=128, seed=7):
    """Standard Gaussian vectors: components of both signs, norms near sqrt(dim)."""
    rng = np.random.default_rng(seed)
    train = rng.standard_normal((n, dim)).astype(np.float32)
    test = rng.standard_normal((nq, dim)).astype(np.float32)
    zeros = np.zeros(n, dtype=np.int32)
    return datasets.Dataset("gaussian-%d" % dim, "gauss%d-s%d" % (dim, seed), train, zeros,
                            test, np.zeros(nq, dtype=np.int32), True,
                            "standard Gaussian, %d dimensions" % dim)


def subset(ds, n, nq):
    """The first n base and nq query vectors of a data set."""
    return datasets.Dataset(ds.name, "%s-%d" % (ds.source, n), ds.train[:n], ds.train_labels[:n],
                            ds.test[:nq], ds.test_labels[:nq], ds.generated, ds.description)


def timed_queries(fn, items):
    """fn over items once untimed, then once timed: (answers, QPS)."""
    for it in items[:20]:
        fn(it)
    t0 = time.perf_counter()
    found = [fn(it) for it in items]
    return found, len(items) / (time.perf_counter() - t0)


def mean_recall(found, ds, truth, k, metric):
    return float(np.mean([datasets.recall(f, ds.train, ds.test[i], truth[i], k, metric=metric)
                          for i, f in enumerate(found)]))


def run_dataset(conn, ds, args, hnswlib):
    """Every measurement of one data set; returns a dict for the report."""
    cur = conn.cursor()
    k = args.k
    opclass, op, space, _ = METRICS[args.metric]
    metric = args.metric
    R = {"name": ds.name, "description": ds.description, "base": int(ds.train.shape[0]),
         "dim": ds.dim, "queries": int(ds.test.shape[0]), "generated": ds.generated}
    cur.execute("DROP TABLE IF EXISTS ipb")
    cur.execute("CREATE TABLE ipb (id int, label int, embedding vector(%d)) "
                "WITH (autovacuum_enabled = false)" % ds.dim)
    datasets.copy_into_table(conn, "ipb", ds.train, labels=ds.train_labels)
    conn.autocommit = True
    cur.execute("VACUUM ANALYZE ipb")
    cur.execute("SET maintenance_work_mem = '2GB'")
    t0 = time.perf_counter()
    cur.execute("CREATE INDEX ipb_idx ON ipb USING hnsw (embedding %s) "
                "WITH (m = %d, ef_construction = %d)" % (opclass, args.m, args.ef_construction))
    R["build_s"] = time.perf_counter() - t0
    cur.execute("SELECT count(*) FROM hnsw_index_check('ipb_idx', false, true)")
    R["unreachable"] = cur.fetchone()[0]
    log("%s: built in %.1f s, %d unreachable" % (ds.name, R["build_s"], R["unreachable"]))

    truth_ids, truth = datasets.exact_knn(ds.train, ds.test, k, metric)
    lits = [datasets.vector_literal(q) for q in ds.test]
    cur.execute("PREPARE q(vector) AS SELECT id FROM ipb ORDER BY embedding %s $1 LIMIT %d" % (op, k))

    def one(lit):
        cur.execute("EXECUTE q(%s)", (lit,))
        return [r[0] for r in cur.fetchall()]

    R["ours"] = []
    for ef in args.ef:
        cur.execute("SET hnsw.ef_search = %d" % ef)
        found, qps = timed_queries(one, lits)
        R["ours"].append({"ef": ef, "recall": mean_recall(found, ds, truth, k, metric), "qps": qps})
        log("  vectorpg ef %d: recall %.3f, %.0f QPS" % (ef, R["ours"][-1]["recall"], qps))

    # The filtered query: 1 % of the rows match, and each query must get k
    cur.execute("SET hnsw.ef_search = 40")
    cur.execute("SET hnsw.iterative_scan = relaxed_order")
    mask = (np.arange(ds.train.shape[0]) % 100) == 0
    _, ftruth = datasets.exact_knn(ds.train, ds.test, k, metric, mask=mask)
    cur.execute("PREPARE f(vector) AS SELECT id FROM ipb WHERE id %% 100 = 0 "
                "ORDER BY embedding %s $1 LIMIT %d" % (op, k))

    def filtered(lit):
        cur.execute("EXECUTE f(%s)", (lit,))
        return [r[0] for r in cur.fetchall()]

    found, qps = timed_queries(filtered, lits)
    rows = np.array([len(f) for f in found])
    R["filtered"] = {"qps": qps, "recall": mean_recall(found, ds, ftruth, k, metric),
                     "rows_avg": float(rows.mean()), "short": int((rows < k).sum())}
    cur.execute("RESET hnsw.iterative_scan")
    log("  filtered: %.1f rows on average, %d queries short, recall %.3f"
        % (R["filtered"]["rows_avg"], R["filtered"]["short"], R["filtered"]["recall"]))

    # The exact scan, on a few queries (not through q: a cached generic
    # plan would keep the index scan whatever enable_indexscan says)
    cur.execute("DEALLOCATE ALL")
    cur.execute("SET enable_indexscan = off")

    def exact(lit):
        cur.execute("SELECT id FROM ipb ORDER BY embedding %s %%s LIMIT %d" % (op, k), (lit,))
        return [r[0] for r in cur.fetchall()]

    found, R["exact_qps"] = timed_queries(exact, lits[:50])
    R["exact_recall"] = float(np.mean([datasets.recall(f, ds.train, ds.test[i], truth[i], k,
                                                       metric=metric)
                                       for i, f in enumerate(found)]))
    cur.execute("RESET enable_indexscan")

    R["hnswlib"] = []
    if hnswlib is not None:
        idx = hnswlib.Index(space=space, dim=ds.dim)
        idx.init_index(max_elements=ds.train.shape[0], M=args.m,
                       ef_construction=args.ef_construction, random_seed=100)
        t0 = time.perf_counter()
        idx.add_items(ds.train, np.arange(ds.train.shape[0]), num_threads=1)
        R["hnswlib_build_s"] = time.perf_counter() - t0
        idx.set_num_threads(1)
        for ef in args.ef:
            idx.set_ef(max(ef, k))
            found, qps = timed_queries(lambda q: idx.knn_query(q[None, :], k=k)[0][0],
                                       list(ds.test))
            R["hnswlib"].append({"ef": ef, "recall": mean_recall(found, ds, truth, k, metric),
                                 "qps": qps})
    cur.execute("DROP TABLE ipb")
    return R


def report(results, args):
    out = ["# " + METRICS[args.metric][3], "",
           "m = %d, ef_construction = %d, k = %d; one client; hnswlib single-threaded "
           "(build and queries)." % (args.m, args.ef_construction, args.k), ""]
    for R in results:
        out.append("## %s: %d × %d, %d queries%s" % (
            R["name"], R["base"], R["dim"], R["queries"], " (generated)" if R["generated"] else ""))
        out.append("")
        out.append("Build %.1f s%s; unreachable elements: %d; exact scan %.1f QPS; filtered "
                   "(1 %% match, relaxed_order, ef 40): %.2f rows of %d on average, %d queries "
                   "short, recall %.3f, %.0f QPS." % (
                       R["build_s"], ", hnswlib %.1f s" % R["hnswlib_build_s"]
                       if "hnswlib_build_s" in R else "", R["unreachable"], R["exact_qps"],
                       R["filtered"]["rows_avg"], args.k, R["filtered"]["short"],
                       R["filtered"]["recall"], R["filtered"]["qps"]))
        out.append("")
        theirs = {h["ef"]: h for h in R["hnswlib"]}
        rows = [[str(o["ef"]), "%.3f" % o["recall"], "%.0f" % o["qps"],
                 "%.3f" % theirs[o["ef"]]["recall"] if o["ef"] in theirs else "—",
                 "%.0f" % theirs[o["ef"]]["qps"] if o["ef"] in theirs else "—"]
                for o in R["ours"]]
        out.append(table_md(["ef_search", "recall", "QPS", "hnswlib recall", "hnswlib QPS"],
                            rows))
        out.append("")
    return "\n".join(out)


def main():
    args = parse_args()
    try:
        import hnswlib
    except ImportError:
        hnswlib = None
    if args.skip_hnswlib:
        hnswlib = None
    conn = psycopg2.connect(host=args.host, port=args.port, dbname=args.dbname, user=args.user)
    conn.autocommit = True
    conn.cursor().execute("CREATE EXTENSION IF NOT EXISTS vectorpg")
    fm = datasets.load_fashion_mnist()
    sets = [subset(fm, args.base, args.queries), gaussian(args.base, args.queries)]
    results = [run_dataset(conn, ds, args, hnswlib) for ds in sets]
    os.makedirs(args.out_dir, exist_ok=True)
    with open(os.path.join(args.out_dir, args.metric + ".json"), "w") as f:
        json.dump({"args": vars(args), "results": results}, f, indent=1)
    md = report(results, args)
    with open(os.path.join(args.out_dir, args.metric + ".md"), "w") as f:
        f.write(md + "\n")
    print(md)


if __name__ == "__main__":
    main()
