# test/lib.sh: shell helpers shared by the README's commands
# (test/demo.sh, test/run-tests.sh) and the benchmark (test/bench/run.sh).
#
# Source it; it defines functions and variables, and runs nothing.
#
#   vpg_need_packages PKG...   install whatever Debian packages are missing
#   vpg_build_install [FLAGS]  build the extension with PG_CFLAGS=FLAGS, install it
#   vpg_make_workdir           copy the tree to a temp dir the test user owns
#   vpg_as_tester CMD...       run CMD as the unprivileged test user
#   vpg_start_cluster DIR      initdb + start a throwaway cluster under DIR
#   vpg_stop_cluster DIR       stop it
#   vpg_huge_pages DIR         huge pages for it, as VPG_HUGE_PAGES says
#
# PostgreSQL refuses to run as root, so when these run as root the tests and
# clusters run as the "postgres" user that Debian's server package creates.

set -euo pipefail

VPG_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_MAJOR=${PG_MAJOR:-15}
# VPG_PG_BIN points the commands at another (copied) PostgreSQL installation,
# so that several checkouts can install and test side by side
PG_BIN=${VPG_PG_BIN:-/usr/lib/postgresql/$PG_MAJOR/bin}
PG_CONFIG=$PG_BIN/pg_config
export PATH="$PG_BIN:$PATH"

# Packages every command needs to build and install the extension
VPG_BUILD_PACKAGES=(build-essential ca-certificates "postgresql-$PG_MAJOR"
	"postgresql-server-dev-$PG_MAJOR" "postgresql-client-$PG_MAJOR"
	libcurl4-openssl-dev libcjson-dev)

# Compiler flags of the test build: warnings are errors, assertions are on
VPG_TEST_CFLAGS="-DUSE_ASSERT_CHECKING -Wall -Wextra -Werror -Wno-unused-parameter -Wno-sign-compare"

vpg_log() { printf '==> %s\n' "$*"; }

vpg_die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# Install the Debian packages among the arguments that are not installed yet.
vpg_need_packages() {
	local missing=() pkg
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' ||
			missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	[ "$(id -u)" -eq 0 ] || vpg_die "missing packages: ${missing[*]} (run as root to install them)"
	vpg_log "installing ${missing[*]}"
	# Debian's server package would create and start a cluster of its own;
	# these commands only ever use throwaway clusters.
	mkdir -p /etc/postgresql-common
	if ! grep -qs '^create_main_cluster' /etc/postgresql-common/createcluster.conf; then
		echo 'create_main_cluster = false' >>/etc/postgresql-common/createcluster.conf
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# Build and install the extension; $1 is PG_CFLAGS (default: none).
vpg_build_install() {
	local cflags=${1:-}
	vpg_log "building vectorpg${cflags:+ with $cflags}"
	make -C "$VPG_ROOT" -s clean >/dev/null
	make -C "$VPG_ROOT" -s PG_CONFIG="$PG_CONFIG" PG_CFLAGS="$cflags" >/dev/null
	if [ -w "$($PG_CONFIG --pkglibdir)" ]; then
		make -C "$VPG_ROOT" -s PG_CONFIG="$PG_CONFIG" install >/dev/null
	else
		vpg_die "cannot write to $($PG_CONFIG --pkglibdir): run as root to install"
	fi
}

# The user that runs PostgreSQL and the tests: never root.
vpg_tester() {
	if [ "$(id -u)" -eq 0 ]; then echo postgres; else id -un; fi
}

# Run a command as the test user, with PostgreSQL's binaries on PATH.
vpg_as_tester() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- env PATH="$PATH" HOME=/tmp LANG=C.UTF-8 "$@"
	else
		"$@"
	fi
}

# Copy the source tree to a fresh directory the test user owns and print its
# path, so tests never write into (or need write access to) the checkout.
vpg_make_workdir() {
	local dir
	dir=$(mktemp -d "${TMPDIR:-/tmp}/vectorpg.XXXXXX")
	tar -C "$VPG_ROOT" --exclude=.git --exclude=tmp_check --exclude=results -cf - . |
		tar -C "$dir" -xf -
	[ "$(id -u)" -eq 0 ] && chown -R postgres: "$dir"
	chmod 755 "$dir"
	echo "$dir"
}

# initdb and start a throwaway cluster in $1 listening only on a Unix socket
# in $1; extra postgresql.conf lines may follow as further arguments.
vpg_start_cluster() {
	local dir=$1; shift
	vpg_as_tester initdb -D "$dir/data" -A trust -U postgres --no-sync >/dev/null
	{
		echo "listen_addresses = ''"
		echo "unix_socket_directories = '$dir'"
		echo "port = 5432"
		local line
		for line in "$@"; do echo "$line"; done
	} | vpg_as_tester tee -a "$dir/data/postgresql.conf" >/dev/null
	vpg_huge_pages "$dir"
	# VPG_SERVER_ENV: NAME=value words for the server's environment (e.g.
	# glibc's MALLOC_* tunables, see doc/benchmarks.md)
	# shellcheck disable=SC2086
	vpg_as_tester env ${VPG_SERVER_ENV:-} pg_ctl -D "$dir/data" -l "$dir/server.log" -w start >/dev/null
}

# Stop a cluster started by vpg_start_cluster, and give back the huge pages
# reserved for it
vpg_stop_cluster() {
	local dir=$1 added total
	if [ -f "$dir/data/postmaster.pid" ]; then
		vpg_as_tester pg_ctl -D "$dir/data" -m fast -w stop >/dev/null || true
	fi
	if [ -f "$dir/huge_pages_added" ]; then
		added=$(cat "$dir/huge_pages_added")
		total=$(cat /proc/sys/vm/nr_hugepages)
		{ echo $((total > added ? total - added : 0)) >/proc/sys/vm/nr_hugepages; } 2>/dev/null || true
		rm -f "$dir/huge_pages_added"
	fi
}

# Huge pages neither in use nor promised to a mapping
vpg_free_huge_pages() {
	awk '/^HugePages_Free:/ {f = $2} /^HugePages_Rsvd:/ {r = $2} END {print f - r}' /proc/meminfo
}

# Huge pages for the shared memory of the cluster in $1 (initdb done, not
# started), as VPG_HUGE_PAGES says:
#   off (or unset)  PostgreSQL's default, huge_pages = try, which on a
#                   machine with none reserved means 4 kB pages;
#   auto            reserve the 2 MB pages the cluster needs (root only, via
#                   vm.nr_hugepages) and set huge_pages = on; where that is
#                   not possible, say so and set huge_pages = off;
#   on              the same, but failing is an error.
# The benchmarks use auto: an index search touches a different 8 kB buffer
# per element it visits, and with 4 kB pages nearly every one of them is a
# TLB miss (doc/benchmarks.md).  What was reserved is given back when the
# cluster is stopped (vpg_stop_cluster).
vpg_huge_pages() {
	local dir=$1 mode=${VPG_HUGE_PAGES:-off} need free total
	case $mode in
		off) return 0 ;;
		on | auto) ;;
		*) vpg_die "VPG_HUGE_PAGES must be off, auto or on, not \"$mode\"" ;;
	esac
	need=$(vpg_as_tester postgres -D "$dir/data" -C shared_memory_size_in_huge_pages)
	free=$(vpg_free_huge_pages)
	total=$(cat /proc/sys/vm/nr_hugepages)
	if [ "$free" -lt "$need" ] && [ "$(id -u)" -eq 0 ] &&
		{ echo $((total + need - free)) >/proc/sys/vm/nr_hugepages; } 2>/dev/null; then
		echo $(($(cat /proc/sys/vm/nr_hugepages) - total)) >"$dir/huge_pages_added"
		free=$(vpg_free_huge_pages)
	fi
	if [ "$free" -ge "$need" ]; then
		vpg_log "huge pages: $need of 2 MB for the cluster in $dir" >&2
		echo "huge_pages = on" | vpg_as_tester tee -a "$dir/data/postgresql.conf" >/dev/null
		return 0
	fi
	[ "$mode" = on ] && vpg_die "cannot reserve $need huge pages (have $free free; run as root)"
	echo "WARNING: could not reserve $need huge pages (have $free free): the cluster uses 4 kB pages" >&2
	echo "huge_pages = off" | vpg_as_tester tee -a "$dir/data/postgresql.conf" >/dev/null
}
