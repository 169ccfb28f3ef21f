#!/usr/bin/env bash
# test/bench/run.sh: the benchmarks on a throwaway cluster: the exact scan
# (exact_scan.py) and the hnsw index against hnswlib (hnsw_bench.py).
#
#   bash test/bench/run.sh [exact_scan.py options]     (as root, or as a user
#                                                       with the packages and
#                                                       write access to pkglibdir)
#   VPG_SKIP_BUILD=1 bash test/bench/run.sh             use the installed vectorpg
#   VPG_BENCH=exact|hnsw|batch|fdw|fdwwrite|all (default all)    which benchmarks to run
#                                                       (fdw: the FDW's overhead
#                                                       against the fake servers)
#                                                       (write: remote_upsert rows/s
#                                                       at 768 dims, WRITE_ARGS=...)
#   HNSW_ARGS="--quick"                                 options for hnsw_bench.py
#   BATCH_ARGS="--quick"                                options for batch_bench.py
#   VPG_BENCH=ip, IP_ARGS="--quick"                     inner product: reachability, recall
#                                                       and QPS against hnswlib (ip_bench.py);
#                                                       IP_ARGS="--metric cosine" for cosine
#   VPG_BENCH=mirror, MIRROR_ARGS="--quick"             mirroring: backfill rows/s, capture
#                                                       overhead, lag (mirror_bench.py)
#   VPG_BENCH=insns                                     instructions per hnsw insert and
#                                                       search under callgrind, and the
#                                                       searches' recall (hnsw_instructions.py):
#                                                       the A/B measure a noisy VM cannot
#                                                       give by the clock; not part of all
#   VPG_HUGE_PAGES=auto|on|off (default auto)           2 MB pages for the clusters' shared
#                                                       memory (test/lib.sh: vpg_huge_pages);
#                                                       auto reserves them when run as root
#
# Installs missing packages (the build's, the data set, numpy, psycopg2, and
# hnswlib + matplotlib for the index benchmarks to come), builds and installs
# vectorpg unless VPG_SKIP_BUILD=1, starts a cluster tuned for benchmarking in
# a temporary directory, runs test/bench/exact_scan.py as the test user and
# stops the cluster.  The Markdown report goes to stdout and to
# test/bench/out/exact_scan.md; exact ground truth is cached in
# test/bench/cache/.  Options, e.g. --queries 50 or --variants main,plain,
# are passed to exact_scan.py (see its --help).

set -euo pipefail
# shellcheck source=test/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

PY=/usr/bin/python3
BENCH_DIR=$VPG_ROOT/test/bench
BENCH_PACKAGES=(python3-numpy python3-psycopg2 python3-psycopg python3-hnswlib python3-matplotlib)
DATA_PACKAGE=dataset-fashion-mnist   # optional: without it, generated data
BENCH_SETTINGS=("shared_buffers = 4GB" "maintenance_work_mem = 4GB" "fsync = off"
	"max_parallel_workers_per_gather = 2" "max_wal_size = 8GB"
	"max_parallel_maintenance_workers = 1" "max_worker_processes = 8")
# The batch benchmark compares batches with one durable commit per row, so
# its cluster keeps PostgreSQL's default durability (fsync, synchronous_commit)
BATCH_SETTINGS=("shared_buffers = 2GB" "max_wal_size = 8GB" "min_wal_size = 3GB")
BENCH=${VPG_BENCH:-all}
# Huge pages, as a production server with gigabytes of shared_buffers has
# them; VPG_HUGE_PAGES=off measures 4 kB pages
export VPG_HUGE_PAGES=${VPG_HUGE_PAGES:-auto}

command_line="${VPG_SKIP_BUILD:+VPG_SKIP_BUILD=$VPG_SKIP_BUILD }${VPG_HUGE_PAGES:+VPG_HUGE_PAGES=$VPG_HUGE_PAGES }bash test/bench/run.sh${*:+ $*}"

# Only the report goes to stdout: everything else to stderr
vpg_need_packages "${VPG_BUILD_PACKAGES[@]}" "${BENCH_PACKAGES[@]}" >&2
[ "$BENCH" = insns ] && vpg_need_packages valgrind >&2
# (a subshell, so that a failed install of the data set is not fatal)
(vpg_need_packages "$DATA_PACKAGE" >&2) ||
	echo "WARNING: could not install $DATA_PACKAGE: the benchmark will use GENERATED data" >&2
if [ "${VPG_SKIP_BUILD:-0}" = 1 ]; then
	vpg_log "VPG_SKIP_BUILD=1: using the installed vectorpg" >&2
	# The test build (test/run-tests.sh) compiles assertions in, which
	# slows the hot loops: never measure it by mistake
	if nm -D "$($PG_CONFIG --pkglibdir)/vectorpg.so" 2>/dev/null | grep -q ' ExceptionalCondition$'; then
		vpg_die "the installed vectorpg was built with assertions (the test build); rebuild it without VPG_SKIP_BUILD=1"
	fi
else
	vpg_build_install >&2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/vectorpg-bench.XXXXXX")
bench_cleanup() {
	local status=$?
	trap - EXIT INT TERM
	vpg_stop_cluster "$WORK"
	vpg_stop_cluster "$WORK/batchdb"
	vpg_stop_cluster "$WORK/insdb"
	if [ "$status" -ne 0 ] && [ -f "$WORK/server.log" ]; then
		echo "---- last lines of the server log ----" >&2
		tail -n 20 "$WORK/server.log" >&2 || true
	fi
	rm -rf "$WORK"
	exit "$status"
}
trap bench_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The test user gets its own copy of the scripts and of the cache: the
# checkout may not be readable or writable by it.  Results come back below.
mkdir -p "$WORK/py" "$WORK/cache" "$WORK/out" "$BENCH_DIR/cache" "$BENCH_DIR/out"
cp "$BENCH_DIR"/*.py "$WORK/py/"
cp -r "$VPG_ROOT/test/fakes" "$WORK/fakes"
cp -rp "$BENCH_DIR/cache/." "$WORK/cache/"
[ "$(id -u)" -eq 0 ] && chown -R "$(vpg_tester):" "$WORK"
chmod 755 "$WORK"

if [ "$BENCH" != insns ]; then
	vpg_log "starting a cluster in $WORK: ${BENCH_SETTINGS[*]}" >&2
	vpg_start_cluster "$WORK" "${BENCH_SETTINGS[@]}"
fi

status=0
if [ "$BENCH" = all ] || [ "$BENCH" = exact ]; then
	vpg_log "running exact_scan.py (progress on stderr, report on stdout)" >&2
	vpg_as_tester "$PY" "$WORK/py/exact_scan.py" --host "$WORK" \
		--cache-dir "$WORK/cache" --out "$WORK/out/exact_scan.md" \
		--command "$command_line" "$@" || status=$?
fi
if [ "$BENCH" = all ] || [ "$BENCH" = hnsw ]; then
	vpg_log "running hnsw_bench.py (progress on stderr, report on stdout)" >&2
	# shellcheck disable=SC2086
	vpg_as_tester "$PY" "$WORK/py/hnsw_bench.py" --host "$WORK" \
		--cache-dir "$WORK/cache" --out-dir "$WORK/out" \
		--command "$command_line${HNSW_ARGS:+ (HNSW_ARGS=$HNSW_ARGS)}" ${HNSW_ARGS:-} || status=$?
fi
if [ "$BENCH" = all ] || [ "$BENCH" = ip ]; then
	vpg_log "running ip_bench.py (progress on stderr, report on stdout)" >&2
	# shellcheck disable=SC2086
	vpg_as_tester "$PY" "$WORK/py/ip_bench.py" --host "$WORK" \
		--cache-dir "$WORK/cache" --out-dir "$WORK/out" ${IP_ARGS:-} || status=$?
fi
if [ "$BENCH" = all ] || [ "$BENCH" = fdw ]; then
	vpg_log "running fdw_bench.py (progress on stderr, report on stdout)" >&2
	vpg_as_tester "$PY" "$WORK/py/fdw_bench.py" --host "$WORK" \
		--out "$WORK/out/fdw_bench.md" || status=$?
fi
if [ "$BENCH" = all ] || [ "$BENCH" = fdw ] || [ "$BENCH" = fdwwrite ]; then
	vpg_log "running fdw_write_bench.py (progress on stderr, report on stdout)" >&2
	vpg_as_tester "$PY" "$WORK/py/fdw_write_bench.py" --host "$WORK" \
		--out "$WORK/out/fdw_write_bench.md" || status=$?
fi

if [ "$BENCH" = all ] || [ "$BENCH" = write ]; then
	vpg_log "running remote_write_bench.py (progress on stderr, report on stdout)" >&2
	# shellcheck disable=SC2086
	vpg_as_tester "$PY" "$WORK/py/remote_write_bench.py" --host "$WORK" \
		--out "$WORK/out/remote_write_bench.md" ${WRITE_ARGS:-} || status=$?
fi
if [ "$BENCH" = all ] || [ "$BENCH" = mirror ]; then
	vpg_log "running mirror_bench.py (progress on stderr, report on stdout)" >&2
	# shellcheck disable=SC2086
	vpg_as_tester "$PY" "$WORK/py/mirror_bench.py" --host "$WORK" \
		--out "$WORK/out/mirror_bench.md" ${MIRROR_ARGS:-} || status=$?
fi

if [ "$BENCH" = all ] || [ "$BENCH" = batch ]; then
	vpg_stop_cluster "$WORK"
	mkdir -p "$WORK/batchdb"
	[ "$(id -u)" -eq 0 ] && chown "$(vpg_tester):" "$WORK/batchdb"
	vpg_log "starting a cluster in $WORK/batchdb: ${BATCH_SETTINGS[*]} (default durability)" >&2
	vpg_start_cluster "$WORK/batchdb" "${BATCH_SETTINGS[@]}"
	vpg_log "running batch_bench.py (progress on stderr, report on stdout)" >&2
	# shellcheck disable=SC2086
	vpg_as_tester "$PY" "$WORK/py/batch_bench.py" --host "$WORK/batchdb" \
		--cache-dir "$WORK/cache" --out-dir "$WORK/out" \
		--command "$command_line${BATCH_ARGS:+ (BATCH_ARGS=$BATCH_ARGS)}" ${BATCH_ARGS:-} || status=$?
fi

# Instructions per insert and per search: the tables are made on a cluster,
# then the inserts and the searches each run in a single-user postgres under
# callgrind, on a copy of the data directory (hnsw_instructions.py)
callgrind_single() {
	local name=$1 sql=$2
	rm -rf "$WORK/insrun"
	cp -a "$WORK/insdb/data" "$WORK/insrun"
	echo "$sql" |
		vpg_as_tester valgrind --tool=callgrind --callgrind-out-file="$WORK/$name.callgrind" \
			"$($PG_CONFIG --bindir)/postgres" --single -D "$WORK/insrun" \
			-c full_page_writes=off -c huge_pages=off postgres >"$WORK/$name.out" 2>"$WORK/$name.valgrind.log" ||
		{ tail -n 20 "$WORK/$name.valgrind.log" >&2; status=1; }
}
if [ "$BENCH" = insns ]; then
	mkdir -p "$WORK/insdb"
	[ "$(id -u)" -eq 0 ] && chown "$(vpg_tester):" "$WORK/insdb"
	VPG_HUGE_PAGES=off vpg_start_cluster "$WORK/insdb" "shared_buffers = 256MB" "maintenance_work_mem = 1GB"
	vpg_log "loading the tables for hnsw_instructions.py" >&2
	made=$(vpg_as_tester "$PY" "$WORK/py/hnsw_instructions.py" setup --host "$WORK/insdb")
	vpg_stop_cluster "$WORK/insdb"
	files=()
	for t in $made; do
		vpg_log "300 inserts into $t under callgrind" >&2
		callgrind_single "$t" "INSERT INTO $t SELECT * FROM ${t}_ins;"
		vpg_log "300 searches of $t under callgrind" >&2
		callgrind_single "${t}_search" "$(vpg_as_tester "$PY" "$WORK/py/hnsw_instructions.py" sql "$t")"
		files+=("$t=$WORK/$t.callgrind,$WORK/${t}_search.callgrind,$WORK/${t}_search.out")
	done
	vpg_as_tester "$PY" "$WORK/py/hnsw_instructions.py" report --out "$WORK/out/hnsw_instructions.md" \
		--command "$command_line" "${files[@]}" || status=$?
fi

# Keep what was produced, even after a failed run
cp "$WORK"/cache/*.npz "$BENCH_DIR/cache/" 2>/dev/null || true
for f in "$WORK"/out/*; do
	[ -f "$f" ] || continue
	cp "$f" "$BENCH_DIR/out/"
	vpg_log "kept: $BENCH_DIR/out/$(basename "$f")" >&2
done
exit "$status"
