#!/bin/sh
# quickstart.sh - install, build, and run Sluice in front of a throwaway Postfix and Redis on loopback
#
# Usage (as root, on Debian 12): contrib/quickstart.sh [--keep]
# Installs the packages Sluice needs, builds it in ./build, then runs
# contrib/quickstart.py, which sends sample mail and shows the result.
# Nothing listens beyond 127.0.0.1; /etc/postfix and the system Redis are
# left alone; everything started is stopped at the end unless --keep.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
"$top/contrib/install-deps.sh"
cd "$top"
[ -x configure ] && [ configure -nt configure.ac ] || autoreconf -fi >/dev/null 2>&1
mkdir -p build && cd build
[ -f Makefile ] && [ config.status -nt "$top/configure" ] || "$top/configure" -q
echo "quickstart: building (make -j2, log in build/make.log)"
make -j2 >make.log 2>&1 || { tail -30 make.log; exit 1; }
exec /usr/bin/python3 "$top/contrib/quickstart.py" "$@"
