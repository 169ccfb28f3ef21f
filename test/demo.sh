#!/usr/bin/env bash
# test/demo.sh: the README's first command, "run the main job".
#
#   bash test/demo.sh                  (as root on a fresh Debian 12 machine)
#
# Installs what is missing, builds and installs vectorpg, starts a throwaway
# PostgreSQL cluster in a temporary directory, loads the 60,000 Fashion-MNIST
# training images (784-d vectors, with their class labels), runs a few
# nearest-neighbour queries through SQL, checks every answer against numpy's
# exact one, and removes the cluster again, also on failure.  Exits non-zero
# when anything fails or an answer is wrong.
#
# Environment:
#   VPG_SKIP_BUILD=1   use the vectorpg that is already installed (no make)
#   VPG_KEEP=1         keep the cluster's directory (server.log) afterwards
#
# The Python steps are test/demo.py and test/bench/datasets.py, run with
# Debian's /usr/bin/python3 as the test user.

set -euo pipefail
# shellcheck source=test/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PY=/usr/bin/python3
DEMO_PACKAGES=(python3-numpy python3-psycopg2)
DATA_PACKAGE=dataset-fashion-mnist   # optional: without it, generated data
DEMO_SETTINGS=("shared_buffers = 1GB" "maintenance_work_mem = 1GB" "fsync = off"
	"max_wal_size = 4GB")

demo_start=$SECONDS
step() { printf '\n==> [%s] %s\n' "$1" "$2"; }

step 1/6 "packages"
vpg_need_packages "${VPG_BUILD_PACKAGES[@]}" "${DEMO_PACKAGES[@]}"
# (a subshell, so that a failed install of the data set is not fatal)
if (vpg_need_packages "$DATA_PACKAGE"); then
	echo "    all present: ${VPG_BUILD_PACKAGES[*]} ${DEMO_PACKAGES[*]} $DATA_PACKAGE"
else
	echo "    WARNING: could not install $DATA_PACKAGE: the demo will use GENERATED data" >&2
fi

step 2/6 "build and install vectorpg"
if [ "${VPG_SKIP_BUILD:-0}" = 1 ]; then
	echo "    skipped (VPG_SKIP_BUILD=1): using the installed $($PG_CONFIG --pkglibdir)/vectorpg.so"
else
	vpg_build_install
	echo "    installed into $($PG_CONFIG --pkglibdir)"
fi

step 3/6 "throwaway PostgreSQL $PG_MAJOR cluster"
DEMO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/vectorpg-demo.XXXXXX")
demo_cleanup() {
	local status=$?
	trap - EXIT INT TERM
	vpg_stop_cluster "$DEMO_DIR"
	if [ "$status" -ne 0 ] && [ -f "$DEMO_DIR/server.log" ]; then
		echo "---- last lines of the server log ----" >&2
		tail -n 20 "$DEMO_DIR/server.log" >&2 || true
	fi
	if [ "${VPG_KEEP:-0}" = 1 ]; then
		echo "kept $DEMO_DIR" >&2
	else
		rm -rf "$DEMO_DIR"
	fi
	if [ "$status" -eq 0 ]; then
		printf '\n==> demo finished in %d s\n' $((SECONDS - demo_start))
	else
		printf '\n==> demo FAILED (exit status %d)\n' "$status" >&2
	fi
	exit "$status"
}
trap demo_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The test user runs the server and the Python steps: give it the directory
# and its own copy of the scripts (the checkout may not be readable by it)
mkdir -p "$DEMO_DIR/py"
cp "$VPG_ROOT/test/demo.py" "$VPG_ROOT/test/bench/datasets.py" "$DEMO_DIR/py/"
[ "$(id -u)" -eq 0 ] && chown -R "$(vpg_tester):" "$DEMO_DIR"
chmod 755 "$DEMO_DIR"
vpg_start_cluster "$DEMO_DIR" "${DEMO_SETTINGS[@]}"
echo "    running in $DEMO_DIR (user $(vpg_tester), Unix socket only)"
echo "    settings: ${DEMO_SETTINGS[*]}"

# psql as the test user against the demo cluster; stops on the first error
demo_sql() {
	vpg_as_tester psql -X -q -v ON_ERROR_STOP=1 -h "$DEMO_DIR" -U postgres -d postgres "$@"
}

step 4/6 "load the data"
vpg_as_tester "$PY" "$DEMO_DIR/py/demo.py" load --host "$DEMO_DIR"

step 5/6 "build an index"
# Two hnsw indexes, one per operator the queries below order by.  The graph
# is built in memory (maintenance_work_mem above) and written out once.
demo_sql -c '\timing on' \
	-c 'CREATE INDEX items_l2_idx ON items USING hnsw (embedding vector_l2_ops) WITH (m = 16, ef_construction = 64)' \
	-c 'CREATE INDEX items_cosine_idx ON items USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)' \
	-c '\timing off' \
	-c "SELECT indexrelid::regclass AS index, pg_size_pretty(pg_relation_size(indexrelid)) AS size,
	        (SELECT count(*) FROM hnsw_index_check(indexrelid)) AS problems
	    FROM pg_index WHERE indrelid = 'items'::regclass ORDER BY 1"
# The index is approximate: a query passes when at least this share of its
# rows are in numpy's exact answer (returned rows are always checked)
DEMO_MIN_RECALL=0.6

step 6/6 "nearest-neighbour queries through SQL"
vpg_as_tester "$PY" "$DEMO_DIR/py/demo.py" query --host "$DEMO_DIR" \
	--min-recall "$DEMO_MIN_RECALL"
