#!/bin/sh
# run-all.sh - the whole test suite: install deps, build in ./build, run unit and integration tests
#
# Usage (as root, from anywhere): tests/run-all.sh
# Environment: SLUICE_CONFIGURE_FLAGS extra flags for configure (CI adds
# --enable-werror); BUILD_DIR (default ./build); PYTEST_ARGS extra pytest
# arguments, e.g. "-k milter". Prints "N passed, N failed" last and exits
# non-zero when anything failed.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$top/build}

"$top/contrib/install-deps.sh" || exit 1
cd "$top" || exit 1
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi >/dev/null 2>&1 || { echo "autoreconf failed"; exit 1; }
mkdir -p "$build" && cd "$build" || exit 1
if [ ! -f Makefile ] || [ "$top/configure" -nt config.status ]; then
	# shellcheck disable=SC2086
	"$top/configure" -q ${SLUICE_CONFIGURE_FLAGS:-} || exit 1
fi
make -j2 >make.log 2>&1 || { tail -40 make.log; echo "build failed"; echo "0 passed, 1 failed"; exit 1; }
make -j2 check >check.log 2>&1
status=$?
exec "$top/tests/summarize.sh" "$build/tests" "$status"
