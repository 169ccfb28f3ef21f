"""Exact-scan benchmark: top-k by sequential scan in PostgreSQL, per storage
variant of the vector column, against numpy brute force and the machine's
memory bandwidth.

Normally started by test/bench/run.sh, which starts a throwaway cluster;
by hand, against a running server that has vectorpg installed:

    /usr/bin/python3 test/bench/exact_scan.py --host /path/to/socket/dir

Progress goes to stderr; the Markdown report goes to stdout and to --out.
"""

import argparse
import datetime
import json
import os
import platform
import sys
import threading
import time

import numpy as np
import psycopg2
import psycopg2.errors

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import datasets                     # noqa: E402  (the module next to this file)
from datasets import log, cpu_model, mem_total_gib, table_md   # noqa: E402

# Storage variants of the vector column: key, description, column STORAGE
# set after CREATE TABLE (None: whatever the extension gives a new table, which
# is the type's STORAGE main unless its inline-storage event trigger, where
# installed, changes it), table WITH options, column COMPRESSION
VARIANTS = [
    ("default", "extension default (no storage clause)", None, None, None),
    ("main", "MAIN (the type's STORAGE)", "MAIN", None, None),
    ("main_ttt", "MAIN, toast_tuple_target = 8160", "MAIN", "toast_tuple_target = 8160", None),
    ("main_lz4", "MAIN, COMPRESSION lz4", "MAIN", None, "lz4"),
    ("extended", "EXTENDED", "EXTENDED", None, None),
    ("external", "EXTERNAL (pgvector's default)", "EXTERNAL", None, None),
    ("plain", "PLAIN", "PLAIN", None, None),
]

# Timed runs: variant key, label, settings for the run
PAR_DEFAULT = "parallel <= 2 (default)"
PAR_NONE = "parallel off"
PAR_FORCED = "parallel forced"
SETTING_NOTES = [
    (PAR_DEFAULT, "the server's max_parallel_workers_per_gather = 2; the planner decides"),
    (PAR_NONE, "SET max_parallel_workers_per_gather = 0"),
    (PAR_FORCED, "SET parallel_setup_cost = 0, parallel_tuple_cost = 0, so that the planner "
                 "picks the parallel plan it otherwise rejects"),
]
RUNS = [
    ("default", PAR_DEFAULT, {}),
    ("default", PAR_NONE, {"max_parallel_workers_per_gather": "0"}),
    ("main", PAR_DEFAULT, {}),
    ("main", PAR_NONE, {"max_parallel_workers_per_gather": "0"}),
    ("main_ttt", PAR_DEFAULT, {}),
    ("main_ttt", PAR_FORCED, {"parallel_setup_cost": "0", "parallel_tuple_cost": "0"}),
    ("main_lz4", PAR_DEFAULT, {}),
    ("extended", PAR_DEFAULT, {}),
    ("external", PAR_DEFAULT, {}),
    ("plain", PAR_DEFAULT, {}),
]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default=os.environ.get("PGHOST", "/var/run/postgresql"),
                   help="server socket directory (default $PGHOST)")
    p.add_argument("--port", type=int, default=int(os.environ.get("PGPORT", "5432")))
    p.add_argument("--dbname", default="postgres")
    p.add_argument("--user", default="postgres")
    p.add_argument("--queries", type=int, default=100, help="timed queries per run")
    p.add_argument("--warmup", type=int, default=3, help="untimed queries before each run")
    p.add_argument("--rounds", type=int, default=5,
                   help="interleaved rounds the timed queries are split into")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--max-seconds", type=float, default=30.0,
                   help="a run that has taken this long (with at least 10 queries) "
                        "sits out the remaining rounds")
    p.add_argument("--variants", default=",".join(v[0] for v in VARIANTS),
                   help="comma-separated subset of: %s" % ", ".join(v[0] for v in VARIANTS))
    p.add_argument("--generated", action="store_true",
                   help="use the generated Gaussian mixture even if Fashion-MNIST is there")
    p.add_argument("--cache-dir", default=datasets.DEFAULT_CACHE_DIR)
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                 "out", "exact_scan.md"))
    p.add_argument("--command", default=None, help="command line to quote in the report")
    return p.parse_args()


# ---------------------------------------------------------------------------
# Machine and server facts
# ---------------------------------------------------------------------------

def hugepages_total():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("HugePages_Total:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def blas_libraries():
    """The BLAS shared objects numpy actually loaded (from /proc/self/maps)."""
    libs = set()
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1]
                if "blas" in os.path.basename(path) or "mkl" in os.path.basename(path):
                    libs.add(os.path.realpath(path))
    except OSError:
        pass
    return ", ".join(sorted(libs)) or "unknown"


def server_facts(cur):
    facts = {}
    cur.execute("SELECT version()")
    facts["version"] = cur.fetchone()[0]
    cur.execute("SELECT vectorpg_kernel()")
    facts["kernel"] = cur.fetchone()[0]
    cur.execute("SELECT extversion FROM pg_extension WHERE extname = 'vectorpg'")
    facts["extversion"] = cur.fetchone()[0]
    for name in ("shared_buffers", "maintenance_work_mem", "work_mem", "fsync",
                 "max_parallel_workers_per_gather", "max_parallel_workers",
                 "huge_pages", "jit", "default_toast_compression", "max_wal_size"):
        cur.execute("SHOW %s" % name)
        facts[name] = cur.fetchone()[0]
    return facts


# ---------------------------------------------------------------------------
# Loading and inspecting one storage variant
# ---------------------------------------------------------------------------

def load_variant(conn, cur, key, storage, options, compression, ds):
    table = "items_" + key
    datasets.create_items_table(conn, table, ds.dim, with_label=True,
                                storage=storage, table_options=options,
                                compression=compression)
    seconds, nbytes = datasets.copy_into_table(conn, table, ds.train, labels=ds.train_labels)
    conn.autocommit = True
    t0 = time.perf_counter()
    cur.execute("VACUUM (FREEZE, ANALYZE) %s" % table)
    vacuum_s = time.perf_counter() - t0
    cur.execute("CHECKPOINT")
    log("  %-9s loaded in %.1f s (%.0f MB/s), VACUUM %.1f s"
        % (key, seconds, nbytes / seconds / 1e6, vacuum_s))
    return table, seconds


def inspect_variant(cur, table):
    """Sizes, storage and compression of the embedding column of table."""
    st = {}
    cur.execute("""
        SELECT c.oid, c.reltoastrelid, pg_relation_size(c.oid), pg_total_relation_size(c.oid),
               CASE WHEN c.reltoastrelid <> 0 THEN pg_total_relation_size(c.reltoastrelid) END,
               c.relpages, a.attstorage, c.reloptions, a.attcompression
        FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'embedding'
        WHERE c.oid = %s::regclass""", (table,))
    (_, toastrel, st["heap"], st["total"], st["toast"], st["pages"],
     st["attstorage"], st["reloptions"], st["attcompression"]) = cur.fetchone()
    cur.execute("""
        SELECT count(*), count(pg_column_compression(embedding)),
               coalesce(string_agg(DISTINCT pg_column_compression(embedding), ','), ''),
               avg(pg_column_size(embedding))
        FROM %s""" % table)
    st["rows"], st["compressed"], st["methods"], st["avg_size"] = cur.fetchone()
    st["avg_size"] = float(st["avg_size"])
    if toastrel:
        cur.execute("SELECT %s::regclass::text", (toastrel,))
        toast_name = cur.fetchone()[0]
        cur.execute("SELECT count(DISTINCT chunk_id), count(*) FROM %s" % toast_name)
        st["external"], st["chunks"] = cur.fetchone()
        st["toast_name"] = toast_name
    else:
        st["external"], st["chunks"], st["toast_name"] = 0, 0, None
    st["volume"] = st["heap"] + (st["toast"] or 0)
    return st


def prewarm(cur, table, st):
    """Read the table (and its TOAST table and index) into shared_buffers."""
    cur.execute("SELECT pg_prewarm(%s::regclass)", (table,))
    if st["toast_name"]:
        cur.execute("SELECT pg_prewarm(%s::regclass)", (st["toast_name"],))
        cur.execute("""SELECT pg_prewarm(indexrelid) FROM pg_index
                       WHERE indrelid = %s::regclass""", (st["toast_name"],))


# ---------------------------------------------------------------------------
# Timed runs
# ---------------------------------------------------------------------------

def plan_shape(cur, stmt, lit):
    """Node chain of a prepared query's plan, and workers planned/launched."""
    cur.execute("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) EXECUTE %s('%s')" % (stmt, lit))
    doc = cur.fetchone()[0]
    if isinstance(doc, str):
        doc = json.loads(doc)
    node = doc[0]["Plan"]
    names, planned, launched = [], 0, 0
    while node is not None:
        names.append(("Parallel " if node.get("Parallel Aware") else "") + node["Node Type"])
        planned = max(planned, node.get("Workers Planned", 0))
        launched = max(launched, node.get("Workers Launched", 0))
        node = node.get("Plans", [None])[0]
    return " > ".join(names), planned, launched


def timed_queries(cur, sql_texts, max_seconds, min_queries=10):
    """Run each statement and fetch its rows; returns (rows per query,
    seconds per query).  Stops early after max_seconds."""
    results, times = [], []
    start = time.perf_counter()
    for sql in sql_texts:
        t0 = time.perf_counter()
        cur.execute(sql)
        rows = cur.fetchall()
        times.append(time.perf_counter() - t0)
        results.append(rows)
        if len(times) >= min_queries and time.perf_counter() - start > max_seconds:
            break
    return results, np.array(times)


def with_settings(cur, settings, fn):
    """Call fn() with the run's SET commands in force, then RESET ALL."""
    for name, value in settings.items():
        cur.execute("SET %s = %s" % (name, value))
    try:
        return fn()
    finally:
        cur.execute("RESET ALL")


def prepare_run(cur, run, warm_lits, k):
    """PREPARE the run's top-k statement, record its plan, warm it up."""
    def go():
        cur.execute("PREPARE %s(vector) AS SELECT id FROM %s ORDER BY embedding <-> $1 LIMIT %d"
                    % (run["stmt"], run["table"], k))
        run["plan"], run["planned"], run["launched"] = plan_shape(cur, run["stmt"], warm_lits[0])
        for lit in warm_lits:
            cur.execute("EXECUTE %s('%s')" % (run["stmt"], lit))
            cur.fetchall()
    with_settings(cur, run["settings"], go)


def interleaved_runs(cur, runs, lits, rounds, max_seconds, min_queries=10):
    """Time every run on the same queries, in rounds: each round gives each run
    its next slice of the queries, in a rotating order, so that a change in
    the machine's load during the benchmark touches all runs alike.  A run
    that has used up max_seconds (with at least min_queries) sits out the
    remaining rounds."""
    slices = [list(x) for x in np.array_split(np.arange(len(lits)), rounds) if len(x)]
    for run in runs:
        run["rows"], run["times"], run["round_qps"] = {}, {}, []
    for rnd, idx in enumerate(slices):
        shift = rnd % len(runs)
        for run in runs[shift:] + runs[:shift]:
            spent = sum(run["times"].values())
            if spent > max_seconds and len(run["times"]) >= min_queries:
                continue

            def go(run=run, idx=idx):
                t_round = 0.0
                for i in idx:
                    t0 = time.perf_counter()
                    cur.execute("EXECUTE %s('%s')" % (run["stmt"], lits[i]))
                    run["rows"][i] = [r[0] for r in cur.fetchall()]
                    dt = time.perf_counter() - t0
                    run["times"][i] = dt
                    t_round += dt
                run["round_qps"].append(len(idx) / t_round)
            with_settings(cur, run["settings"], go)
        log("  round %d/%d done" % (rnd + 1, len(slices)))


def summarize_run(run, ds, gt_dists, k):
    times = np.array(list(run["times"].values()))
    rec = np.mean([datasets.recall(ids, ds.train, ds.test[i], gt_dists[i], k)
                   for i, ids in run["rows"].items()])
    return {"n": len(times), "total": times.sum(), "qps": len(times) / times.sum(),
            "p50": np.median(times) * 1e3, "p95": np.percentile(times, 95) * 1e3,
            "qps_min": min(run["round_qps"]), "qps_max": max(run["round_qps"]),
            "recall": rec, "plan": run["plan"], "planned": run["planned"],
            "launched": run["launched"]}


BREAKDOWN_VARIANTS = ("default", "main", "main_lz4", "external")
BREAKDOWN_STEPS = [
    ("scan only: `count(*)`", "SELECT count(*) FROM {t}"),
    ("+ detoast every vector: `sum(vector_dims(embedding))`",
     "SELECT sum(vector_dims(embedding)) FROM {t}"),
    ("+ distance to every vector: `max(embedding <-> q)`",
     "SELECT max(embedding <-> '{q}') FROM {t}"),
    ("top-10 query: `ORDER BY embedding <-> q LIMIT 10`",
     "SELECT id FROM {t} ORDER BY embedding <-> '{q}' LIMIT 10"),
]


def cost_breakdown(cur, tables, lit, repeats=5):
    """Median ms of serial whole-table queries that add one cost at a time:
    the scan, fetching (and detoasting) each vector, computing each distance,
    and the top-k query itself.  tables: {variant key: table}; the variants
    take turns, as in interleaved_runs()."""
    times = {(key, i): [] for key in tables for i in range(len(BREAKDOWN_STEPS))}

    def go():
        for rep in range(repeats + 1):
            for key, table in tables.items():
                for i, (_, sql) in enumerate(BREAKDOWN_STEPS):
                    t0 = time.perf_counter()
                    cur.execute(sql.format(t=table, q=lit))
                    cur.fetchall()
                    if rep > 0:                         # the first pass warms up
                        times[(key, i)].append(time.perf_counter() - t0)
    with_settings(cur, {"max_parallel_workers_per_gather": "0"}, go)
    return {key: [(name, float(np.median(times[(key, i)])) * 1e3)
                  for i, (name, _) in enumerate(BREAKDOWN_STEPS)] for key in tables}


def round_trip(cur, lit, n=500):
    """QPS of a trivial prepared statement that still takes a 784-d literal."""
    cur.execute("PREPARE rt(vector) AS SELECT vector_dims($1)")
    for _ in range(20):
        cur.execute("EXECUTE rt('%s')" % lit)
        cur.fetchall()
    _, times = timed_queries(cur, ["EXECUTE rt('%s')" % lit] * n, 1e9)
    cur.execute("DEALLOCATE rt")
    return n / times.sum(), np.median(times) * 1e3


# ---------------------------------------------------------------------------
# numpy reference and memory bandwidth
# ---------------------------------------------------------------------------

def numpy_reference(ds, nq, k, gt_dists):
    base = ds.train
    norms = np.einsum("ij,ij->i", base, base)
    queries = ds.test[:nq]
    out = {}

    # One query at a time: |x|^2 - 2 x.q (|q|^2 does not change the order)
    for q in queries[:3]:                            # warm-up
        np.argpartition(norms - 2.0 * (base @ q), k)
    found, t0 = [], time.perf_counter()
    for q in queries:
        d = norms - 2.0 * (base @ q)
        top = np.argpartition(d, k)[:k]
        found.append(top[np.argsort(d[top], kind="stable")])
    dt = time.perf_counter() - t0
    out["single"] = {"qps": nq / dt, "ms": dt / nq * 1e3,
                     "recall": np.mean([datasets.recall(f, base, ds.test[i], gt_dists[i], k)
                                        for i, f in enumerate(found)])}

    # All queries at once, in blocks of 100 (one matrix product each)
    found, t0 = [], time.perf_counter()
    for s in range(0, nq, 100):
        d = norms[None, :] - 2.0 * (queries[s:s + 100] @ base.T)
        top = np.argpartition(d, k, axis=1)[:, :k]
        for i in range(len(top)):
            found.append(top[i][np.argsort(d[i, top[i]], kind="stable")])
    dt = time.perf_counter() - t0
    out["batch"] = {"qps": nq / dt, "ms": dt / nq * 1e3,
                    "recall": np.mean([datasets.recall(f, base, ds.test[i], gt_dists[i], k)
                                       for i, f in enumerate(found)])}
    out["volume"] = base.nbytes
    return out


def memory_bandwidth(size_bytes=1 << 30, repeats=5):
    """Read bandwidth in GB/s: best of several passes of a simple reduction
    over a large array (integer sum and bitwise or over uint64: memory-bound,
    not compute-bound), on one thread and on two; and copy (read + write)."""
    a = np.ones(size_bytes // 8, dtype=np.uint64)
    b = np.empty_like(a)

    def best(fn):
        ts = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        return min(ts)

    res = {}
    res["read_1"] = max(a.nbytes / best(lambda: a.sum()) / 1e9,
                        a.nbytes / best(lambda: np.bitwise_or.reduce(a)) / 1e9)
    half = len(a) // 2

    def two_threads():
        th = [threading.Thread(target=lambda s=s: a[s:s + half].sum()) for s in (0, half)]
        for t in th:
            t.start()
        for t in th:
            t.join()
    res["read_2"] = a.nbytes / best(two_threads) / 1e9
    res["copy"] = 2 * a.nbytes / best(lambda: np.copyto(b, a)) / 1e9
    res["size"] = size_bytes
    return res


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

def mb(n):
    return "—" if n is None else "%.1f" % (n / 1048576.0)


def report(args, ds, facts, load, stats, runs, breakdown, skipped, rt, ref, bw, loadavg,
           started, elapsed):
    n_base = ds.train.shape[0]
    out = []
    out.append("# Exact-scan benchmark (vectorpg)\n")
    if ds.generated:
        why = ("--generated was given" if args.generated
               else "Fashion-MNIST was not found in %s" % datasets.FASHION_MNIST_DIR)
        out.append("> **WARNING: %s; these figures are for GENERATED data (%s) of "
                   "Fashion-MNIST's shape and are not comparable with published Fashion-MNIST "
                   "results.**\n" % (why, ds.description))
    out.append("- Command: `%s`" % (args.command or " ".join([sys.executable] + sys.argv)))
    out.append("- Date: %s (run took %.0f s)" % (started.strftime("%Y-%m-%d %H:%M UTC"), elapsed))
    out.append("- Machine: %s, %d cores, %.1f GiB RAM, Linux %s, huge pages configured: %s"
               % (cpu_model(), os.cpu_count(), mem_total_gib(), platform.release(),
                  hugepages_total()))
    out.append("- Load average (1 min) at the start of the SQL runs / at the end: %.2f / %.2f "
               "(anything else running on the machine shows here and makes QPS noisier)"
               % (loadavg[0][0], loadavg[1][0]))
    out.append("- Server: %s" % facts["version"])
    out.append("- vectorpg %s, `SELECT vectorpg_kernel()` = `%s`"
               % (facts["extversion"], facts["kernel"]))
    names = ("shared_buffers", "maintenance_work_mem", "work_mem", "fsync",
             "max_parallel_workers_per_gather", "max_parallel_workers", "max_wal_size",
             "huge_pages", "jit", "default_toast_compression")
    out.append("- Settings: " + ", ".join("%s %s" % (n, facts[n]) for n in names))
    out.append("- Data: %s: %d base vectors x %d dims (float4), queries = the first %d test "
               "vectors, k = %d, L2; ground truth by numpy brute force in float64"
               % (ds.description, n_base, ds.dim, args.queries, args.k))
    out.append("- Client: psycopg2 %s over the Unix socket, one connection, "
               "`PREPARE q(vector) AS SELECT id FROM items_<variant> ORDER BY embedding <-> $1 "
               "LIMIT %d`, then `EXECUTE q('[...]')`; all tables loaded, VACUUM (FREEZE, "
               "ANALYZE)d and pg_prewarm'd (heap, TOAST table and its index) first; %d untimed "
               "warm-up queries per run; then the runs take turns, in %d rounds over the query "
               "set with a rotating order, so that changes in the machine's load hit all runs "
               "alike (`QPS per round` shows the spread)"
               % (psycopg2.__version__.split()[0], args.k, args.warmup, args.rounds))
    out.append("- numpy %s, Python %s, BLAS: %s\n"
               % (np.__version__, platform.python_version(), blas_libraries()))

    out.append("## Storage variants of the vector column\n")
    out.append("Raw data: %d vectors x %d bytes (8-byte header + %d float4) = %s MiB.\n"
               % (n_base, 8 + 4 * ds.dim, ds.dim, mb(n_base * (8 + 4 * ds.dim))))
    rows = []
    for key, desc, *_ in VARIANTS:
        if key not in stats:
            continue
        s = stats[key]
        method = {"p": "pglz", "l": "lz4"}.get(s["attcompression"], s["attcompression"])
        rows.append([desc, s["attstorage"], method or "default (%s)"
                     % facts["default_toast_compression"],
                     ",".join(s["reloptions"] or []) or "—",
                     "%.1f" % load[key], mb(s["heap"]),
                     mb(s["toast"]) if s["toast"] is not None else "no TOAST table",
                     mb(s["total"]), "%.0f" % (s["rows"] / max(s["pages"], 1)),
                     "%d / %d%s" % (s["compressed"], s["rows"],
                                    " (%s)" % s["methods"] if s["methods"] else ""),
                     "%d" % s["external"], "%.0f" % s["avg_size"]])
    out.append(table_md(["variant", "attstorage", "attcompression", "table options",
                         "load s (COPY)",
                         "heap MiB", "TOAST MiB (with index)", "total MiB", "rows / heap page",
                         "compressed values", "values out of line", "avg stored bytes"], rows))
    for key, why in skipped.items():
        out.append("\nVariant %s skipped: %s" % (key, why))
    out.append("\n`compressed values` counts `pg_column_compression(embedding) IS NOT NULL`; "
               "`values out of line` counts distinct `chunk_id`s in the TOAST table; "
               "`avg stored bytes` is `avg(pg_column_size(embedding))`.\n")

    out.append("## Exact top-%d scan through SQL\n" % args.k)
    out.append("`data read / query` is heap + TOAST (with its index): what one scan has to "
               "touch.  `scan rate` = that volume x QPS; `%% of 1-core read BW` compares it "
               "with the single-thread read bandwidth below (%.1f GB/s).\n" % bw["read_1"])
    rows = []
    for key, label, _ in RUNS:
        r = runs.get((key, label))
        if r is None:
            continue
        s = stats[key]
        rate = s["volume"] * r["qps"] / 1e9
        rows.append([dict((v[0], v[1]) for v in VARIANTS)[key], label, r["plan"],
                     "%d / %d" % (r["planned"], r["launched"]), r["n"],
                     "**%.1f**" % r["qps"], "%.1f–%.1f" % (r["qps_min"], r["qps_max"]),
                     "%.1f" % r["p50"], "%.1f" % r["p95"],
                     "%.0f" % (r["total"] / r["n"] / n_base * 1e9),
                     "%.3f" % r["recall"], mb(s["volume"]), "%.2f" % rate,
                     "%.0f %%" % (100 * rate / bw["read_1"])])
    out.append(table_md(["variant", "setting", "plan", "workers planned / launched",
                         "queries", "QPS", "QPS per round", "p50 ms", "p95 ms", "ns / row",
                         "recall@%d" % args.k,
                         "data read / query MiB", "scan rate GB/s", "% of 1-core read BW"],
                        rows))
    out.append("\nSettings: " + "; ".join("*%s*: %s" % n for n in SETTING_NOTES) + ".  "
               "`ns / row` = mean time per query / %d rows." % n_base)
    out.append("\nSQL round trip alone (`PREPARE rt(vector) AS SELECT vector_dims($1)` with the "
               "same %d-d literal): **%.0f QPS** (p50 %.3f ms).\n" % (ds.dim, rt[0], rt[1]))
    if breakdown:
        out.append("### Where the time goes (serial, one query vector, median of 5, "
                   "variants taking turns)\n")
        names = [name for name, _ in next(iter(breakdown.values()))]
        keys = [v[0] for v in VARIANTS if v[0] in breakdown]
        desc = dict((v[0], v[1]) for v in VARIANTS)
        rows = [[name] + ["%.1f ms (%.0f ns/row)" % (breakdown[k][i][1],
                                                     breakdown[k][i][1] / n_base * 1e6)
                          for k in keys]
                for i, name in enumerate(names)]
        out.append(table_md(["query"] + [desc[k] for k in keys], rows))
        out.append("")

    out.append("## numpy brute force, in process (reference)\n")
    rows = [["single queries: `norms - 2 * (base @ q)`, then argpartition", "%d" % args.queries,
             "**%.1f**" % ref["single"]["qps"], "%.2f" % ref["single"]["ms"],
             "%.3f" % ref["single"]["recall"]],
            ["batch: `norms - 2 * (Q @ base.T)`, 100 queries per product",
             "%d" % args.queries, "**%.1f**" % ref["batch"]["qps"],
             "%.2f" % ref["batch"]["ms"], "%.3f" % ref["batch"]["recall"]]]
    out.append(table_md(["method (float32)", "queries", "QPS", "ms / query",
                         "recall@%d" % args.k], rows))
    out.append("\nA single query reads the %s MiB float32 matrix once: %.2f GB/s, %.0f %% of "
               "the 1-core read bandwidth.\n"
               % (mb(ref["volume"]), ref["volume"] * ref["single"]["qps"] / 1e9,
                  100 * ref["volume"] * ref["single"]["qps"] / 1e9 / bw["read_1"]))

    out.append("## Memory bandwidth (numpy, %d MiB array)\n" % (bw["size"] >> 20))
    best_sql = max(runs.values(), key=lambda r: r["qps"]) if runs else None
    rows = [["read, 1 thread (uint64 sum / bitwise-or reduction, best)", "%.1f" % bw["read_1"]],
            ["read, 2 threads (uint64 sum of halves)", "%.1f" % bw["read_2"]],
            ["copy, 1 thread (read + write bytes)", "%.1f" % bw["copy"]]]
    out.append(table_md(["measure", "GB/s"], rows))
    out.append("")
    out.append("Bandwidth limit of reading the data once per query (1 thread, %.1f GB/s):\n"
               % bw["read_1"])
    rows = []
    for key, desc, *_ in VARIANTS:
        if key not in stats:
            continue
        best = max((r for (k2, _), r in runs.items() if k2 == key), key=lambda r: r["qps"],
                   default=None)
        ceiling = bw["read_1"] * 1e9 / stats[key]["volume"]
        rows.append([desc, mb(stats[key]["volume"]), "%.0f" % ceiling,
                     "%.1f" % best["qps"] if best else "—",
                     "%.0f %%" % (100 * best["qps"] / ceiling) if best else "—"])
    ceiling = bw["read_1"] * 1e9 / ref["volume"]
    rows.append(["numpy float32 matrix", mb(ref["volume"]), "%.0f" % ceiling,
                 "%.1f" % ref["single"]["qps"],
                 "%.0f %%" % (100 * ref["single"]["qps"] / ceiling)])
    out.append(table_md(["data", "MiB read / query", "bandwidth-bound QPS",
                         "best measured QPS", "measured / bound"], rows))
    if best_sql:
        out.append("\nFastest SQL run: %.1f QPS (%.1f ms / query), %.1fx slower than numpy "
                   "single queries; the SQL round trip accounts for %.2f ms of it."
                   % (best_sql["qps"], 1e3 / best_sql["qps"],
                      ref["single"]["qps"] / best_sql["qps"], 1e3 / rt[0]))
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------

def main():
    args = parse_args()
    started = datetime.datetime.now(datetime.timezone.utc)
    t_start = time.perf_counter()
    keys = [v for v in args.variants.split(",") if v]
    unknown = set(keys) - {v[0] for v in VARIANTS}
    if unknown:
        sys.exit("unknown variant(s): %s" % ", ".join(sorted(unknown)))

    if args.generated:
        log("using GENERATED data (--generated)")
        ds = datasets.generate_gaussian_mixture(60000, 10000, 784)
    else:
        ds = datasets.load_fashion_mnist()
    n_needed = args.queries + args.warmup
    if ds.test.shape[0] < n_needed:
        sys.exit("only %d query vectors" % ds.test.shape[0])
    gt_ids, gt_dists = datasets.ground_truth(ds, args.queries, args.k, cache_dir=args.cache_dir)
    lits = [datasets.vector_literal(v) for v in ds.test[:args.queries]]
    # Warm-up queries come from outside the timed set
    warm_lits = [datasets.vector_literal(v) for v in ds.test[-args.warmup:]] or lits[:1]

    conn = psycopg2.connect(host=args.host, port=args.port, dbname=args.dbname, user=args.user)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION IF NOT EXISTS vectorpg")
    cur.execute("CREATE EXTENSION IF NOT EXISTS pg_prewarm")
    facts = server_facts(cur)
    log("server: %s; kernels: %s" % (facts["version"].split(",")[0], facts["kernel"]))

    rt = round_trip(cur, lits[0])
    log("round trip: %.0f QPS" % rt[0])

    load, stats, runs, skipped, tables = {}, {}, {}, {}, {}
    for key, desc, storage, options, compression in VARIANTS:
        if key not in keys:
            continue
        log("variant %s: %s" % (key, desc))
        try:
            tables[key], load[key] = load_variant(conn, cur, key, storage, options,
                                                  compression, ds)
        except psycopg2.errors.FeatureNotSupported as e:      # e.g. a build without lz4
            conn.rollback()
            conn.autocommit = True
            log("  %s: skipped: %s" % (key, str(e).strip()))
            skipped[key] = str(e).strip()
            continue
        stats[key] = inspect_variant(cur, tables[key])
    for key, table in tables.items():
        prewarm(cur, table, stats[key])

    loadavg_start = os.getloadavg()
    plan = []
    for n, (key, label, settings) in enumerate(RUNS):
        if key in tables:
            plan.append({"key": key, "label": label, "settings": settings,
                         "table": tables[key], "stmt": "q%d" % n})
            prepare_run(cur, plan[-1], warm_lits, args.k)
    log("timing %d runs x %d queries in %d interleaved rounds"
        % (len(plan), args.queries, args.rounds))
    interleaved_runs(cur, plan, lits, args.rounds, args.max_seconds)
    for run in plan:
        r = summarize_run(run, ds, gt_dists, args.k)
        runs[(run["key"], run["label"])] = r
        log("  %-9s %-24s %6.1f QPS (rounds %.1f-%.1f)  recall %.3f  (%s, workers %d/%d)"
            % (run["key"], run["label"], r["qps"], r["qps_min"], r["qps_max"], r["recall"],
               r["plan"], r["planned"], r["launched"]))
        if r["recall"] < 1.0:
            log("  WARNING: exact scan recall below 1.0")
    log("cost breakdown ...")
    breakdown = cost_breakdown(cur, {k: t for k, t in tables.items()
                                     if k in BREAKDOWN_VARIANTS}, lits[0])
    conn.close()

    log("numpy reference ...")
    ref = numpy_reference(ds, args.queries, args.k, gt_dists)
    log("  single %.1f QPS, batch %.1f QPS" % (ref["single"]["qps"], ref["batch"]["qps"]))
    log("memory bandwidth ...")
    bw = memory_bandwidth()
    log("  read %.1f GB/s (1 thread), %.1f GB/s (2 threads)" % (bw["read_1"], bw["read_2"]))

    loadavg = (loadavg_start, os.getloadavg())
    text = report(args, ds, facts, load, stats, runs, breakdown, skipped, rt, ref, bw, loadavg,
                  started, time.perf_counter() - t_start)
    sys.stdout.write(text)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(text)
        log("report written to %s" % args.out)
    bad = [k for k, r in runs.items() if r["recall"] < 1.0]
    if bad:
        log("FAILED: recall below 1.0 in %d run(s)" % len(bad))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
