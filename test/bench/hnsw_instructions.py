"""Instructions per hnsw insert and per hnsw search, counted by callgrind:
the A/B measure that this project's 2-core VMs cannot give by the clock
(runs of one build vary by 10-30 % there; instruction counts by about 1 %).

test/bench/run.sh (VPG_BENCH=insns) drives it in three steps:

  setup   on a running cluster: for each data set, a 20,000-row table with
          an hnsw index (m 16, ef_construction 64), a 300-row table of
          further rows to insert, and 300 queries with their exact 10
          nearest rows of the 20,000; then a CHECKPOINT, and the cluster
          stops.
  (run.sh copies the data directory twice and runs, each in a single-user
          postgres under valgrind --tool=callgrind, with
          full_page_writes = off so that page images after the checkpoint
          do not blur the count: the inserts in one copy, the queries at
          ef_search 40 in the other, whose output carries how many of the
          exact rows they returned.)
  report  reads the callgrind files: the instructions inclusive of
          hnswinsert per insert, and of hnswgettuple per query, with the
          queries' recall@10, into a Markdown table.  A change that cuts a
          search's instructions is only a gain at the same recall.

The data sets are the batch benchmark's: the 128-dimension Gaussian mixture
(200 clusters) and Fashion-MNIST (784 dimensions, stored as uint8 by the
index), when its package is installed.  valgrind hides AVX-512, so the
kernels counted are the AVX2 ones.
"""
import argparse
import re
import subprocess
import sys

import datasets

ROWS = 20000
INSERTS = 300
QUERIES = 300
K = 10
EF_SEARCH = 40

# name, dimension, loader of a Dataset with at least ROWS + INSERTS base
# rows and QUERIES queries
DATA = [
    ("gmm128", 128, lambda: datasets.generate_gaussian_mixture(
        n_train=ROWS + INSERTS, n_test=QUERIES, dim=128, n_clusters=200, seed=42)),
    ("fmnist", 784, lambda: datasets.load_fashion_mnist(allow_generated=False, quiet=True)),
]


def setup(args):
    import psycopg2
    conn = psycopg2.connect(host=args.host, port=5432, dbname="postgres", user="postgres")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION IF NOT EXISTS vectorpg")
    cur.execute("SET maintenance_work_mem = '1GB'")
    # A serial build: with the levels drawn from the vectors, the same graph
    # in every run (workers would link in the order they reach)
    cur.execute("SET max_parallel_maintenance_workers = 0")
    made = []
    for name, dim, load in DATA:
        if name == "fmnist" and not datasets.fashion_mnist_available():
            datasets.log("insert_instructions: no Fashion-MNIST package, skipping it")
            continue
        ds = load()
        vectors = ds.train[:ROWS + INSERTS]
        queries = ds.test[:QUERIES]
        for table, rows in ((name, vectors[:ROWS]), (name + "_ins", vectors[ROWS:]),
                            (name + "_q", queries)):
            cur.execute("CREATE TABLE %s (id int, embedding vector(%d))" % (table, dim))
            cur.copy_expert("COPY %s (id, embedding) FROM STDIN WITH (FORMAT binary)" % table,
                            datasets.ChunkReader(datasets.copy_binary_chunks(rows)))
        # The exact answers, by the same distance in numpy (float64)
        exact = datasets.exact_knn(vectors[:ROWS], queries, K, "l2")[0]
        cur.execute("CREATE TABLE %s_exact (qid int, id int)" % name)
        cur.executemany("INSERT INTO %s_exact VALUES (%%s, %%s)" % name,
                        [(q, int(i)) for q in range(len(queries)) for i in exact[q]])
        cur.execute("CREATE INDEX %s_idx ON %s USING hnsw (embedding vector_l2_ops)" % (name, name))
        made.append(name)
    cur.execute("VACUUM ANALYZE")
    cur.execute("CHECKPOINT")
    print(" ".join(made))


def search_sql(name):
    """The searches run under callgrind: one statement, whose one value is
    how many of the exact rows the QUERIES searches returned."""
    return ("SET enable_seqscan = off; SET hnsw.ef_search = %d; "
            "SELECT count(*) AS hits FROM %s_q q CROSS JOIN LATERAL "
            "(SELECT id FROM %s ORDER BY embedding <-> q.embedding LIMIT %d) x "
            "JOIN %s_exact e ON e.qid = q.id AND e.id = x.id;" % (EF_SEARCH, name, name, K, name))


def inclusive_ir(path, function):
    """Instructions inclusive of `function` in a callgrind file."""
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", path],
                         check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+)\s.*:%s\s" % function, line)
        if m:
            return int(m.group(1).replace(",", ""))
    raise SystemExit("no %s in %s" % (function, path))


def hits(path):
    """The hits a single-user postgres printed for search_sql."""
    with open(path) as f:
        found = re.findall(r'hits = "(\d+)"', f.read())
    if not found:
        raise SystemExit("no hits in %s" % path)
    return int(found[-1])


def report(args):
    lines = ["Instructions per hnsw insert and per search (callgrind, %d inserts into a %d-row "
             "index, m 16, ef_construction 64; %d queries of k %d at ef_search %d on the same "
             "index before the inserts; AVX2 kernels). Command: `%s`."
             % (INSERTS, ROWS, QUERIES, K, EF_SEARCH, args.command),
             "", "| data | instructions in hnswinsert | per insert | in hnswgettuple | per query "
             "| recall@%d |" % K, "|---|---|---|---|---|---|"]
    for spec in args.files:
        name, rest = spec.split("=", 1)
        ins, search, output = rest.split(",")
        ir = inclusive_ir(ins, "hnswinsert")
        sr = inclusive_ir(search, "hnswgettuple")
        lines.append("| %s | %s | %.3f M | %s | %.3f M | %.4f |"
                     % (name, format(ir, ","), ir / INSERTS / 1e6, format(sr, ","),
                        sr / QUERIES / 1e6, hits(output) / (QUERIES * K)))
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    with open(args.out, "w") as f:
        f.write(text)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="step", required=True)
    s = sub.add_parser("setup")
    s.add_argument("--host", required=True)
    r = sub.add_parser("report")
    r.add_argument("--out", required=True)
    r.add_argument("--command", default="VPG_BENCH=insns bash test/bench/run.sh")
    r.add_argument("files", nargs="+",
                   help="name=inserts' callgrind file,searches' callgrind file,searches' output")
    s = sub.add_parser("sql")
    s.add_argument("name")
    args = p.parse_args()
    if args.step == "setup":
        setup(args)
    elif args.step == "sql":
        print(search_sql(args.name))
    else:
        report(args)


if __name__ == "__main__":
    main()
