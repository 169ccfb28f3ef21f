"""Data sets, exact ground truth and a fast PostgreSQL loader for vectorpg's
demo and benchmarks.

Run with Debian's interpreter (/usr/bin/python3): it needs python3-numpy, and
python3-psycopg2 for the loader.

    ds = load_fashion_mnist()            # or generate_gaussian_mixture()
    gt_ids, gt_dists = ground_truth(ds, n_queries=100, k=10)
    seconds = copy_into_table(conn, "items", ds.train, labels=ds.train_labels)

Fashion-MNIST comes from Debian's dataset-fashion-mnist package (gzip'd IDX
files).  When those files are missing, load_fashion_mnist() falls back to a
generated Gaussian mixture of the same shape and says so loudly on stderr;
Dataset.generated tells callers, so that reports can say it too.
"""

import gzip
import hashlib
import io
import os
import platform
import struct
import subprocess
import sys
import time

import numpy as np

# VPG_FASHION_MNIST_DIR overrides the location (e.g. to test the fallback)
FASHION_MNIST_DIR = os.environ.get("VPG_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")

DEFAULT_CACHE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cache")


def log(msg):
    """Progress messages go to stderr, so that stdout can carry a report."""
    print(msg, file=sys.stderr, flush=True)


class Dataset:
    """Base vectors, query vectors and their class labels, all in memory.

    train: float32 (n_train, dim); test: float32 (n_test, dim), the queries;
    train_labels / test_labels: int32 class ids (0-9).  source is a short
    name that identifies the data (it keys the ground-truth cache).
    """

    def __init__(self, name, source, train, train_labels, test, test_labels,
                 generated, description, class_names=None):
        self.name = name
        self.source = source
        self.train = train
        self.train_labels = train_labels
        self.test = test
        self.test_labels = test_labels
        self.generated = generated
        self.description = description
        self.class_names = class_names

    @property
    def dim(self):
        return self.train.shape[1]

    def class_name(self, label):
        if self.class_names is not None and 0 <= label < len(self.class_names):
            return self.class_names[label]
        return "class %d" % label


# ---------------------------------------------------------------------------
# Fashion-MNIST (IDX files) and the generated fallback
# ---------------------------------------------------------------------------

def read_idx(path):
    """Read a (gzip'd) IDX file into a numpy array of its own shape and type."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError("%s: not an IDX file" % path)
    types = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4",
             0x0D: ">f4", 0x0E: ">f8"}
    if data[2] not in types:
        raise ValueError("%s: unknown IDX element type 0x%02x" % (path, data[2]))
    ndim = data[3]
    shape = struct.unpack(">%dI" % ndim, data[4:4 + 4 * ndim])
    dtype = np.dtype(types[data[2]])
    count = int(np.prod(shape))
    offset = 4 + 4 * ndim
    if len(data) != offset + count * dtype.itemsize:
        raise ValueError("%s: size does not match the header %s" % (path, shape))
    return np.frombuffer(data, dtype=dtype, count=count, offset=offset).reshape(shape)


def fashion_mnist_available(data_dir=FASHION_MNIST_DIR):
    return all(os.path.isfile(os.path.join(data_dir, f))
               for pair in FASHION_MNIST_FILES.values() for f in pair)


def _loud_warning(lines):
    bar = "!" * 78
    log(bar)
    for line in lines:
        log("!!  " + line)
    log(bar)


def load_fashion_mnist(data_dir=FASHION_MNIST_DIR, allow_generated=True, quiet=False):
    """Fashion-MNIST as float32 784-d vectors: 60,000 base, 10,000 queries.

    Falls back to generate_gaussian_mixture() of the same shape when the
    package's files are missing (and allow_generated), warning on stderr.
    """
    if not fashion_mnist_available(data_dir):
        if not allow_generated:
            raise FileNotFoundError(
                "Fashion-MNIST not found in %s (install dataset-fashion-mnist)" % data_dir)
        _loud_warning([
            "Fashion-MNIST NOT FOUND in %s" % data_dir,
            "(Debian package dataset-fashion-mnist).",
            "Using GENERATED data instead: a Gaussian mixture of the same shape",
            "(60,000 + 10,000 vectors x 784 dims, fixed seed).  Results are NOT",
            "comparable with published Fashion-MNIST figures.",
        ])
        return generate_gaussian_mixture(60000, 10000, 784)
    t0 = time.perf_counter()
    parts = {}
    for split, (images, labels) in FASHION_MNIST_FILES.items():
        x = read_idx(os.path.join(data_dir, images))
        y = read_idx(os.path.join(data_dir, labels))
        if x.ndim != 3 or y.ndim != 1 or x.shape[0] != y.shape[0]:
            raise ValueError("Fashion-MNIST %s: unexpected shapes %s, %s"
                             % (split, x.shape, y.shape))
        parts[split] = (np.ascontiguousarray(x.reshape(x.shape[0], -1), dtype=np.float32),
                        y.astype(np.int32))
    if not quiet:
        log("Fashion-MNIST: %d base + %d query vectors x %d dims from %s (%.1f s)"
            % (parts["train"][0].shape[0], parts["test"][0].shape[0],
               parts["train"][0].shape[1], data_dir, time.perf_counter() - t0))
    return Dataset("Fashion-MNIST", "fashion-mnist",
                   parts["train"][0], parts["train"][1],
                   parts["test"][0], parts["test"][1],
                   generated=False,
                   description="Fashion-MNIST (Debian dataset-fashion-mnist, %s)" % data_dir,
                   class_names=FASHION_MNIST_CLASSES)


def generate_gaussian_mixture(n_train=60000, n_test=10000, dim=784,
                              n_clusters=1000, n_classes=10, seed=42):
    """A Gaussian mixture: n_clusters random centres, points scattered round
    them; a point's label is its cluster id mod n_classes.  Deterministic for
    a given seed and shape."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0.0, 1.0, size=(n_clusters, dim)).astype(np.float32)
    # Clusters of different widths and sizes, as in real embeddings
    spread = rng.uniform(0.2, 0.6, size=n_clusters).astype(np.float32)
    weights = rng.dirichlet(np.full(n_clusters, 2.0))

    def draw(n):
        cluster = rng.choice(n_clusters, size=n, p=weights)
        x = np.empty((n, dim), dtype=np.float32)
        step = 10000
        for i in range(0, n, step):
            c = cluster[i:i + step]
            noise = rng.standard_normal(size=(len(c), dim), dtype=np.float32)
            x[i:i + step] = centres[c] + noise * spread[c, None]
        return x, (cluster % n_classes).astype(np.int32)

    train, train_labels = draw(n_train)
    test, test_labels = draw(n_test)
    return Dataset("generated Gaussian mixture", "gmm%d-seed%d" % (n_clusters, seed),
                   train, train_labels, test, test_labels, generated=True,
                   description="GENERATED Gaussian mixture (%d clusters, seed %d)"
                   % (n_clusters, seed))


# ---------------------------------------------------------------------------
# Exact nearest neighbours (numpy brute force) and the ground-truth cache
# ---------------------------------------------------------------------------

def _exact_distances(base, queries, metric):
    """Distances in float64 from each query (rows) to each base vector, by the
    direct definition.  For a handful of candidates only: O(n * dim) memory."""
    b = base.astype(np.float64)
    q = queries.astype(np.float64)
    if metric == "l2":
        return np.sqrt(((b - q) ** 2).sum(axis=-1))
    if metric == "ip":
        return -(b * q).sum(axis=-1)
    if metric == "cosine":
        dot = (b * q).sum(axis=-1)
        norms = np.sqrt((b * b).sum(axis=-1) * (q * q).sum(axis=-1))
        with np.errstate(invalid="ignore", divide="ignore"):
            return 1.0 - dot / norms
    raise ValueError("unknown metric %r" % metric)


def distances_to(base, query, ids, metric="l2"):
    """Exact float64 distances from one query to base[ids]."""
    ids = np.asarray(ids, dtype=np.int64)
    return _exact_distances(base[ids], query[None, :], metric)


def exact_knn(base, queries, k, metric="l2", mask=None, chunk=100):
    """Exact top-k by brute force: returns (ids int32 (nq, k), dists float64).

    Screens with one float64 matrix product per chunk of queries, then
    recomputes the best candidates by the direct definition, so the order is
    exact even where the matrix form cancels (it is also exact outright for
    small-integer data such as Fashion-MNIST pixels).  metric: l2, ip
    (negative inner product) or cosine (1 - cos).  mask: optional boolean
    array over base, to search only the rows where it is true; ids are still
    row numbers of base.
    """
    queries = np.atleast_2d(queries)
    rows = np.arange(base.shape[0]) if mask is None else np.flatnonzero(mask)
    sub = base[rows].astype(np.float64)
    k = min(k, len(rows))
    cand = min(len(rows), 2 * k + 16)
    if metric == "l2":
        norms = (sub * sub).sum(axis=1)
    elif metric == "cosine":
        norms = np.sqrt((sub * sub).sum(axis=1))
        norms[norms == 0] = np.nan
    ids = np.empty((len(queries), k), dtype=np.int32)
    dists = np.empty((len(queries), k), dtype=np.float64)
    for s in range(0, len(queries), chunk):
        q = queries[s:s + chunk].astype(np.float64)
        dot = q @ sub.T
        if metric == "l2":
            score = norms[None, :] - 2.0 * dot          # + |q|^2, same for all rows
        elif metric == "ip":
            score = -dot
        elif metric == "cosine":
            score = -dot / norms[None, :]
            score[np.isnan(score)] = np.inf             # zero vectors sort last
        else:
            raise ValueError("unknown metric %r" % metric)
        top = np.argpartition(score, cand - 1, axis=1)[:, :cand]
        for i in range(len(q)):
            d = _exact_distances(sub[top[i]], q[i][None, :], metric)
            d = np.where(np.isnan(d), np.inf, d)
            order = np.lexsort((rows[top[i]], d))[:k]    # by distance, then id
            ids[s + i] = rows[top[i][order]]
            dists[s + i] = d[order]
    return ids, dists


def _cache_name(ds, n_queries, k, metric):
    return "gt-%s-%dx%d-q%d-k%d-%s.npz" % (ds.source, ds.train.shape[0], ds.dim,
                                           n_queries, k, metric)


def _fingerprint(ds):
    """A cheap checksum of the data, stored with the cache to catch stale files."""
    h = hashlib.sha1()
    h.update(np.ascontiguousarray(ds.train[::997]).tobytes())
    h.update(np.ascontiguousarray(ds.test[::97]).tobytes())
    return h.hexdigest()


def ground_truth(ds, n_queries, k=10, metric="l2", cache_dir=DEFAULT_CACHE_DIR):
    """Exact top-k of the first n_queries test vectors: (ids, dists).

    Cached as .npz in cache_dir, keyed by data source, sizes, k and metric; a
    cached answer for more queries or a larger k serves a smaller request.
    cache_dir=None disables the cache.
    """
    n_queries = min(n_queries, ds.test.shape[0])
    fp = _fingerprint(ds)
    if cache_dir and os.path.isdir(cache_dir):
        prefix = "gt-%s-%dx%d-" % (ds.source, ds.train.shape[0], ds.dim)
        for name in sorted(os.listdir(cache_dir)):
            if not (name.startswith(prefix) and name.endswith("-%s.npz" % metric)):
                continue
            try:
                with np.load(os.path.join(cache_dir, name)) as z:
                    if (str(z["fingerprint"]) == fp and z["ids"].shape[0] >= n_queries
                            and z["ids"].shape[1] >= k):
                        log("ground truth: cached (%s)" % name)
                        return (z["ids"][:n_queries, :k].copy(),
                                z["dists"][:n_queries, :k].copy())
            except (OSError, KeyError, ValueError):
                continue            # unreadable or foreign file: ignore it
    t0 = time.perf_counter()
    ids, dists = exact_knn(ds.train, ds.test[:n_queries], k, metric)
    log("ground truth: %d queries x %d base, k=%d, %s, computed in %.1f s"
        % (n_queries, ds.train.shape[0], k, metric, time.perf_counter() - t0))
    if cache_dir:
        os.makedirs(cache_dir, exist_ok=True)
        path = os.path.join(cache_dir, _cache_name(ds, n_queries, k, metric))
        tmp = path + ".tmp.%d.npz" % os.getpid()
        np.savez(tmp, ids=ids, dists=dists, fingerprint=np.array(fp))
        os.replace(tmp, path)
    return ids, dists


def recall(found_ids, base, query, true_dists, k, metric="l2", rel_tol=1e-6):
    """Recall@k of one answer, counting ties: a returned id is right when its
    exact distance is within the true k-th distance (so equally distant
    neighbours are interchangeable).  Duplicate ids count once."""
    found = list(dict.fromkeys(int(i) for i in found_ids))[:k]
    if not found:
        return 0.0
    kth = float(true_dists[k - 1])
    d = distances_to(base, query, found, metric)
    ok = int(np.sum(d <= kth + rel_tol * max(abs(kth), 1.0)))
    return min(ok, k) / float(k)


# ---------------------------------------------------------------------------
# Text literals and the binary COPY loader
# ---------------------------------------------------------------------------

def vector_literal(v):
    """The text form '[x,y,...]' of a float32 vector, exact (shortest repr of
    each float32 value, which the server reads back to the same float4)."""
    v = np.asarray(v, dtype=np.float32)
    if np.all(v == np.round(v)) and np.all(np.abs(v) < 1e7):
        return "[" + ",".join(str(int(x)) for x in v) + "]"
    return "[" + ",".join(str(x) for x in v) + "]"     # numpy: shortest float32 repr


_PGCOPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_PGCOPY_TRAILER = struct.pack(">h", -1)


def _row_dtype(dim, with_label):
    """One binary COPY tuple as a packed numpy record: int16 field count, then
    per field int32 length + bytes.  The vector's bytes are int16 dim, int16 0
    and big-endian float4s (vector_recv's format)."""
    fields = [("nfields", ">i2"), ("id_len", ">i4"), ("id", ">i4")]
    if with_label:
        fields += [("label_len", ">i4"), ("label", ">i4")]
    fields += [("vec_len", ">i4"), ("dim", ">i2"), ("unused", ">i2"),
               ("x", ">f4", (dim,))]
    return np.dtype(fields)


def copy_binary_chunks(vectors, ids=None, labels=None, rows_per_chunk=4096):
    """Yield the binary COPY stream (header, tuples, trailer) in chunks of
    bytes, for columns (id int4, [label int4,] embedding vector)."""
    vectors = np.asarray(vectors)
    n, dim = vectors.shape
    if not 1 <= dim <= 16000:
        raise ValueError("vector dimension %d out of range" % dim)
    ids = np.arange(n, dtype=np.int64) if ids is None else np.asarray(ids)
    dtype = _row_dtype(dim, labels is not None)
    yield _PGCOPY_HEADER
    for s in range(0, n, rows_per_chunk):
        e = min(n, s + rows_per_chunk)
        rec = np.empty(e - s, dtype=dtype)
        rec["nfields"] = 3 if labels is not None else 2
        rec["id_len"] = 4
        rec["id"] = ids[s:e]
        if labels is not None:
            rec["label_len"] = 4
            rec["label"] = labels[s:e]
        rec["vec_len"] = 4 + 4 * dim
        rec["dim"] = dim
        rec["unused"] = 0
        rec["x"] = vectors[s:e]
        yield rec.tobytes()
    yield _PGCOPY_TRAILER


class ChunkReader(io.RawIOBase):
    """A read()-able file over an iterator of bytes chunks (for copy_expert)."""

    def __init__(self, chunks):
        super().__init__()
        self._chunks = iter(chunks)
        self._buf = memoryview(b"")
        self.bytes_read = 0

    def readable(self):
        return True

    def readinto(self, b):
        while not self._buf:
            try:
                self._buf = memoryview(next(self._chunks))
            except StopIteration:
                return 0
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        self.bytes_read += n
        return n


def copy_into_table(conn, table, vectors, ids=None, labels=None):
    """COPY vectors (and labels) into an existing table with columns
    (id, [label,] embedding) through binary COPY; commits; returns
    (seconds, bytes sent).  ids default to 0..n-1 (row numbers of vectors)."""
    cols = "id, label, embedding" if labels is not None else "id, embedding"
    reader = ChunkReader(copy_binary_chunks(vectors, ids, labels))
    t0 = time.perf_counter()
    with conn.cursor() as cur:
        cur.copy_expert("COPY %s (%s) FROM STDIN WITH (FORMAT binary)" % (table, cols),
                        reader, size=1 << 20)
    conn.commit()
    return time.perf_counter() - t0, reader.bytes_read


def create_items_table(conn, table, dim, with_label=True, storage=None,
                       table_options=None, compression=None):
    """CREATE TABLE table (id int, [label int,] embedding vector(dim)), with
    an optional column STORAGE (PLAIN, MAIN, EXTERNAL, EXTENDED), column
    COMPRESSION (pglz, lz4) and table WITH (...) options; drops a table of
    that name first."""
    opts = " WITH (%s)" % table_options if table_options else ""
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS %s" % table)
        cur.execute("CREATE TABLE %s (id int, %sembedding vector(%d))%s"
                    % (table, "label int, " if with_label else "", dim, opts))
        if storage:
            cur.execute("ALTER TABLE %s ALTER COLUMN embedding SET STORAGE %s"
                        % (table, storage))
        if compression:
            cur.execute("ALTER TABLE %s ALTER COLUMN embedding SET COMPRESSION %s"
                        % (table, compression))
    conn.commit()

# ---------------------------------------------------------------------------
# Report helpers shared by the benchmarks
# ---------------------------------------------------------------------------

def deb_version(pkg):
    """The installed version of a Debian package, or "unknown"."""
    try:
        return subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True,
                              text=True, check=True).stdout.strip() or "unknown"
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def mem_total_gib():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) / 1048576.0
    except OSError:
        pass
    return float("nan")


def table_md(header, rows):
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)
