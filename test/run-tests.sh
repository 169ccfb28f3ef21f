#!/usr/bin/env bash
# test/run-tests.sh: the README's second command, and what .ci/run calls.
#
# Builds the extension with warnings as errors and assertions enabled,
# installs it, and runs the whole suite, pg_regress and then TAP, as an
# unprivileged user on throwaway clusters.  Installs whatever Debian packages
# are missing first.  Prints the runners' summary lines and exits non-zero if
# anything failed; on failure the work directory with its logs is kept.
#
#   bash test/run-tests.sh                      everything
#   PROVE_TESTS=test/t/010_kernels.pl bash test/run-tests.sh   one TAP file
#   VPG_SKIP_BUILD=1 bash test/run-tests.sh     test what is installed
#   VPG_KEEP_WORKDIR=1 bash test/run-tests.sh   keep the logs even on success

source "$(dirname "$0")/lib.sh"

# The fake Pinecone/Milvus servers need python3 with numpy; their tests need
# openssl (TLS check) and HTTP::Tiny's TLS (libio-socket-ssl-perl);
# the SDK conformance test needs node and npm (Debian's, unless a node is
# already installed, e.g. from nodesource)
test_packages=(libipc-run-perl python3 python3-numpy openssl libio-socket-ssl-perl)
command -v node >/dev/null && command -v npm >/dev/null || test_packages+=(nodejs npm)
vpg_need_packages "${VPG_BUILD_PACKAGES[@]}" "${test_packages[@]}"
[ -n "${VPG_SKIP_BUILD:-}" ] || vpg_build_install "$VPG_TEST_CFLAGS"

workdir=$(vpg_make_workdir)
status=0
started=$SECONDS

vpg_log "pg_regress suite"
if ! vpg_as_tester make -C "$workdir" -s installcheck 2>&1 | tee "$workdir/regress.log" |
	grep -E '^(test |ok |not ok |# |=+|.*tests? (passed|failed))|^ *[0-9]+ of [0-9]+ tests' ; then
	:
fi
if ! grep -qE 'All [0-9]+ tests passed' "$workdir/regress.log"; then
	status=1
	vpg_log "pg_regress failed; differences:"
	head -n 300 "$workdir/regression.diffs" 2>/dev/null || tail -n 50 "$workdir/regress.log"
fi

vpg_log "TAP suite"
prove_args=()
[ -n "${PROVE_TESTS:-}" ] && prove_args+=("PROVE_TESTS=$PROVE_TESTS")
if ! vpg_as_tester make -C "$workdir" -s prove_installcheck PROVE_FLAGS="--timer" "${prove_args[@]}" 2>&1 |
	tee "$workdir/tap.log"; then
	status=1
fi
grep -q '^Result: PASS' "$workdir/tap.log" || status=1

echo
if [ $status -eq 0 ]; then
	vpg_log "all tests passed in $((SECONDS - started)) s"
	if [ -n "${VPG_KEEP_WORKDIR:-}" ]; then
		vpg_log "logs kept in $workdir"
	else
		rm -rf "$workdir"
	fi
else
	vpg_log "FAILED after $((SECONDS - started)) s; logs kept in $workdir (tmp_check/log for TAP)"
	for log in "$workdir"/tmp_check/log/regress_log_*; do
		[ -f "$log" ] || continue
		grep -q 'not ok' "$log" || continue
		# Each failed assertion with what led up to it and its diagnostics
		# (the lines up to the next assertion), then the end of the log
		echo "--- failed assertions in $log"
		awk '/^\[[0-9:.]+\]\([0-9.]+s\) (not )?ok [0-9]+/ { if (show) shown++; show = /not ok/ && !/# TODO/; if (show) print prev }
			show && shown < 10 { print } { prev = $0 }' "$log" | head -n 200
		echo "--- tail of $log"
		tail -n 40 "$log"
	done
fi
exit $status
