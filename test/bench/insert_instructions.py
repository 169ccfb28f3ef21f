"""Instructions per hnsw insert, counted by callgrind: the A/B measure that
this project's 2-core VMs cannot give by the clock (runs of one build vary
by 10-30 % there; instruction counts by about 1 %).

test/bench/run.sh (VPG_BENCH=insns) drives it in three steps:

  setup   on a running cluster: for each data set, a 20,000-row table with
          an hnsw index (m 16, ef_construction 64) and a 300-row table of
          further rows to insert; then a CHECKPOINT, and the cluster stops.
  (run.sh copies the data directory and runs the inserts in a single-user
          postgres under valgrind --tool=callgrind, with
          full_page_writes = off so that page images after the checkpoint
          do not blur the count.)
  report  reads the callgrind files: the instructions inclusive of
          hnswinsert, per insert, into a Markdown table.

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

# name, dimension, loader: the first ROWS + INSERTS rows of each
DATA = [
    ("gmm128", 128, lambda: datasets.generate_gaussian_mixture(
        n_train=ROWS + INSERTS, n_test=1, dim=128, n_clusters=200, seed=42).train),
    ("fmnist", 784, lambda: datasets.load_fashion_mnist(allow_generated=False, quiet=True).train),
]


def setup(args):
    import psycopg2
    conn = psycopg2.connect(host=args.host, port=5432, dbname="postgres", user="postgres")
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("CREATE EXTENSION IF NOT EXISTS vectorpg")
    cur.execute("SET maintenance_work_mem = '1GB'")
    made = []
    for name, dim, load in DATA:
        if name == "fmnist" and not datasets.fashion_mnist_available():
            datasets.log("insert_instructions: no Fashion-MNIST package, skipping it")
            continue
        vectors = load()[:ROWS + INSERTS]
        for table, rows in ((name, vectors[:ROWS]), (name + "_ins", vectors[ROWS:])):
            cur.execute("CREATE TABLE %s (id int, embedding vector(%d))" % (table, dim))
            cur.copy_expert("COPY %s (id, embedding) FROM STDIN WITH (FORMAT binary)" % table,
                            datasets.ChunkReader(datasets.copy_binary_chunks(rows)))
        cur.execute("CREATE INDEX %s_idx ON %s USING hnsw (embedding vector_l2_ops)" % (name, name))
        made.append(name)
    cur.execute("VACUUM ANALYZE")
    cur.execute("CHECKPOINT")
    print(" ".join(made))


def hnswinsert_ir(path):
    """Instructions inclusive of hnswinsert in a callgrind file."""
    out = subprocess.run(["callgrind_annotate", "--inclusive=yes", path],
                         check=True, capture_output=True, text=True).stdout
    for line in out.splitlines():
        m = re.match(r"\s*([\d,]+)\s.*:hnswinsert\s", line)
        if m:
            return int(m.group(1).replace(",", ""))
    raise SystemExit("no hnswinsert in %s" % path)


def report(args):
    lines = ["Instructions per hnsw insert (callgrind, %d inserts into a %d-row index, "
             "m 16, ef_construction 64, AVX2 kernels). Command: `%s`." % (INSERTS, ROWS, args.command),
             "", "| data | instructions in hnswinsert | per insert |", "|---|---|---|"]
    for spec in args.files:
        name, path = spec.split("=", 1)
        ir = hnswinsert_ir(path)
        lines.append("| %s | %s | %.3f M |" % (name, format(ir, ","), ir / INSERTS / 1e6))
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
    r.add_argument("files", nargs="+", help="name=callgrind file")
    args = p.parse_args()
    setup(args) if args.step == "setup" else report(args)


if __name__ == "__main__":
    main()
